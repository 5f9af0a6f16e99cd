//! CTDB configuration, read exactly where and as Samba's ctdbd 4.17 reads it:
//! `ctdb.conf` ([`CtdbConf`]), the nodes file ([`NodesFile`]), the public
//! addresses file ([`PublicAddresses`]), `ctdb.tunables` ([`Tunables`]), the file layout ([`Paths`]) and debug
//! levels ([`DebugLevel`]).
//!
//! One deliberate difference from ctdbd: anything in ctdb.conf that ctdbd
//! would silently ignore or misread (unknown section or option, `7x` read as
//! 7) is an error here, naming file, line and option.

mod ctdb_conf;
mod debug_level;
mod error;
pub mod fuzz;
pub mod ini;
mod log_location;
mod nodes;
mod nodes_source;
mod paths;
pub mod public_addresses;
mod tunables;

pub use ctdb_conf::{ClusterConf, CtdbConf, DatabaseConf, EventConf, FailoverConf, LegacyConf, LoggingConf};
pub use debug_level::DebugLevel;
pub use error::ConfigError;
pub use log_location::{LogLocation, SyslogMode, DEFAULT_LOG_FILE};
pub use nodes::{is_local_address, NodeEntry, NodesFile, CTDB_PORT};
pub use nodes_source::{split_command, NodesSource};
pub use paths::{Paths, DATADIR, ETCDIR, HELPERDIR, RUNDIR, VARDIR};
pub use public_addresses::{
    PublicAddress, PublicAddressWarning, PublicAddresses, PublicAddressesError, PUBLIC_ADDRESSES_FILE,
};
pub use tunables::{SetOutcome, TunableDef, Tunables, UnknownTunable, TUNABLES, TUNABLE_COUNT};
