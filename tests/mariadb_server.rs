//! What a real MariaDB server does to a handle: stopped (SIGSTOP), connections ended under it,
//! the errors an overloaded or read-only server answers, and accounts with other authentication
//! plugins. This binary has its own throw-away server and changes its global settings, so its
//! tests run one at a time.

mod common;

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use vmailsql::{Config, ErrorKind, NewDomain, Vmail};

/// One test at a time: they stop the server and change its global variables.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn admin(url: &str) -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap()
}

/// A fresh database with the recommended schema and example.org.
fn site() -> String {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema().unwrap();
    v.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))
    .unwrap();
    url
}

/// `url` logged in as `user:password` instead of root.
fn as_user(url: &str, user: &str, password: &str) -> String {
    url.replacen("mysql://root@", &format!("mysql://{user}:{password}@"), 1)
}

/// Creates `user@localhost` with all rights on the database of `url`, authenticated `how`.
fn account(url: &str, user: &str, how: &str) {
    let db = common::db_name(url);
    let mut a = admin(url);
    a.query_drop(format!("DROP USER IF EXISTS '{user}'@'localhost'"))
        .unwrap();
    a.query_drop(format!("CREATE USER '{user}'@'localhost' {how}"))
        .unwrap();
    a.query_drop(format!("GRANT ALL ON {db}.* TO '{user}'@'localhost'"))
        .unwrap();
}

#[track_caller]
fn kind<T: std::fmt::Debug>(r: vmailsql::Result<T>) -> (ErrorKind, String) {
    let e = r.unwrap_err();
    (e.kind(), e.to_string())
}

/// The harness's own mariadbd, stopped with SIGSTOP until dropped (SIGCONT even on panic).
struct Stopped(String);

