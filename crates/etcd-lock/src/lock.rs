//! Taking, keeping and releasing the lock in etcd (see the crate doc for the
//! scheme). Every request is bounded in time; what to do with the results
//! (reply bytes, signals, parent death) is the binary's business.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions, Txn, TxnOp,
    TxnOpResponse,
};
use tokio::time::{timeout_at, Instant};

use crate::{Config, Error};

/// The holder gives the lock up this long before its lease could expire in
/// etcd, so that the daemon has stepped down before another node can take
/// the lock. Our idea of the expiry is already early: it counts the TTL from
/// when we sent the renewal, not from when etcd received it.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// A connection to etcd and a lease granted to this helper: what it needs
/// to try the lock. A lease that no key is attached to holds nothing, so a
/// session that goes away before [`Session::try_lock`] leaves nothing
/// behind but a lease that expires unused.
pub struct Session {
    client: Client,
    lease: i64,
    key: String,
    timeout: Duration,
    /// No earlier than this the lease can expire in etcd.
    valid_until: Instant,
}

/// What [`Session::try_lock`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// We created the key with our lease, at this revision.
    Held {
        /// The key's create revision: a key re-created by someone else
        /// has another one, even with the same value.
        create_revision: i64,
    },
    /// The key exists and is not ours.
    Contended {
        /// The holder's value and lease, for the log.
        holder: String,
    },
}

/// The outcome of a refresh that did not lose the lock.
#[derive(Debug)]
pub enum Refresh {
    /// The lease is renewed and the key is still ours.
    Renewed,
    /// etcd could not be asked (it may be electing a leader): the lock is
    /// still ours until [`Holder::deadline`], and the next refresh tries
    /// again.
    Unconfirmed(Error),
}

/// Why the holder no longer holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Lost(pub String);

impl Session {
    /// Connect to `cfg.endpoints` and grant a lease of `cfg.lock_ttl`, all
    /// within `cfg.timeout`.
    pub async fn open(cfg: &Config) -> Result<Session, Error> {
        let deadline = Instant::now() + cfg.timeout;
        // require_leader: an etcd member cut off from its cluster's leader
        // must refuse, not answer from a stale view. No per-request timeout
        // in the client: ours (`bounded`) is the one that reports '2'.
        let options = ConnectOptions::new().with_connect_timeout(cfg.timeout).with_require_leader(true);
        let mut client =
            bounded(deadline, cfg.timeout, "connect", Client::connect(&cfg.endpoints, Some(options))).await?;
        let sent = Instant::now();
        let ttl = i64::try_from(cfg.lock_ttl.as_secs()).unwrap_or(i64::MAX);
        let grant = bounded(deadline, cfg.timeout, "lease grant", client.lease_grant(ttl, None)).await?;
        if grant.id() == 0 || grant.ttl() <= 0 {
            return Err(Error::Unexpected("lease grant"));
        }
        Ok(Session {
            client,
            lease: grant.id(),
            key: cfg.lock_key(),
            timeout: cfg.timeout,
            valid_until: sent + Duration::from_secs(grant.ttl().unsigned_abs()),
        })
    }

    /// The lease's id.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    /// The lock's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Create the key with our lease unless it exists, in one transaction,
    /// so two nodes racing for it cannot both succeed.
    pub async fn try_lock(&mut self) -> Result<Taken, Error> {
        let deadline = Instant::now() + self.timeout;
        let value = format!("{} pid {} lease {:x}", hostname(), std::process::id(), self.lease);
        let key = self.key.as_bytes().to_vec();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([
                TxnOp::put(key.clone(), value, Some(PutOptions::new().with_lease(self.lease))),
                TxnOp::get(key.clone(), None),
            ])
            .or_else([TxnOp::get(key, None)]);
        let resp = bounded(deadline, self.timeout, "lock transaction", self.client.txn(txn)).await?;
        // Both branches end with a get of the key.
        let kv = resp
            .op_responses()
            .into_iter()
            .filter_map(|r| match r {
                TxnOpResponse::Get(g) => g.kvs().first().cloned(),
                _ => None,
            })
            .next_back();
        if resp.succeeded() {
            let kv = kv.filter(|kv| kv.lease() == self.lease).ok_or(Error::Unexpected("lock transaction"))?;
            return Ok(Taken::Held { create_revision: kv.create_revision() });
        }
        let holder = match kv {
            Some(kv) if kv.lease() == 0 => {
                format!(
                    "{:?} without a lease (it never expires: delete it by hand)",
                    String::from_utf8_lossy(kv.value())
                )
            }
            Some(kv) => format!("{:?} (lease {:x})", String::from_utf8_lossy(kv.value()), kv.lease()),
            // Deleted between the compare and the get cannot happen inside
            // one transaction, but say so rather than guess.
            None => "nobody (the key vanished)".to_string(),
        };
        Ok(Taken::Contended { holder })
    }

