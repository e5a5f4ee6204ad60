//! Which server a call goes to: the primaries (`database`, every write) and the read servers
//! (`replicas`, lookups), the order they are tried in, and what a handle remembers about the
//! ones that failed or fell behind.
//!
//! Order for a write: the primaries as listed, those found down in the last `replica_recheck`
//! seconds last. Order for a lookup: the replicas as listed (skipping those found down, lagging
//! or stopped lately), then the primaries, then, as a last resort, the replicas that were
//! skipped (a stale answer beats none when the primary is gone too: replicas lose their
//! replication stream exactly when the primary dies).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What a read server says of its replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplicaState {
    /// Not a replica (a Galera node, the primary itself, a plain server): always current.
    NotReplica,
    /// Replicating, this many seconds behind its primary.
    Behind(u64),
    /// Replication is stopped or broken, or its state cannot be read: the lag is unknown.
    Unknown(String),
}

impl ReplicaState {
    /// Why a server in this state must be skipped, or `None` when it may serve lookups.
    pub(crate) fn stale_reason(&self, max_lag: Duration) -> Option<String> {
        match self {
            ReplicaState::NotReplica => None,
            ReplicaState::Behind(s) if Duration::from_secs(*s) <= max_lag => None,
            ReplicaState::Behind(s) => Some(format!(
                "{s} s behind its primary (max_replica_lag {} s)",
                max_lag.as_secs_f32()
            )),
            ReplicaState::Unknown(why) => Some(why.clone()),
        }
    }
}

/// What one read server said when asked (`Vmail::check_replicas`, `vmailctl check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Its URL, with any password hidden.
    pub server: String,
    /// Seconds behind its primary, when it reported them.
    pub lag_seconds: Option<u64>,
    /// Why lookups skip it now (down, too far behind, not replicating, lag unreadable), or
    /// `None` when it may serve them.
    pub skipped_because: Option<String>,
}

impl ReplicaStatus {
    pub(crate) fn of(server: &str, state: crate::Result<ReplicaState>, max_lag: Duration) -> Self {
        let server = crate::config::redact_url(server);
        match state {
            Ok(state) => ReplicaStatus {
                server,
                lag_seconds: match state {
                    ReplicaState::Behind(s) => Some(s),
                    _ => None,
                },
                skipped_because: state.stale_reason(max_lag),
            },
            Err(e) => ReplicaStatus {
                server,
                lag_seconds: None,
                skipped_because: Some(e.to_string()),
            },
        }
    }
}

/// Servers this handle found down, lagging or stopped, each skipped until a moment.
#[derive(Debug, Default)]
pub(crate) struct Health {
    skipped_until: HashMap<String, Instant>,
}

impl Health {
    /// Skips `url` for `period` from now.
    pub(crate) fn skip(&mut self, url: &str, period: Duration) {
        self.skipped_until
            .insert(url.to_string(), Instant::now() + period);
    }

    pub(crate) fn is_skipped(&self, url: &str) -> bool {
        self.skipped_until
            .get(url)
            .is_some_and(|until| *until > Instant::now())
    }

    /// `urls` in order, those not skipped first: a single server is always tried.
    pub(crate) fn order<'a>(&self, urls: &'a [String]) -> Vec<&'a String> {
        let (fresh, skipped): (Vec<_>, Vec<_>) = urls.iter().partition(|u| !self.is_skipped(u));
        fresh.into_iter().chain(skipped).collect()
    }
}

/// One server to try for a lookup, and how to treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Candidate<'a> {
    /// A replica not skipped lately: used if it answers and is current.
    Replica(&'a str),
    /// A primary (from `database`): used if it answers.
    Primary(&'a str),
    /// A replica skipped lately, tried when nothing else answered: used even if stale.
    LastResort(&'a str),
}

/// The servers a lookup tries, in order (see the module comment).
pub(crate) fn read_order<'a>(
    replicas: &'a [String],
    primaries: &'a [String],
    health: &Health,
) -> Vec<Candidate<'a>> {
    let fresh = replicas
        .iter()
        .filter(|u| !health.is_skipped(u))
        .map(|u| Candidate::Replica(u));
    let primary = health
        .order(primaries)
        .into_iter()
        .map(|u| Candidate::Primary(u));
    let last = replicas
        .iter()
        .filter(|u| health.is_skipped(u))
        .map(|u| Candidate::LastResort(u));
    fresh.chain(primary).chain(last).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lookups_try_replicas_then_primaries_then_skipped_replicas() {
        let replicas = urls(&["r1", "r2"]);
        let primaries = urls(&["p1", "p2"]);
        let mut health = Health::default();
        health.skip("r1", Duration::from_secs(60));
        health.skip("p1", Duration::from_secs(60));
        assert_eq!(
            read_order(&replicas, &primaries, &health),
            [
                Candidate::Replica("r2"),
                Candidate::Primary("p2"),
                Candidate::Primary("p1"),
                Candidate::LastResort("r1"),
            ]
        );
    }

    #[test]
    fn a_skip_ends_after_its_period() {
        let mut health = Health::default();
        health.skip("r1", Duration::ZERO);
        assert!(!health.is_skipped("r1"));
        assert_eq!(health.order(&urls(&["r1"])), ["r1"]);
    }

    #[test]
    fn lag_beyond_the_bound_or_unknown_is_stale() {
        let max = Duration::from_secs(30);
        assert_eq!(ReplicaState::NotReplica.stale_reason(max), None);
        assert_eq!(ReplicaState::Behind(30).stale_reason(max), None);
        assert!(ReplicaState::Behind(31).stale_reason(max).is_some());
        assert!(ReplicaState::Unknown("stopped".into())
            .stale_reason(max)
            .is_some());
    }
}