impl Stopped {
    fn server() -> Stopped {
        let socket = common::mariadb().socket.as_ref().expect(
            "this test stops the server with SIGSTOP: it needs the harness's own mariadbd \
             (unset VMAILSQL_TEST_MYSQL_URL)",
        );
        let pid_file = socket.parent().unwrap().join("data/pid");
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
            .trim()
            .to_string();
        assert!(Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success());
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

fn short_timeouts(urls: &[&str]) -> Config {
    let mut config = Config::with_database(urls[0]);
    config.databases = urls.iter().map(|u| u.to_string()).collect();
    config.connect_timeout = Duration::from_secs(1);
    config.read_timeout = Duration::from_secs(2);
    config
}

/// What the budget allows (connect_timeout + read_timeout = 3 s), with room for a loaded
/// machine; the old behaviour took 4 s on a held connection and 9 s with three URLs.
const BUDGET_BOUND: Duration = Duration::from_millis(3800);

#[test]
fn stopped_server_costs_one_budget_per_call() {
    let _serial = serial();
    let url = site();
    let held = Vmail::open(short_timeouts(&[&url])).unwrap();
    held.local_domain("example.org").unwrap();
    let three = Vmail::open(short_timeouts(&[&url, &url, &url])).unwrap();
    let writer = Vmail::open(short_timeouts(&[&url])).unwrap();
    writer.local_domain("example.org").unwrap();
    {
        let _stopped = Stopped::server();
        for (what, v) in [("held connection", &held), ("three URLs", &three)] {
            let started = Instant::now();
            let (k, msg) = kind(v.resolve("alice@example.org"));
            assert_eq!(k, ErrorKind::Temporary, "{what}: {msg}");
            assert!(
                started.elapsed() < BUDGET_BOUND,
                "{what}: took {:?}",
                started.elapsed()
            );
        }
        // A write whose BEGIN got no answer is reported, not retried.
        let started = Instant::now();
        let (k, msg) = kind(writer.add_domain(&NewDomain::new("new.example", "/m", "vmail")));
        assert_eq!(k, ErrorKind::Temporary, "{msg}");
        assert!(started.elapsed() < BUDGET_BOUND, "{:?}", started.elapsed());
    }
    // The server runs again: every handle recovers, and the unanswered write never happened.
    assert_eq!(held.local_domain("example.org").unwrap(), "example.org");
    assert_eq!(three.local_domain("example.org").unwrap(), "example.org");
    let (k, msg) = kind(writer.domain("new.example"));
    assert_eq!(k, ErrorKind::NotFound, "{msg}");
    writer
        .add_domain(&NewDomain::new("new.example", "/m", "vmail"))
        .unwrap();
}

/// Ends every connection of the site's database but the caller's, as a server restart or
/// `wait_timeout` does.
fn end_connections(url: &str) {
    let mut a = admin(url);
    let ids: Vec<u64> = a
        .query(
            "SELECT id FROM information_schema.processlist \
             WHERE id <> CONNECTION_ID() AND db = DATABASE()",
        )
        .unwrap();
    assert!(!ids.is_empty());
    for id in &ids {
        // a connection that ended meanwhile is "unknown thread" (1094): fine
        if let Err(e) = a.query_drop(format!("KILL {id}")) {
            assert!(e.to_string().contains("1094"), "{e}");
        }
    }
    // KILL returns before the connection is closed: wait until it is gone
    let started = Instant::now();
    for id in ids {
        while a
            .exec_first::<u64, _, _>(
                "SELECT id FROM information_schema.processlist WHERE id = ?",
                (id,),
            )
            .unwrap()
            .is_some()
        {
            assert!(started.elapsed() < Duration::from_secs(30), "{id} lives on");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn first_write_after_the_connection_ended_goes_to_a_fresh_one() {
    let _serial = serial();
    let url = site();
    let v = Vmail::open_url(&url).unwrap();
    v.local_domain("example.org").unwrap();
    end_connections(&url);
    v.add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
    assert_eq!(v.popboxes(Some("example.org")).unwrap().len(), 1);
    // and once more, now through the transaction of a delete
    end_connections(&url);
    v.delete_popbox("example.org", "alice").unwrap();
    assert!(v.popboxes(Some("example.org")).unwrap().is_empty());
}

#[test]
fn read_only_server_is_temporary() {
    let _serial = serial();
    let url = site();
    account(&url, "vm_ro", "IDENTIFIED BY 'pw'");
    let v = Vmail::open_url(&as_user(&url, "vm_ro", "pw")).unwrap();
    let mut a = admin(&url);
    a.query_drop("SET GLOBAL read_only = 1").unwrap();
    let result = v.add_domain(&NewDomain::new("ro.example", "/m", "vmail"));
    a.query_drop("SET GLOBAL read_only = 0").unwrap();
    let (k, msg) = kind(result);
    assert_eq!(k, ErrorKind::Temporary, "{msg}");
    assert!(msg.contains("1290"), "{msg}");
    // lookups never needed to write
    v.add_domain(&NewDomain::new("ro.example", "/m", "vmail"))
        .unwrap();
}

#[test]
fn connection_limit_is_temporary() {
    let _serial = serial();
    let url = site();
    // the account's own limit (1226)
    account(
        &url,
        "vm_limited",
        "IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1",
    );
    let limited = as_user(&url, "vm_limited", "pw");
    let first = Vmail::open_url(&limited).unwrap();
    first.local_domain("example.org").unwrap();
    let (k, msg) = kind(
        Vmail::open_url(&limited)
            .unwrap()
            .local_domain("example.org"),
    );
    assert_eq!(k, ErrorKind::Temporary, "{msg}");
    assert!(msg.contains("1226"), "{msg}");
}

#[test]
fn lock_wait_timeout_is_temporary() {
    let _serial = serial();
    let url = site();
    let mut a = admin(&url);
    let old: u64 = a
        .query_first("SELECT @@GLOBAL.innodb_lock_wait_timeout")
        .unwrap()
        .unwrap();
    a.query_drop("SET GLOBAL innodb_lock_wait_timeout = 1")
        .unwrap();
    let v = Vmail::open_url(&url).unwrap();
    let mut holder = admin(&url);
    holder.query_drop("START TRANSACTION").unwrap();
    holder
        .query_drop("SELECT * FROM domain WHERE domain_name = 'example.org' FOR UPDATE")
        .unwrap();
    let result = v.add_popbox("example.org", "alice", "pw-secret-1", None);
    holder.query_drop("ROLLBACK").unwrap();
    a.query_drop(format!("SET GLOBAL innodb_lock_wait_timeout = {old}"))
        .unwrap();
    let (k, msg) = kind(result);
    assert_eq!(k, ErrorKind::Temporary, "{msg}");
    assert!(msg.contains("1205"), "{msg}");
    v.add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
}

/// Installs an authentication plugin if the server has its library; false if it has none.
fn install_plugin(url: &str, name: &str, soname: &str) -> bool {
    let mut a = admin(url);
    let have: Option<String> = a
        .exec_first(
            "SELECT plugin_status FROM information_schema.all_plugins WHERE plugin_name = ?",
            (name,),
        )
        .unwrap();
    match have.as_deref() {
        Some("ACTIVE") => true,
        Some(_) => {
            a.query_drop(format!("INSTALL SONAME '{soname}'")).unwrap();
            true
        }
        None => false,
    }
}

#[test]
fn ed25519_accounts_log_in() {
    let _serial = serial();
    let url = site();
    assert!(
        install_plugin(&url, "ed25519", "auth_ed25519"),
        "MariaDB's auth_ed25519 plugin is missing (it ships with mariadb-server)"
    );
    account(
        &url,
        "vm_ed",
        "IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret')",
    );
    let v = Vmail::open_url(&as_user(&url, "vm_ed", "ed-secret")).unwrap();
    assert_eq!(v.local_domain("example.org").unwrap(), "example.org");
    v.add_popbox("example.org", "ed", "pw-secret-1", None)
        .unwrap();
    // a wrong password is an error, not a panic
    let wrong = Vmail::open_url(&as_user(&url, "vm_ed", "wrong")).unwrap();
    let (_, msg) = kind(wrong.local_domain("example.org"));
    assert!(msg.contains("1045"), "{msg}");
}

// parsec accounts need MariaDB 11.6+, which Debian 12 lacks: tests/e2e/test_mariadb_trixie.py
// logs in with one on Debian 13's MariaDB 11.8 (and with ed25519 there too).

#[test]
fn unsupported_auth_plugin_is_a_clear_error() {
    let _serial = serial();
    let url = site();
    // OLD_PASSWORD('old-pw'): the pre-4.1 scheme the driver refuses to speak
    let hash: String = admin(&url)
        .query_first("SELECT OLD_PASSWORD('old-pw')")
        .unwrap()
        .unwrap();
    account(
        &url,
        "vm_old",
        &format!("IDENTIFIED VIA mysql_old_password USING '{hash}'"),
    );
    let v = Vmail::open_url(&as_user(&url, "vm_old", "old-pw")).unwrap();
    // a server without --secure-auth asks for the old plugin instead of refusing the account
    let mut a = admin(&url);
    a.query_drop("SET GLOBAL secure_auth = 0").unwrap();
    let result = v.local_domain("example.org");
    a.query_drop("SET GLOBAL secure_auth = 1").unwrap();
    let (k, msg) = kind(result);
    // the account cannot log in until it is fixed; mail defers meanwhile
    assert_eq!(k, ErrorKind::Temporary, "{msg}");
    assert!(msg.contains("old_mysql_password"), "{msg}");
    assert!(!msg.contains("old-pw"), "{msg}");
}
