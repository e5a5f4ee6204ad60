//! A 2002 site's MyISAM tables: no transactions, so `FOR UPDATE` locks nothing and a failure
//! half-way keeps half a change. Lookups keep working; changes that need a transaction are
//! refused, naming the tables and the fix, until `vmailctl migrate --innodb` converts them.

mod common;

use std::process::Command;
use std::sync::{Arc, Barrier};

use mysql::prelude::Queryable;
use vmailsql::{ErrorKind, Resolution, SchemaKind, Vmail};

const BIN: &str = env!("CARGO_BIN_EXE_vmailctl");

fn raw(url: &str, sql: &str) {
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
        conn.query_drop(stmt).unwrap();
    }
}

/// The seed's schema on MyISAM, with example.org (max_popbox 5) and alice, as the seed's own
/// scripts left it.
fn myisam_site() -> (Vmail, String) {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema_of(SchemaKind::Legacy).unwrap();
    for table in [
        "domain",
        "forwarder",
        "popbox",
        "domain_alias",
        "web_session",
    ] {
        raw(&url, &format!("ALTER TABLE {table} ENGINE = MyISAM"));
    }
    raw(
        &url,
        "INSERT INTO domain VALUES ('example.org','vmail',NULL,'/var/mail/example.org',5); \
         INSERT INTO popbox VALUES ('example.org','alice','{plaintext}alice-pw','alice')",
    );
    (Vmail::open_url(&url).unwrap(), url)
}

