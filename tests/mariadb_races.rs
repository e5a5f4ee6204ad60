//! Concurrent changes on a real MariaDB: each of them is atomic against the others.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use vmailsql::{ErrorKind, NewDomain, Vmail};

fn admin(url: &str) -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap()
}

/// A name can become a domain or an alias, never both, however the two calls interleave.
#[test]
fn add_domain_and_add_alias_of_one_name_never_both_succeed() {
    let url = common::fresh_mysql_db();
    let setup = Vmail::open_url(&url).unwrap();
    setup.create_schema().unwrap();
    setup
        .add_domain(&NewDomain::new("base.example", "/m/base", "vmail"))
        .unwrap();
    let domains = Arc::new(Vmail::open_url(&url).unwrap());
    let aliases = Arc::new(Vmail::open_url(&url).unwrap());
    for v in [&domains, &aliases] {
        v.local_domain("base.example").unwrap();
    }
    for round in 0..100 {
        let name = format!("x{round}.example");
        let barrier = Arc::new(Barrier::new(2));
        let (d, b, n) = (domains.clone(), barrier.clone(), name.clone());
        let as_domain = std::thread::spawn(move || {
            b.wait();
            d.add_domain(&NewDomain::new(&n, "/m/x", "vmail"))
        });
        let (a, b, n) = (aliases.clone(), barrier, name.clone());
        let as_alias = std::thread::spawn(move || {
            b.wait();
            a.add_alias(&n, "base.example")
        });
        let results = [as_domain.join().unwrap(), as_alias.join().unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.kind(), ErrorKind::Conflict, "round {round}: {r}");
        }
        let is_domain = setup.domain(&name).is_ok();
        let is_alias = setup.aliases(None).unwrap().iter().any(|a| a.alias == name);
        assert!(
            is_domain != is_alias,
            "round {round}: {name} is both or neither"
        );
    }
}

/// Waits until a statement starting with `prefix` is blocked in the server.
fn wait_for_statement(url: &str, prefix: &str) {
    let mut a = admin(url);
    let started = Instant::now();
    loop {
        let n: u64 = a
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE ?",
                (format!("{prefix}%"),),
            )
            .unwrap()
            .unwrap();
        if n > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{prefix}... never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A session destroyed while it is being validated does not validate: the check and the
/// extension are one step.
#[test]
fn session_destroyed_during_validation_does_not_validate() {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema().unwrap();
    v.add_domain(&NewDomain::new("example.org", "/m", "vmail"))
        .unwrap();
    let token = v.create_session("example.org").unwrap();
    v.validate_session("example.org", &token).unwrap();

    // Sign-out in another process, not yet committed: validation reads the old row (it is
    // still visible), then its extension waits for the sign-out's row lock.
    let mut sign_out = admin(&url);
    sign_out.query_drop("START TRANSACTION").unwrap();
    sign_out
        .query_drop("DELETE FROM web_session WHERE domain_name = 'example.org'")
        .unwrap();
    let validating = {
        let url = url.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            Vmail::open_url(&url)
                .unwrap()
                .validate_session("example.org", &token)
        })
    };
    wait_for_statement(&url, "UPDATE web_session");
    sign_out.query_drop("COMMIT").unwrap();
    let result = validating.join().unwrap();
    assert_eq!(
        result.map_err(|e| e.kind()),
        Err(ErrorKind::AuthFailed),
        "a destroyed session validated once more"
    );
}
