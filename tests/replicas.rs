//! Read replicas with real MariaDB replication: a throw-away primary and two GTID replicas
//! (tests/common/replication.rs), killed, stopped and lagged while lookups and logins run.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::replication::*;
use vmailsql::{Config, ErrorKind, NewDomain, Resolution, Vmail};

/// What a stream of lookups and logins met.
#[derive(Debug, Default)]
struct Tally {
    wrong: usize,
    errors: Vec<String>,
}

/// `total` alternating resolutions and logins of the site's popboxes; `at` runs (in another
/// thread) once `at.0` operations are done, while the stream goes on.
fn stream(vmail: &Vmail, total: usize, at: (usize, &(dyn Fn() + Sync))) -> Tally {
    let done = AtomicUsize::new(0);
    let mut tally = Tally::default();
    std::thread::scope(|s| {
        s.spawn(|| {
            while done.load(Ordering::SeqCst) < at.0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            (at.1)();
        });
        for n in 0..total {
            let i = n % POPBOXES;
            let answer = if n % 2 == 0 {
                vmail
                    .resolve(&format!("p{i}@example.org"))
                    .map(|r| match r {
                        Resolution::Mailbox(m) => m.path == format!("/var/mail/example.org/p{i}"),
                        Resolution::Forward { .. } => false,
                    })
            } else {
                vmail
                    .authenticate(&format!("p{i}@example.org"), &password(i))
                    .map(|m| m.local_part == format!("p{i}"))
            };
            match answer {
                Ok(true) => {}
                Ok(false) => tally.wrong += 1,
                Err(e) => tally.errors.push(format!("{:?}: {e}", e.kind())),
            }
            done.fetch_add(1, Ordering::SeqCst);
        }
    });
    tally
}

