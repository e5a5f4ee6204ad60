//! A login's rehash (`upgrade_on_login`) with the primary down, on a real replication cluster.
//! A test binary of its own: the rehash verifies a SHA-512-crypt hash, and the equal-time login
//! padding would then make every login of the other replica tests' streams as slow as one.

mod common;

use common::replication::*;
use std::time::Duration;

use vmailsql::password::Scheme;

/// With `upgrade_on_login`, a login whose rehash cannot reach the primary still succeeds (the
/// rehash waits for a later login), and a later login with the primary back rehashes.
#[test]
fn a_login_rehash_without_the_primary_does_not_fail_the_login() {
    let c = cluster();
    let admin = site(&c, "rehash");
    let vmail = reader(&c, "rehash", |config| {
        config.upgrade_on_login = true;
        config.password_scheme = Scheme::Crypt;
    });
    c.ctl(&["kill", "primary"]);
    for _ in 0..3 {
        let mailbox = vmail.authenticate("p2@example.org", &password(2)).unwrap();
        assert_eq!(mailbox.local_part, "p2");
    }
    c.heal();
    std::thread::sleep(RECHECK * 2);
    vmail.authenticate("p2@example.org", &password(2)).unwrap();
    let hash = admin
        .popbox("example.org", "p2")
        .unwrap()
        .password_hash
        .unwrap();
    assert!(hash.starts_with("{crypt}$6$"), "not rehashed: {hash}");
    // The rehash did not pull the handle's lookups to the primary: they return to the first
    // replica at its next review (a handle that had written would stay on the primary).
    wait_for_server(&vmail, "replica1", RECHECK * 10 + Duration::from_secs(5));
}
