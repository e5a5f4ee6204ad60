//! Domain rows a handle has just read, reused by the next resolutions in the same domain.
//!
//! Exim checks a domain (`vmailsql_exim_match_domain`) a moment before it routes an address in
//! it, and a daemon resolves many addresses of few domains: with the domain row at hand, a
//! resolution reads only the forwarder, the popbox and, the first time one is needed, the
//! catch-all (kept with the row from then on). Only the domain row, its catch-all and "not a
//! local domain" are kept, never a popbox or a forwarder, so a deleted popbox stops resolving
//! at once. An entry lives at most `domain_cache_max_age`
//! (`0` turns the cache off), is dropped on every write through the handle, and never passes
//! into a forked child: an Exim process starts with an empty cache.
//!
//! The one exception is a read-ahead: a domain check that names the address about to be
//! routed (Exim's routers test the domain list just before the lookup router runs) reads that
//! address's route in the same statement, and the next resolution of that very address takes
//! it instead of asking again. It is used once, under the same age bound, and only the last one
//! is kept.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::store::sql::{CatchAll, DomainRow, RouteRow};

/// Most names remembered (the cache is emptied when full: a bound, not an eviction policy).
const MAX_ENTRIES: usize = 1024;

pub(crate) struct DomainCache {
    max_age: Duration,
    /// The process that filled the cache; a forked child starts afresh.
    pid: u32,
    /// Name as looked up → (when read, the domain it stands for, or `None`: not local).
    entries: HashMap<String, (Instant, Option<DomainRow>)>,
    ahead: Option<ReadAhead>,
}

/// The route of one address, read with its domain for the resolution that follows.
struct ReadAhead {
    domain: String,
    local_part: String,
    read_at: Instant,
    route: RouteRow,
}

impl DomainCache {
    pub(crate) fn new(max_age: Duration) -> DomainCache {
        DomainCache {
            max_age,
            pid: std::process::id(),
            entries: HashMap::new(),
            ahead: None,
        }
    }

    /// `Some(answer)` when `name` was read less than the maximum age ago in this process.
    pub(crate) fn get(&mut self, name: &str) -> Option<Option<DomainRow>> {
        self.forget_if_forked();
        let (at, row) = self.entries.get(name)?;
        (at.elapsed() < self.max_age).then(|| row.clone())
    }

    /// Remembers what the database just said about `name`.
    pub(crate) fn put(&mut self, name: &str, row: Option<DomainRow>, read_at: Instant) {
        if self.max_age.is_zero() {
            return;
        }
        self.forget_if_forked();
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(name.to_string(), (read_at, row));
    }

    /// Records the catch-all of the domain `name` stands for, read by a resolution after the
    /// domain row was kept; the entry keeps its age.
    pub(crate) fn learn_catch_all(&mut self, name: &str, catch_all: &CatchAll) {
        if let Some((_, Some(row))) = self.entries.get_mut(name) {
            if row.catch_all == CatchAll::Unread {
                row.catch_all = catch_all.clone();
            }
        }
    }

    /// Keeps the route of `local_part@domain` (both normalised) for the next
    /// [`take_route`](Self::take_route) of that address; replaces any earlier one.
    pub(crate) fn keep_route(
        &mut self,
        domain: &str,
        local_part: &str,
        route: RouteRow,
        read_at: Instant,
    ) {
        if self.max_age.is_zero() {
            return;
        }
        self.forget_if_forked();
        self.ahead = Some(ReadAhead {
            domain: domain.to_string(),
            local_part: local_part.to_string(),
            read_at,
            route,
        });
    }

    /// The route kept for `local_part@domain` when it is younger than the maximum age; any
    /// kept route is gone afterwards, whichever address it was for.
    pub(crate) fn take_route(&mut self, domain: &str, local_part: &str) -> Option<RouteRow> {
        self.forget_if_forked();
        let ahead = self.ahead.take()?;
        (ahead.domain == domain
            && ahead.local_part == local_part
            && ahead.read_at.elapsed() < self.max_age)
            .then_some(ahead.route)
    }

