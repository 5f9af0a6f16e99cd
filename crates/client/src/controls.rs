//! Typed wrappers: one method per control, each taking `destnode` and
//! `timeout` and decoding the reply payload.
//!
//! A reply with a failure status becomes [`ClientError::ControlFailed`].
//! Controls that return their value in the status field (PING, GET_PNN,
//! GET_PID, GET_RECMODE) fail only on a negative status.

use std::time::Duration;

use ctdb_legacy_proto::{
    status, CString, DbidMap, IfaceList, NodeMap, Opcode, PidSrvid, PublicIpList, Statistics, StatisticsList, StringN,
    TunableList, TunableSet, Uptime, VarList, VnnMap, Wire,
};

use crate::conn::Client;
use crate::error::ClientError;

impl Client {
    /// Send a control with no flags and return its data if status is 0.
    pub async fn control_ok(
        &self,
        destnode: u32,
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ClientError> {
        let r = self.control(destnode, opcode, 0, 0, data, timeout).await?;
        if r.status != 0 {
            return Err(ClientError::ControlFailed { opcode, status: r.status, errmsg: r.errmsg });
        }
        Ok(r.data)
    }

    /// Send a control whose result is the (non-negative) status.
    pub async fn control_status(
        &self,
        destnode: u32,
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<i32, ClientError> {
        let r = self.control(destnode, opcode, 0, 0, data, timeout).await?;
        if r.status < 0 {
            return Err(ClientError::ControlFailed { opcode, status: r.status, errmsg: r.errmsg });
        }
        Ok(r.status)
    }

    async fn control_typed<T: Wire>(
        &self,
        destnode: u32,
        opcode: Opcode,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let out = self.control_ok(destnode, opcode, data, timeout).await?;
        // Like Samba's reply parsers: read the value, ignore what follows.
        Ok(T::from_prefix(&out)?)
    }

    /// PING: the number of clients connected to `destnode`.
    pub async fn ping(&self, destnode: u32, timeout: Duration) -> Result<i32, ClientError> {
        self.control_status(destnode, Opcode::PING, Vec::new(), timeout).await
    }

    /// GET_PNN: the pnn of `destnode`.
    pub async fn get_pnn(&self, destnode: u32, timeout: Duration) -> Result<u32, ClientError> {
        let s = self.control_status(destnode, Opcode::GET_PNN, Vec::new(), timeout).await?;
        Ok(s.unsigned_abs())
    }

    /// GET_PID: ctdbd's process id.
    pub async fn get_pid(&self, destnode: u32, timeout: Duration) -> Result<i32, ClientError> {
        self.control_status(destnode, Opcode::GET_PID, Vec::new(), timeout).await
    }

    /// GET_RECMODE: [`ctdb_legacy_proto::recmode`] NORMAL or ACTIVE.
    pub async fn get_recmode(&self, destnode: u32, timeout: Duration) -> Result<u32, ClientError> {
        let s = self.control_status(destnode, Opcode::GET_RECMODE, Vec::new(), timeout).await?;
        Ok(s.unsigned_abs())
    }

    /// SET_RECMODE.
    pub async fn set_recmode(&self, destnode: u32, mode: u32, timeout: Duration) -> Result<(), ClientError> {
        self.control_ok(destnode, Opcode::SET_RECMODE, mode.to_bytes(), timeout).await.map(drop)
    }

    /// GET_NODEMAP.
    pub async fn get_nodemap(&self, destnode: u32, timeout: Duration) -> Result<NodeMap, ClientError> {
        self.control_typed(destnode, Opcode::GET_NODEMAP, Vec::new(), timeout).await
    }

    /// GET_NODES_FILE: the node map as read from the nodes file.
    pub async fn get_nodes_file(&self, destnode: u32, timeout: Duration) -> Result<NodeMap, ClientError> {
        self.control_typed(destnode, Opcode::GET_NODES_FILE, Vec::new(), timeout).await
    }

    /// GETVNNMAP.
    pub async fn get_vnnmap(&self, destnode: u32, timeout: Duration) -> Result<VnnMap, ClientError> {
        self.control_typed(destnode, Opcode::GETVNNMAP, Vec::new(), timeout).await
    }

    /// GET_RUNSTATE: a [`ctdb_legacy_proto::runstate`] value.
    pub async fn get_runstate(&self, destnode: u32, timeout: Duration) -> Result<u32, ClientError> {
        self.control_typed(destnode, Opcode::GET_RUNSTATE, Vec::new(), timeout).await
    }

    /// GET_CAPABILITIES: [`ctdb_legacy_proto::caps`] bits.
    pub async fn get_capabilities(&self, destnode: u32, timeout: Duration) -> Result<u32, ClientError> {
        self.control_typed(destnode, Opcode::GET_CAPABILITIES, Vec::new(), timeout).await
    }

    /// UPTIME.
    pub async fn uptime(&self, destnode: u32, timeout: Duration) -> Result<Uptime, ClientError> {
        self.control_typed(destnode, Opcode::UPTIME, Vec::new(), timeout).await
    }

    /// STATISTICS.
    pub async fn statistics(&self, destnode: u32, timeout: Duration) -> Result<Statistics, ClientError> {
        self.control_typed(destnode, Opcode::STATISTICS, Vec::new(), timeout).await
    }

    /// STATISTICS_RESET.
    pub async fn statistics_reset(&self, destnode: u32, timeout: Duration) -> Result<(), ClientError> {
        self.control_ok(destnode, Opcode::STATISTICS_RESET, Vec::new(), timeout).await.map(drop)
    }

    /// GET_STAT_HISTORY.
    pub async fn get_stat_history(&self, destnode: u32, timeout: Duration) -> Result<StatisticsList, ClientError> {
        self.control_typed(destnode, Opcode::GET_STAT_HISTORY, Vec::new(), timeout).await
    }

    /// GET_TUNABLE; an unknown name is [`ClientError::NoSuchTunable`].
    pub async fn get_tunable(&self, destnode: u32, name: &str, timeout: Duration) -> Result<u32, ClientError> {
        let data = StringN::from(name).to_bytes();
        let r = self.control(destnode, Opcode::GET_TUNABLE, 0, 0, data, timeout).await?;
        match r.status {
            0 => Ok(u32::from_prefix(&r.data)?),
            status::NO_SUCH_TUNABLE => Err(ClientError::NoSuchTunable(name.to_owned())),
            s => Err(ClientError::ControlFailed { opcode: Opcode::GET_TUNABLE, status: s, errmsg: r.errmsg }),
        }
    }

    /// SET_TUNABLE: returns the status, 0 or 1 ([`status::OBSOLETE_TUNABLE`]:
    /// stored, but the tunable is obsolete). -1 (unknown name or bad value)
    /// is an error.
    pub async fn set_tunable(
        &self,
        destnode: u32,
        name: &str,
        value: u32,
        timeout: Duration,
    ) -> Result<i32, ClientError> {
        let data = TunableSet { value, name: name.to_owned() }.to_bytes();
        self.control_status(destnode, Opcode::SET_TUNABLE, data, timeout).await
    }

    /// LIST_TUNABLES: names of the non-obsolete tunables.
    pub async fn list_tunables(&self, destnode: u32, timeout: Duration) -> Result<Vec<String>, ClientError> {
        let l: VarList = self.control_typed(destnode, Opcode::LIST_TUNABLES, Vec::new(), timeout).await?;
        Ok(l.names)
    }

    /// GET_ALL_TUNABLES.
    pub async fn get_all_tunables(&self, destnode: u32, timeout: Duration) -> Result<TunableList, ClientError> {
        self.control_typed(destnode, Opcode::GET_ALL_TUNABLES, Vec::new(), timeout).await
    }

    /// GET_DEBUG: the log level ([`ctdb_legacy_proto::debug`]).
    pub async fn get_debug(&self, destnode: u32, timeout: Duration) -> Result<i32, ClientError> {
        self.control_typed(destnode, Opcode::GET_DEBUG, Vec::new(), timeout).await
    }

    /// SET_DEBUG.
    pub async fn set_debug(&self, destnode: u32, level: i32, timeout: Duration) -> Result<(), ClientError> {
        self.control_ok(destnode, Opcode::SET_DEBUG, level.to_bytes(), timeout).await.map(drop)
    }

    /// GET_IFACES.
    pub async fn get_ifaces(&self, destnode: u32, timeout: Duration) -> Result<IfaceList, ClientError> {
        self.control_typed(destnode, Opcode::GET_IFACES, Vec::new(), timeout).await
    }

    /// GET_PUBLIC_IPS; `flags` may be
    /// [`ctdb_legacy_proto::ctrl_flags::ONLY_AVAILABLE_IPS`].
    pub async fn get_public_ips(
        &self,
        destnode: u32,
        flags: u32,
        timeout: Duration,
    ) -> Result<PublicIpList, ClientError> {
        let r = self.control(destnode, Opcode::GET_PUBLIC_IPS, 0, flags, Vec::new(), timeout).await?;
        if r.status != 0 {
            return Err(ClientError::ControlFailed {
                opcode: Opcode::GET_PUBLIC_IPS,
                status: r.status,
                errmsg: r.errmsg,
            });
        }
        Ok(PublicIpList::from_prefix(&r.data)?)
    }

    /// GET_DBMAP.
    pub async fn get_dbmap(&self, destnode: u32, timeout: Duration) -> Result<DbidMap, ClientError> {
        self.control_typed(destnode, Opcode::GET_DBMAP, Vec::new(), timeout).await
    }

    /// GET_RECLOCK_FILE: `None` when no cluster lock is configured.
    pub async fn get_reclock_file(&self, destnode: u32, timeout: Duration) -> Result<Option<String>, ClientError> {
        let s: CString = self.control_typed(destnode, Opcode::GET_RECLOCK_FILE, Vec::new(), timeout).await?;
        Ok(Some(s.0).filter(|s| !s.is_empty()))
    }

    /// PROCESS_EXISTS: whether a client with this pid is connected to
    /// `destnode`.
    pub async fn process_exists(&self, destnode: u32, pid: i32, timeout: Duration) -> Result<bool, ClientError> {
        let r = self.control(destnode, Opcode::PROCESS_EXISTS, 0, 0, pid.to_bytes(), timeout).await?;
        Ok(r.status == 0)
    }

    /// CHECK_PID_SRVID: whether a client with this pid has registered
    /// `srvid` on `destnode`.
    pub async fn check_pid_srvid(
        &self,
        destnode: u32,
        pid: i32,
        srvid: u64,
        timeout: Duration,
    ) -> Result<bool, ClientError> {
        let data = PidSrvid { pid, srvid }.to_bytes();
        let r = self.control(destnode, Opcode::CHECK_PID_SRVID, 0, 0, data, timeout).await?;
        Ok(r.status == 0)
    }

    /// SHUTDOWN. With `noreply` the control is only sent, as the `ctdb`
    /// tool does (it then waits for the socket to close, see
    /// [`Client::is_closed`] / [`Client::next_message`] returning `None`);
    /// otherwise we wait for the reply, and the daemon closing the
    /// connection first also counts as success.
    pub async fn shutdown(&self, destnode: u32, noreply: bool, timeout: Duration) -> Result<(), ClientError> {
        if noreply {
            return self.control_noreply(destnode, Opcode::SHUTDOWN, 0, Vec::new()).await;
        }
        match self.control_ok(destnode, Opcode::SHUTDOWN, Vec::new(), timeout).await {
            Ok(_) | Err(ClientError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
