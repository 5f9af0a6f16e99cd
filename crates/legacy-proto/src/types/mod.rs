//! Control payload types, each with the exact C layout (protocol notes 1.7,
//! 6.8, 6.10).

pub mod addr;
pub mod db;
pub mod ip;
pub mod node;
pub mod srvid;
pub mod stats;
pub mod strings;
pub mod time;
pub mod tunable;