    /// Forgets everything (after a write through the handle).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.ahead = None;
    }

    fn forget_if_forked(&mut self) {
        let pid = std::process::id();
        if pid != self.pid {
            self.pid = pid;
            self.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Option<DomainRow> {
        Some(DomainRow {
            domain: "example.org".into(),
            ..DomainRow::default()
        })
    }

    #[test]
    fn answers_within_the_age_only() {
        let mut c = DomainCache::new(Duration::from_millis(50));
        assert_eq!(c.get("example.org"), None);
        c.put("example.org", row(), Instant::now());
        c.put("remote.example", None, Instant::now());
        assert_eq!(c.get("example.org"), Some(row()));
        assert_eq!(c.get("remote.example"), Some(None));
        c.put(
            "old.example",
            row(),
            Instant::now() - Duration::from_millis(60),
        );
        assert_eq!(c.get("old.example"), None);
        c.clear();
        assert_eq!(c.get("example.org"), None);
    }

    #[test]
    fn a_catch_all_read_later_is_kept_with_the_entry_and_its_age() {
        let mut c = DomainCache::new(Duration::from_millis(400));
        let read_at = Instant::now() - Duration::from_millis(200);
        c.put("example.org", row(), read_at);
        let forward = CatchAll::Forward("all@x.example".into());
        c.learn_catch_all("example.org", &forward);
        c.learn_catch_all("other.example", &forward);
        let learnt = c.get("example.org").flatten().map(|r| r.catch_all);
        assert_eq!(learnt, Some(forward.clone()));
        assert_eq!(c.get("other.example"), None);
        // Read once, it is not overwritten by what a later resolution was handed.
        c.learn_catch_all("example.org", &CatchAll::Absent);
        let kept = c.get("example.org").flatten().map(|r| r.catch_all);
        assert_eq!(kept, Some(forward));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(
            c.get("example.org"),
            None,
            "it expires when the domain row does"
        );
    }

    #[test]
    fn zero_turns_it_off_and_size_is_bounded() {
        let mut c = DomainCache::new(Duration::ZERO);
        c.put("example.org", row(), Instant::now());
        assert_eq!(c.get("example.org"), None);
        let mut c = DomainCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            c.put(&format!("d{i}.example"), None, Instant::now());
        }
        assert!(c.entries.len() <= MAX_ENTRIES);
    }

    fn route() -> RouteRow {
        RouteRow {
            domain: row().unwrap(),
            mbox_name: Some("alice".into()),
            ..RouteRow::default()
        }
    }

    #[test]
    fn a_read_ahead_serves_its_address_once_within_the_age() {
        let mut c = DomainCache::new(Duration::from_millis(50));
        c.keep_route("example.org", "alice", route(), Instant::now());
        assert!(c.take_route("example.org", "bob").is_none());
        assert!(
            c.take_route("example.org", "alice").is_none(),
            "taken by the miss"
        );
        c.keep_route("example.org", "alice", route(), Instant::now());
        assert!(c.take_route("example.org", "alice").is_some());
        assert!(c.take_route("example.org", "alice").is_none(), "used once");
        let old = Instant::now() - Duration::from_millis(60);
        c.keep_route("example.org", "alice", route(), old);
        assert!(c.take_route("example.org", "alice").is_none());
        c.keep_route("example.org", "alice", route(), Instant::now());
        c.clear();
        assert!(c.take_route("example.org", "alice").is_none());
        let mut off = DomainCache::new(Duration::ZERO);
        off.keep_route("example.org", "alice", route(), Instant::now());
        assert!(off.take_route("example.org", "alice").is_none());
    }

    #[test]
    fn a_forked_child_starts_empty() {
        let mut c = DomainCache::new(Duration::from_secs(60));
        c.put("example.org", row(), Instant::now());
        c.keep_route("example.org", "alice", route(), Instant::now());
        c.pid = c.pid.wrapping_add(1); // as if this were the parent's cache in a child
        assert!(c.take_route("example.org", "alice").is_none());
        assert_eq!(c.get("example.org"), None);
    }
}