    /// Revoke the lease, which deletes the key if we hold it, so the next
    /// node need not wait out the TTL. Best effort, at most `timeout` (and
    /// never more than 2 s: whoever asked us to release is waiting).
    pub async fn release(mut self) -> Result<(), Error> {
        let limit = self.timeout.min(Duration::from_secs(2));
        bounded(Instant::now() + limit, limit, "lease revoke", self.client.lease_revoke(self.lease)).await.map(|_| ())
    }
}

/// The lock, held: renews the lease and checks ownership.
pub struct Holder {
    session: Session,
    create_revision: i64,
    keepalive: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
}

impl Holder {
    /// Hold what `session` took at `create_revision`.
    pub fn new(session: Session, create_revision: i64) -> Holder {
        Holder { session, create_revision, keepalive: None }
    }

    /// The instant by which the lease must have been renewed, or the lock
    /// counts as lost: its possible expiry in etcd less [`EXPIRY_MARGIN`].
    pub fn deadline(&self) -> Instant {
        self.session.valid_until.checked_sub(EXPIRY_MARGIN).unwrap_or(self.session.valid_until)
    }

    /// The session, e.g. to release it.
    pub fn into_session(self) -> Session {
        self.session
    }

    /// One refresh: renew the lease, then check the key is still ours.
    pub async fn refresh(&mut self) -> Result<Refresh, Lost> {
        let now = Instant::now();
        if now >= self.deadline() {
            return Err(Lost("the lease could not be renewed before it expires".into()));
        }
        let deadline = (now + self.session.timeout).min(self.deadline());
        let limit = deadline - now;
        if let Refresh::Unconfirmed(e) = self.renew(deadline, limit).await? {
            // A broken keep-alive stream is opened anew next time.
            self.keepalive = None;
            return Ok(Refresh::Unconfirmed(e));
        }
        let key = self.session.key.clone();
        let got = match bounded(deadline, limit, "ownership check", self.session.client.get(key, None)).await {
            Ok(g) => g,
            Err(e) => return Ok(Refresh::Unconfirmed(e)),
        };
        let Some(kv) = got.kvs().first() else {
            return Err(Lost(format!("key {} was deleted", self.session.key)));
        };
        if kv.lease() != self.session.lease || kv.create_revision() != self.create_revision {
            return Err(Lost(format!(
                "key {} was replaced: now {:?}, lease {:x}, created at revision {} (ours: lease {:x}, revision {})",
                self.session.key,
                String::from_utf8_lossy(kv.value()),
                kv.lease(),
                kv.create_revision(),
                self.session.lease,
                self.create_revision
            )));
        }
        Ok(Refresh::Renewed)
    }

    /// Send one keep-alive and wait for its answer.
    async fn renew(&mut self, deadline: Instant, limit: Duration) -> Result<Refresh, Lost> {
        if self.keepalive.is_none() {
            let lease = self.session.lease;
            match bounded(deadline, limit, "lease keep-alive", self.session.client.lease_keep_alive(lease)).await {
                Ok(k) => self.keepalive = Some(k),
                Err(e) => return Ok(Refresh::Unconfirmed(e)),
            }
        }
        // Just made if it was missing.
        let Some((keeper, stream)) = self.keepalive.as_mut() else {
            return Ok(Refresh::Unconfirmed(Error::Unexpected("lease keep-alive")));
        };
        let sent = Instant::now();
        if let Err(e) = bounded(deadline, limit, "lease keep-alive", keeper.keep_alive()).await {
            return Ok(Refresh::Unconfirmed(e));
        }
        match bounded(deadline, limit, "lease keep-alive", stream.message()).await {
            Ok(Some(r)) if r.ttl() > 0 => {
                self.session.valid_until = sent + Duration::from_secs(r.ttl().unsigned_abs());
                Ok(Refresh::Renewed)
            }
            // etcd answers a keep-alive for a lease it does not know (it
            // expired, or someone revoked it) with TTL 0; its keys are gone.
            Ok(Some(_)) => Err(Lost(format!("lease {:x} expired or was revoked", self.session.lease))),
            Ok(None) => Ok(Refresh::Unconfirmed(Error::Unexpected("lease keep-alive (stream closed)"))),
            Err(e) => Ok(Refresh::Unconfirmed(e)),
        }
    }
}

/// Run `f` until `deadline`; a timeout or a client error becomes [`Error`].
async fn bounded<T>(
    deadline: Instant,
    limit: Duration,
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, Error> {
    match timeout_at(deadline, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(Error::Etcd { what, source }),
        Err(_) => Err(Error::Timeout { what, after: limit }),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown-host".into())
}