/// Lookups and logins go on from the replicas while the primary is killed; writes then fail
/// as temporary within the call's budget, and leave lookups on the replicas.
#[test]
fn lookups_and_logins_survive_the_primary_being_killed() {
    let c = cluster();
    let _admin = site(&c, "killed_primary");
    let vmail = reader(&c, "killed_primary", |_| {});
    assert_eq!(served_by(&vmail), "replica1");
    let tally = stream(
        &vmail,
        10_000,
        (2_000, &|| {
            c.ctl(&["kill", "primary"]);
        }),
    );
    assert_eq!(tally.wrong, 0, "{tally:?}");
    assert!(
        tally.errors.len() <= 1,
        "more than the call in flight failed: {tally:?}"
    );
    println!("primary killed mid-stream: {tally:?}");

    let started = Instant::now();
    let err = vmail
        .add_domain(&NewDomain::new(
            "new.example",
            "/var/mail/new.example",
            "nobody",
        ))
        .unwrap_err();
    let budget = vmail.config().connect_timeout + vmail.config().read_timeout;
    assert_eq!(err.kind(), ErrorKind::Temporary, "{err}");
    assert!(
        started.elapsed() <= budget,
        "{:?} > {budget:?}",
        started.elapsed()
    );
    assert!(!err.to_string().contains("pw-secret"));
    // A replica still answers, though it lost its primary: the last resort beats no answer.
    assert!(served_by(&vmail).starts_with("replica"));
    assert!(matches!(
        vmail.resolve("p3@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
}

/// A replica killed mid-stream: the next one answers, the stream sees no wrong answer and at
/// most the call in flight fails; once it is back (and caught up) it is the first choice again.
#[test]
fn a_killed_replica_is_replaced_by_the_next_and_used_again_when_back() {
    let c = cluster();
    let _admin = site(&c, "killed_replica");
    let vmail = reader(&c, "killed_replica", |_| {});
    assert_eq!(served_by(&vmail), "replica1");
    let tally = stream(
        &vmail,
        10_000,
        (2_000, &|| {
            c.ctl(&["kill", "replica1"]);
        }),
    );
    assert_eq!(tally.wrong, 0, "{tally:?}");
    assert!(
        tally.errors.len() <= 1,
        "more than the call in flight failed: {tally:?}"
    );
    println!("replica1 killed mid-stream: {tally:?}");
    assert_eq!(served_by(&vmail), "replica2");

    c.ctl(&["start", "replica1"]);
    c.sync();
    let back = wait_for_server(&vmail, "replica1", RECHECK * 10 + Duration::from_secs(5));
    println!("replica1 used again {back:?} after it was back");
}

/// A replica whose SQL thread is stopped (replication stopped: lag unknown) is skipped at its
/// next check; started again, it catches up and is used again.
#[test]
fn a_replica_with_stopped_replication_is_skipped_until_it_catches_up() {
    let c = cluster();
    let admin = site(&c, "stopped_sql");
    let vmail = reader(&c, "stopped_sql", |_| {});
    assert_eq!(served_by(&vmail), "replica1");

    c.sql("replica1", "STOP SLAVE SQL_THREAD");
    admin
        .add_popbox("example.org", "fresh", "pw-secret-fresh", None)
        .unwrap();
    c.sync_one("replica2");
    let moved = wait_for_server(&vmail, "replica2", RECHECK * 3 + Duration::from_secs(2));
    println!("stopped replica skipped after {moved:?}");
    for _ in 0..100 {
        assert!(matches!(
            vmail.resolve("fresh@example.org"),
            Ok(Resolution::Mailbox(_))
        ));
    }

    let report = vmailctl_check(&c, "stopped_sql");
    let replicas = report["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2, "{report}");
    assert!(
        replicas[0]["skipped_because"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{report}"
    );
    assert_eq!(
        replicas[1]["skipped_because"],
        serde_json::Value::Null,
        "{report}"
    );
    let warned = report["warnings"].as_array().unwrap().iter().any(|w| {
        w["check"] == "replica-skipped" && w["detail"].as_str().unwrap().contains("replica1")
    });
    assert!(warned, "{report}");

    c.sql("replica1", "START SLAVE SQL_THREAD");
    c.sync();
    wait_for_server(&vmail, "replica1", RECHECK * 10 + Duration::from_secs(5));
    assert!(matches!(
        vmail.resolve("fresh@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
}

/// `vmailctl --json check` with a configuration file that lists the replicas.
fn vmailctl_check(c: &Cluster, db: &str) -> serde_json::Value {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vmailsql.conf");
    let replicas: Vec<String> = REPLICAS.iter().map(|r| c.url(r, db)).collect();
    std::fs::write(
        &file,
        format!(
            "database = {}\nreplicas = {}\n",
            c.url("primary", db),
            replicas.join(" ")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmailctl"))
        .arg("--config")
        .arg(&file)
        .args(["--json", "check"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// A popbox deleted on the primary stops resolving through the replicas within the lag bound
/// plus the recheck interval (here replication is fast: well within).
#[test]
fn a_popbox_deleted_on_the_primary_stops_resolving_on_the_replicas() {
    let c = cluster();
    let admin = site(&c, "deleted");
    let vmail = reader(&c, "deleted", |_| {});
    assert!(matches!(
        vmail.resolve("p5@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
    let started = Instant::now();
    admin.delete_popbox("example.org", "p5").unwrap();
    let bound = MAX_LAG + RECHECK + Duration::from_secs(2);
    loop {
        match vmail.resolve("p5@example.org") {
            Err(e) if e.kind() == ErrorKind::NotFound => break,
            Ok(_) => assert!(started.elapsed() < bound, "still resolves after {bound:?}"),
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "deleted popbox gone from the replicas after {:?}",
        started.elapsed()
    );
    assert!(served_by(&vmail).starts_with("replica"));
}

/// Writes go to the primary; the handle that wrote reads its own writes (from the primary);
/// a handle that only looks up stays on the replicas.
#[test]
fn a_handle_that_wrote_reads_its_own_writes() {
    let c = cluster();
    let _admin = site(&c, "own_writes");
    let writer = reader(&c, "own_writes", |_| {});
    let lookups = reader(&c, "own_writes", |_| {});
    assert_eq!(served_by(&writer), "replica1");
    c.sql("replica1", "STOP SLAVE SQL_THREAD");
    c.sql("replica2", "STOP SLAVE SQL_THREAD");
    writer
        .add_popbox("example.org", "new", "pw-secret-new", None)
        .unwrap();
    assert!(matches!(
        writer.resolve("new@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
    assert_eq!(served_by(&writer), "primary");
    let explicit = reader(&c, "own_writes", |_| {});
    explicit.read_from_primary();
    assert_eq!(served_by(&explicit), "primary");
    // Both replicas are now stale (replication stopped): the lookup handle falls back to the
    // primary at its next check, and returns to the replicas when they replicate again.
    wait_for_server(&lookups, "primary", RECHECK * 3 + Duration::from_secs(2));
    c.heal();
    wait_for_server(&lookups, "replica1", RECHECK * 10 + Duration::from_secs(5));
    assert!(matches!(
        lookups.resolve("new@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
}

/// A primary turned read-only (what a failover leaves behind): every write is temporary and
/// nothing of it is written; lookups carry on. The lookup account needs SLAVE MONITOR to read
/// the lag; without it the replicas are skipped (never trusted blindly).
#[test]
fn a_read_only_primary_makes_writes_temporary_and_writes_nothing() {
    let c = cluster();
    let admin = site(&c, "read_only");
    c.sql(
        "primary",
        "CREATE OR REPLACE USER vmail@localhost IDENTIFIED BY 'vmail-secret'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON read_only.* TO vmail@localhost; \
         GRANT SLAVE MONITOR ON *.* TO vmail@localhost; \
         CREATE OR REPLACE USER blind@localhost IDENTIFIED BY 'blind-secret'; \
         GRANT SELECT ON read_only.* TO blind@localhost",
    );
    c.sync();
    let vmail = reader(&c, "read_only", |config| {
        config.databases = vec![c.url_as("vmail:vmail-secret", "primary", "read_only")];
        config.replicas = REPLICAS
            .iter()
            .map(|r| c.url_as("vmail:vmail-secret", r, "read_only"))
            .collect();
    });
    assert_eq!(served_by(&vmail), "replica1");

    c.sql("primary", "SET GLOBAL read_only = 1");
    let err = vmail.delete_domain("example.org").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Temporary, "{err}");
    let err = vmail
        .add_popbox("example.org", "late", "pw-secret-late", None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Temporary, "{err}");
    assert_eq!(
        admin.popboxes(Some("example.org")).unwrap().len(),
        POPBOXES + 1
    );
    assert!(matches!(
        vmail.resolve("p1@example.org"),
        Ok(Resolution::Mailbox(_))
    ));
    assert_eq!(served_by(&vmail), "replica1");
    c.sql("primary", "SET GLOBAL read_only = 0");
    vmail
        .add_popbox("example.org", "late", "pw-secret-late", None)
        .unwrap();

    let blind = reader(&c, "read_only", |config| {
        config.databases = vec![c.url_as("blind:blind-secret", "primary", "read_only")];
        config.replicas = REPLICAS
            .iter()
            .map(|r| c.url_as("blind:blind-secret", r, "read_only"))
            .collect();
    });
    assert_eq!(served_by(&blind), "primary");
}

#[test]
fn replicas_must_be_mysql_servers() {
    let config = Config {
        replicas: vec!["sqlite:///tmp/x.db".into()],
        ..Config::with_database("mysql://u:Secret@localhost/d")
    };
    let err = Vmail::open(config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("replicas must be mysql://"),
        "{err}"
    );
    let config = Config {
        replicas: vec!["mysql://u@r1/d".into()],
        ..Config::with_database("sqlite:///tmp/x.db")
    };
    let err = Vmail::open(config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("is not one"), "{err}");
    let parsed = Config::parse(
        "database = mysql://u@p/d\nreplicas = mysql://u@r1/d mysql://u@r2/d\n\
         max_replica_lag = 5\nreplica_recheck = 2.5\n",
        "t",
    )
    .unwrap();
    assert_eq!(parsed.replicas.len(), 2);
    assert_eq!(parsed.max_replica_lag, Duration::from_secs(5));
    assert_eq!(parsed.replica_recheck, Duration::from_millis(2500));
}
