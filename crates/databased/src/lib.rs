//! databased: the clustered databases of ctdb-rs.
//!
//! Local stores are Samba TDB files opened through libtdb exactly as Samba
//! expects ([`tdb_store`]); the logic — attach, record migration between
//! nodes, traverse, recovery and vacuuming — is the sans-IO [`core`],
//! which works against the [`store::Store`] trait so that unit tests and
//! the simulation run it on in-memory stores. [`shell`] runs it as a
//! service of the daemon.

pub mod core;
pub mod hash;
pub mod shell;
pub mod store;
pub mod tdb_store;

pub use crate::core::{lmaster_of, Databased, Db, DbStats, INVALID_GENERATION};
pub use shell::DatabasedService;
pub use tdb_store::{TdbBackend, TdbBackendConfig};