/// 8 handles add 4 popboxes each at once; returns how many were created and every error.
fn race(url: &str) -> (usize, Vec<vmailsql::Error>) {
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (url, barrier) = (url.to_string(), barrier.clone());
            std::thread::spawn(move || {
                let v = Vmail::open_url(&url).unwrap();
                v.local_domain("example.org").unwrap();
                barrier.wait();
                (0..4)
                    .filter_map(|i| {
                        v.add_popbox("example.org", &format!("w{w}n{i}"), "pw-secret-1", None)
                            .err()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let errors: Vec<vmailsql::Error> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let v = Vmail::open_url(url).unwrap();
    let created = v.popboxes(Some("example.org")).unwrap().len() - 1;
    (created, errors)
}

#[test]
fn changes_on_myisam_are_refused_until_converted() {
    let (v, url) = myisam_site();
    // lookups and logins work on MyISAM
    match v.resolve("alice@example.org").unwrap() {
        Resolution::Mailbox(m) => assert_eq!(m.path, "/var/mail/example.org/alice"),
        other => panic!("{other:?}"),
    }
    v.authenticate("alice@example.org", "alice-pw").unwrap();
    // a change of one statement is atomic on any engine
    v.set_popbox_password("example.org", "alice", "new-pw-long")
        .unwrap();
    v.authenticate("alice@example.org", "new-pw-long").unwrap();

    // the seed's race: the limit of 5 would not hold without transactions
    let (created, errors) = race(&url);
    assert_eq!(created, 0, "{errors:?}");
    assert_eq!(errors.len(), 32);
    for e in &errors {
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        let text = e.to_string();
        assert!(text.contains("popbox (MyISAM)"), "{text}");
        assert!(text.contains("vmailctl migrate --innodb"), "{text}");
    }
    // a delete of many rows, which a crash would leave half done, is refused before it starts
    let values: Vec<String> = (0..2000)
        .map(|i| format!("('example.org','u{i}','x','u{i}')"))
        .collect();
    raw(
        &url,
        &format!("INSERT INTO popbox VALUES {}", values.join(",")),
    );
    let e = v.delete_domain("example.org").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert_eq!(v.popboxes(Some("example.org")).unwrap().len(), 2001);
    assert!(v.domain("example.org").is_ok());
    raw(&url, "DELETE FROM popbox WHERE local_part LIKE 'u%'");

    // converting keeps the legacy schema and every row
    assert_eq!(v.convert_to_innodb(true).unwrap().len(), 5);
    let converted = v.convert_to_innodb(false).unwrap();
    assert_eq!(converted.len(), 5, "{converted:?}");
    assert!(v
        .table_engines()
        .unwrap()
        .iter()
        .all(|t| t.engine == "InnoDB"));
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    v.authenticate("alice@example.org", "new-pw-long").unwrap();
    // the same race now stops at the limit exactly
    let (created, errors) = race(&url);
    assert_eq!(created, 4, "one popbox existed: 5 in all; {errors:?}");
    assert!(errors.iter().all(|e| e.kind() == ErrorKind::LimitExceeded));
    v.delete_domain("example.org").unwrap();
}

fn vmailctl(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["--database", url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn vmailctl_reports_and_converts_the_engine() {
    let (_v, url) = myisam_site();
    let (code, out, err) = vmailctl(&url, &["--json", "check"]);
    assert_eq!(code, 1, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["summary"]["engines"]["popbox"], "MyISAM", "{out}");
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["check"] == "no-transactions"),
        "{out}"
    );
    let (code, out, err) = vmailctl(&url, &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("tables MyISAM"), "{out}");

    let (code, out, err) = vmailctl(
        &url,
        &[
            "domain",
            "add",
            "new.example",
            "--path",
            "/m/new",
            "--user",
            "vmail",
        ],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("vmailctl migrate --innodb"), "{err}");

    let (code, out, err) = vmailctl(&url, &["migrate", "--innodb", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("would convert to InnoDB"), "{out}");
    let (code, out, err) = vmailctl(&url, &["migrate", "--innodb"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("converted to InnoDB: domain"), "{out}");
    let (code, out, err) = vmailctl(&url, &["check"]);
    assert!(
        out.contains("legacy schema on mysql, tables InnoDB"),
        "{code} {out}{err}"
    );
    assert!(!out.contains("no-transactions"), "{out}");

    // `vmailctl migrate` moves a MyISAM legacy site to the recommended schema, all InnoDB
    let (v, url) = myisam_site();
    let (code, out, err) = vmailctl(&url, &["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Recommended));
    assert!(v.table_engines().unwrap().iter().all(|t| t.transactional));
    v.add_popbox("example.org", "bob", "pw-secret-1", None)
        .unwrap();
}

/// A server of this test's own, which it kills with SIGKILL and starts again on the same data.
struct OwnServer {
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl OwnServer {
    fn start() -> OwnServer {
        let dir = tempfile::Builder::new()
            .prefix("vmailsql-kill9")
            .tempdir()
            .unwrap();
        // A private TMPDIR: installs running at the same time share nothing.
        let out = Command::new("mariadb-install-db")
            .env("TMPDIR", dir.path())
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg("--auth-root-authentication-method=normal")
            .arg(format!("--datadir={}/data", dir.path().display()))
            .output()
            .expect("mariadb-install-db (apt-get install mariadb-server)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = OwnServer { dir, child: None };
        server.run();
        server
    }

    fn base_url(&self) -> String {
        format!(
            "mysql://root@localhost/?socket={}/sock",
            self.dir.path().display()
        )
    }

    fn run(&mut self) {
        let d = self.dir.path().display();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={d}/data"))
            .arg(format!("--socket={d}/sock"))
            .args(["--skip-networking", "--user=root", "--skip-log-bin"])
            .args([
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
            ])
            .arg(format!("--log-error={d}/data/err"))
            .spawn()
            .expect("mariadbd (apt-get install mariadb-server)");
        self.child = Some(child);
        let admin = common::with_db(&self.base_url(), "mysql");
        for _ in 0..1200 {
            if mysql::Conn::new(mysql::Opts::from_url(&admin).unwrap()).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("mariadbd did not start; see {d}/data/err");
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn scalar(url: &str, sql: &str) -> u64 {
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    conn.query_first(sql).unwrap().unwrap()
}

/// `kill -9` of the server while `vmailctl domain delete` runs: on MyISAM the delete is
/// refused before it starts; converted to InnoDB it is all or nothing.
#[test]
fn server_killed_during_domain_delete_leaves_all_or_nothing() {
    let mut server = OwnServer::start();
    let url = common::with_db(&server.base_url(), "vmail");
    raw(
        &common::with_db(&server.base_url(), "mysql"),
        "CREATE DATABASE vmail",
    );
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema_of(SchemaKind::Legacy).unwrap();
    for table in [
        "domain",
        "forwarder",
        "popbox",
        "domain_alias",
        "web_session",
    ] {
        raw(&url, &format!("ALTER TABLE {table} ENGINE = MyISAM"));
    }
    raw(
        &url,
        "INSERT INTO domain VALUES ('example.org','vmail',NULL,'/m',NULL)",
    );
    let rows = 100_000;
    for chunk in 0..(rows / 10_000) {
        let values: Vec<String> = (0..10_000)
            .map(|i| format!("('example.org','u{chunk}x{i}','x','u{chunk}x{i}')"))
            .collect();
        raw(
            &url,
            &format!("INSERT INTO popbox VALUES {}", values.join(",")),
        );
    }
    let count = || scalar(&url, "SELECT COUNT(*) FROM popbox");
    let (code, out, err) = vmailctl(&url, &["domain", "delete", "example.org", "--yes"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("popbox (MyISAM)"), "{err}");
    assert_eq!(count(), rows);

    v.convert_to_innodb(false).unwrap();
    let mut delete = Command::new(BIN)
        .args([
            "--database",
            &url,
            "domain",
            "delete",
            "example.org",
            "--yes",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // kill the server once the delete has started on the popboxes
    let watch = common::with_db(&server.base_url(), "mysql");
    let mut seen = false;
    for _ in 0..2000 {
        let running = scalar(
            &watch,
            "SELECT COUNT(*) FROM information_schema.processlist \
             WHERE info LIKE 'DELETE FROM popbox%'",
        );
        if running > 0 {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.kill9();
    let _ = delete.wait();
    assert!(seen, "the delete never reached the popboxes");
    server.run();
    let domains = scalar(&url, "SELECT COUNT(*) FROM domain");
    let popboxes = count();
    assert!(
        (domains, popboxes) == (1, rows) || (domains, popboxes) == (0, 0),
        "half a delete: {domains} domain rows, {popboxes} popboxes"
    );
}
