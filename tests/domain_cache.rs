//! The domain cache (`domain_cache_max_age`): a handle that has just read a domain reuses its
//! row and catch-all, never a popbox or a forwarder, and nothing older than the bound. Changes
//! are made through a second handle, as another process would make them.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Fixture};
use vmailsql::{ErrorKind, NewDomain, Resolution, Rule};

const MAX_AGE: Duration = Duration::from_millis(1500);

fn rule(r: vmailsql::Result<Resolution>) -> Result<Rule, ErrorKind> {
    r.map(|r| r.rule()).map_err(|e| e.kind())
}

/// A handle caching for [`MAX_AGE`], and a second handle that has added `example.org`.
fn cached_with_example_org(b: Backend) -> (Fixture, vmailsql::Vmail) {
    let fx = Fixture::with(b, |c| c.domain_cache_max_age = Some(MAX_AGE));
    let admin = fx.reopen(|_| {});
    admin
        .add_domain(&NewDomain::new(
            "example.org",
            "/var/mail/example.org",
            "vmail",
        ))
        .unwrap();
    (fx, admin)
}

/// Resolves `address`, whose domain's catch-all was just deleted elsewhere, until the domain
/// row read at `read_at` is [`MAX_AGE`] old: until then the kept catch-all may still answer (or
/// nothing does); after it nothing does.
fn deleted_catch_all_stops_at_the_bound(v: &vmailsql::Vmail, address: &str, read_at: Instant) {
    while read_at.elapsed() < MAX_AGE {
        let answer = rule(v.resolve(address));
        if read_at.elapsed() < MAX_AGE {
            assert!(
                matches!(answer, Ok(Rule::CatchAll) | Err(ErrorKind::NotFound)),
                "{answer:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(rule(v.resolve(address)), Err(ErrorKind::NotFound));
}

fn deleted_rows_stop_resolving_within_the_bound(b: Backend) {
    let (fx, admin) = cached_with_example_org(b);
    admin
        .add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
    admin.add_alias("example.net", "example.org").unwrap();
    admin
        .set_catch_all("example.org", "postmaster@remote.example")
        .unwrap();
    let v = &fx.vmail;
    assert_eq!(v.local_domain("example.net").unwrap(), "example.org");
    let cached_at = Instant::now();
    assert_eq!(rule(v.resolve("alice@example.net")), Ok(Rule::Popbox));
    assert_eq!(rule(v.resolve("alice@example.org")), Ok(Rule::Popbox));

    // A popbox is never kept: deleted, it stops resolving at once (the catch-all takes over).
    admin.delete_popbox("example.org", "alice").unwrap();
    assert_eq!(rule(v.resolve("alice@example.net")), Ok(Rule::CatchAll));

    // The catch-all belongs to the cached domain row: it may live on until the bound, not after.
    admin.delete_forwarder("example.org", "_default_").unwrap();
    deleted_catch_all_stops_at_the_bound(v, "alice@example.net", cached_at);

    // A domain deleted elsewhere: its popboxes go at once, the domain itself within the bound.
    admin
        .add_popbox("example.org", "bob", "pw-secret-1", None)
        .unwrap();
    assert_eq!(rule(v.resolve("bob@example.org")), Ok(Rule::Popbox));
    admin.delete_domain("example.org").unwrap();
    assert_eq!(rule(v.resolve("bob@example.org")), Err(ErrorKind::NotFound));
    std::thread::sleep(MAX_AGE);
    assert_eq!(
        v.local_domain("example.org").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn writes_through_the_handle_and_zero_age_see_everything_at_once(b: Backend) {
    let fx = Fixture::with(b, |c| {
        c.domain_cache_max_age = Some(Duration::from_secs(600))
    });
    let v = &fx.vmail;
    assert_eq!(
        v.local_domain("example.org").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // The handle's own write empties its cache: the negative answer is gone.
    v.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))
    .unwrap();
    v.set_catch_all("example.org", "postmaster@remote.example")
        .unwrap();
    assert_eq!(rule(v.resolve("x@example.org")), Ok(Rule::CatchAll));
    v.delete_forwarder("example.org", "_default_").unwrap();
    assert_eq!(rule(v.resolve("x@example.org")), Err(ErrorKind::NotFound));

    // Age 0: every resolution reads the domain row again.
    let off = fx.reopen(|c| c.domain_cache_max_age = Some(Duration::ZERO));
    let admin = fx.reopen(|_| {});
    assert_eq!(rule(off.resolve("x@example.org")), Err(ErrorKind::NotFound));
    admin
        .set_catch_all("example.org", "postmaster@remote.example")
        .unwrap();
    assert_eq!(rule(off.resolve("x@example.org")), Ok(Rule::CatchAll));
}

/// A domain check that names the address (Exim's routers) reads its route ahead: the next
/// resolution of that address may use it once within the bound, never later and never twice.
fn a_read_ahead_route_is_used_once_and_only_within_the_bound(b: Backend) {
    let (fx, admin) = cached_with_example_org(b);
    for name in ["alice", "bob"] {
        admin
            .add_popbox("example.org", name, "pw-secret-1", None)
            .unwrap();
    }
    let v = &fx.vmail;
    assert_eq!(
        v.local_domain_for("Alice", "Example.ORG").unwrap(),
        "example.org"
    );
    let read_at = Instant::now();
    admin.delete_popbox("example.org", "alice").unwrap();
    let first = rule(v.resolve("alice@example.org"));
    if read_at.elapsed() < MAX_AGE {
        assert_eq!(first, Ok(Rule::Popbox), "the route read with the domain");
    }
    assert_eq!(
        rule(v.resolve("alice@example.org")),
        Err(ErrorKind::NotFound)
    );

    // Past the bound the route read ahead is not used: the popbox is asked for again.
    let fresh = fx.reopen(|c| c.domain_cache_max_age = Some(MAX_AGE));
    fresh.local_domain_for("bob", "example.org").unwrap();
    admin.delete_popbox("example.org", "bob").unwrap();
    std::thread::sleep(MAX_AGE);
    assert_eq!(
        rule(fresh.resolve("bob@example.org")),
        Err(ErrorKind::NotFound)
    );

    // Age 0 keeps nothing; an unknown domain and an impossible local part answer as before.
    let off = fx.reopen(|c| c.domain_cache_max_age = Some(Duration::ZERO));
    admin
        .add_popbox("example.org", "carol", "pw-secret-1", None)
        .unwrap();
    off.local_domain_for("carol", "example.org").unwrap();
    admin.delete_popbox("example.org", "carol").unwrap();
    assert_eq!(
        rule(off.resolve("carol@example.org")),
        Err(ErrorKind::NotFound)
    );
    let unknown = fresh.local_domain_for("carol", "remote.example");
    assert_eq!(unknown.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        fresh.local_domain_for("a\u{1}b", "example.org").unwrap(),
        "example.org"
    );
}

/// A domain check that names an address its forwarder or popbox answers for may leave the
/// catch-all unread (SQLite's probes stop at the first row found). The first resolution that
/// needs the catch-all reads it then, and keeps it only as long as the domain row: reading it
/// later does not extend the bound.
fn a_catch_all_read_after_the_domain_check_lives_no_longer_than_the_row(b: Backend) {
    let (fx, admin) = cached_with_example_org(b);
    admin
        .add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
    admin
        .add_forwarder("example.org", "sales", "boss@remote.example")
        .unwrap();
    admin
        .set_catch_all("example.org", "postmaster@remote.example")
        .unwrap();
    let v = &fx.vmail;
    let read_at = Instant::now();
    assert_eq!(
        v.local_domain_for("alice", "example.org").unwrap(),
        "example.org"
    );
    assert_eq!(rule(v.resolve("alice@example.org")), Ok(Rule::Popbox));
    assert_eq!(rule(v.resolve("sales@example.org")), Ok(Rule::Forwarder));
    std::thread::sleep(MAX_AGE / 2);
    assert_eq!(rule(v.resolve("nobody@example.org")), Ok(Rule::CatchAll));
    admin.delete_forwarder("example.org", "_default_").unwrap();
    // It stops at the bound of the domain row, half a bound before one counted from its read.
    deleted_catch_all_stops_at_the_bound(v, "nobody@example.org", read_at);
    assert_eq!(rule(v.resolve("alice@example.org")), Ok(Rule::Popbox));
}

both_backends!(
    a_catch_all_read_after_the_domain_check_lives_no_longer_than_the_row,
    a_read_ahead_route_is_used_once_and_only_within_the_bound,
    deleted_rows_stop_resolving_within_the_bound,
    writes_through_the_handle_and_zero_age_see_everything_at_once,
);
