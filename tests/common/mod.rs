//! Test support: a throw-away MariaDB started once per test binary, and fresh databases.
//!
//! Set `VMAILSQL_TEST_MYSQL_URL` (for example `mysql://root@127.0.0.1:3306/`) to use an existing
//! server instead; the tests then create and drop their own `vmailsql_t_*` databases there.
//! Without it the harness starts its own `mariadbd` in a private directory and socket. A missing
//! MariaDB is a test failure naming the package to install, never a skip.
#![allow(dead_code)]

pub mod replication;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use vmailsql::{Config, Vmail};

/// A running throw-away server: its admin URL (no database) and what keeps it alive.
pub struct Mariadb {
    pub base_url: String,
    pub socket: Option<PathBuf>,
    _guard: Option<Mutex<Child>>,
    _dir: Option<tempfile::TempDir>,
}

fn find(program: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
}

/// The MariaDB of this test process, started on first use.
pub fn mariadb() -> &'static Mariadb {
    static SERVER: OnceLock<Mariadb> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("VMAILSQL_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Mariadb {
            base_url: url.trim_end_matches('/').to_string(),
            socket: None,
            _guard: None,
            _dir: None,
        },
        _ => start_mariadb(),
    })
}

fn start_mariadb() -> Mariadb {
    let missing = "MariaDB server not found: install it with `apt-get install mariadb-server` \
                   (or set VMAILSQL_TEST_MYSQL_URL to a server the tests may use)";
    let install = find("mariadb-install-db").expect(missing);
    let server = find("mariadbd").expect(missing);
    let dir = tempfile::Builder::new()
        .prefix("vmailsql-mariadb")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    let socket = dir.path().join("sock");
    let out = Command::new(install)
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
        ])
        .arg("--skip-test-db")
        .arg(format!("--datadir={}", data.display()))
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The shell keeps mariadbd's lifetime tied to ours: when this process exits its stdin pipe
    // closes, `read` returns, and the server is shut down.
    let script = format!(
        "{server} --no-defaults --datadir={d} --socket={s} --pid-file={d}/pid --skip-networking \
         --user=root --log-error={d}/err --skip-log-bin --innodb-buffer-pool-size=64M \
         --innodb-log-file-size=16M --max-connections=500 & pid=$!; read _; kill $pid; wait $pid",
        server = server.display(),
        d = data.display(),
        s = socket.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start mariadbd");
    let base_url = format!("mysql://root@localhost/?socket={}", socket.display());
    let started = Instant::now();
    loop {
        if socket.exists()
            && Vmail::open_url(&with_db(&base_url, "mysql"))
                .unwrap()
                .tables()
                .is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "mariadbd did not start; see {}/err",
            data.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Mariadb {
        base_url,
        socket: Some(socket),
        _guard: Some(Mutex::new(child)),
        _dir: Some(dir),
    }
}

/// `base` with the database name put in place.
pub fn with_db(base: &str, db: &str) -> String {
    match base.split_once("/?") {
        Some((head, query)) => format!("{head}/{db}?{query}"),
        None => format!("{}/{db}", base.trim_end_matches('/')),
    }
}

/// Runs one SQL statement against the server's `mysql` database through the library.
pub fn admin_sql(sql: &str) {
    let m = mariadb();
    let status = mysql_cli(m, None, sql);
    assert!(status, "admin SQL failed: {sql}");
}

/// Runs SQL with the `mariadb` command-line client (also a check that real clients agree).
pub fn mysql_cli(m: &Mariadb, db: Option<&str>, sql: &str) -> bool {
    let mut cmd = Command::new("mariadb");
    cmd.arg("--no-defaults").arg("-uroot");
    match &m.socket {
        Some(s) => {
            cmd.arg(format!("--socket={}", s.display()));
        }
        None => {
            let rest = m.base_url.trim_start_matches("mysql://");
            let (userinfo, host) = rest.split_once('@').unwrap_or(("root", rest));
            let host = host.split(['/', '?']).next().unwrap_or("127.0.0.1");
            let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            cmd.args([
                format!("-h{host}"),
                format!("-P{port}"),
                format!("-u{user}"),
            ]);
            if !pass.is_empty() {
                cmd.arg(format!("-p{pass}"));
            }
        }
    }
    if let Some(db) = db {
        cmd.arg(db);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .expect("mariadb client (apt-get install mariadb-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

/// A fresh, empty MariaDB database; returns its URL.
pub fn fresh_mysql_db() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "vmailsql_t_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    admin_sql(&format!(
        "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};"
    ));
    with_db(&mariadb().base_url, &name)
}

/// A fresh SQLite database file; the directory lives as long as the returned guard.
pub fn fresh_sqlite_db() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vmail.db").display());
    (url, dir)
}

/// A fresh, empty database of `backend`; the guard keeps a SQLite file's directory alive.
pub fn fresh_db(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let (url, dir) = fresh_sqlite_db();
            (url, Some(dir))
        }
        Backend::Mysql => (fresh_mysql_db(), None),
    }
}

/// Runs raw SQL (statements separated by `;` on MySQL) on the database at `url`, bypassing the
/// library and the tools: to plant legacy, hostile or broken rows and tables.
pub fn raw_sql(url: &str, sql: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    } else {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            conn.query_drop(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
}

/// Runs the built vmailctl (no `$VMAILSQL_CONFIG`) with `stdin` as its input; returns its exit
/// status, standard output and standard error.
#[cfg(feature = "cli")]
pub fn vmailctl(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmailctl"))
        .args(args)
        .env_remove("VMAILSQL_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vmailctl");
    // The tool may exit before reading its input (a usage error): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited normally"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Which backend a generated test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Mysql,
}

/// A fresh database with the recommended schema, and a handle on it.
pub struct Fixture {
    pub vmail: Vmail,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub fn new(backend: Backend) -> Fixture {
        Fixture::with(backend, |_| {})
    }

    pub fn with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Fixture {
        let (url, dir) = fresh_db(backend);
        let mut config = Config::with_database(&url);
        tweak(&mut config);
        let vmail = Vmail::open(config).unwrap();
        vmail.create_schema().unwrap();
        Fixture {
            vmail,
            url,
            _dir: dir,
        }
    }

    /// Another handle on the same database with different settings.
    pub fn reopen(&self, tweak: impl FnOnce(&mut Config)) -> Vmail {
        let mut config = Config::with_database(&self.url);
        tweak(&mut config);
        Vmail::open(config).unwrap()
    }
}

/// Generates one test per backend from a function taking a [`Backend`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name($crate::common::Backend::Sqlite) } )* }
        mod mariadb { $( #[test] fn $name() { super::$name($crate::common::Backend::Mysql) } )* }
    };
}

/// The database name in a MySQL URL.
pub fn db_name(url: &str) -> String {
    let rest = url.trim_start_matches("mysql://");
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    path.split('?').next().unwrap_or("").to_string()
}
