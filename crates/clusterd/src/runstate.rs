//! Runstates, numbered as the legacy protocol reports them (GET_RUNSTATE).

/// The daemon's run state; it only ever increases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Runstate {
    /// Not known.
    Unknown = 0,
    /// Starting; init event.
    Init = 1,
    /// Setup event.
    Setup = 2,
    /// Waiting for the first recovery.
    FirstRecovery = 3,
    /// Startup event.
    Startup = 4,
    /// Serving; monitoring.
    Running = 5,
    /// Stopping.
    Shutdown = 6,
}

impl Runstate {
    /// The name CTDB prints.
    pub fn name(self) -> &'static str {
        match self {
            Runstate::Unknown => "UNKNOWN",
            Runstate::Init => "INIT",
            Runstate::Setup => "SETUP",
            Runstate::FirstRecovery => "FIRST_RECOVERY",
            Runstate::Startup => "STARTUP",
            Runstate::Running => "RUNNING",
            Runstate::Shutdown => "SHUTDOWN",
        }
    }
}
