//! Client library for the legacy protocol.
