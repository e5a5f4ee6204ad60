//! A throw-away MariaDB replication cluster for the replica tests: a primary and two GTID
//! replicas (tests/replication/cluster.sh), a site on it, and handles that read from the
//! replicas. Which server answered a lookup is told by marker popboxes written on one server
//! only (`sql_log_bin = 0`): `only-on-primary`, `only-on-replica1`, `only-on-replica2`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use vmailsql::password::Scheme;
use vmailsql::{Config, NewDomain, Resolution, Vmail};

pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/replication/cluster.sh");
pub const REPLICAS: [&str; 2] = ["replica1", "replica2"];
pub const POPBOXES: usize = 20;
pub const RECHECK: Duration = Duration::from_millis(300);
pub const MAX_LAG: Duration = Duration::from_secs(1);

pub struct Cluster {
    dir: tempfile::TempDir,
    sockets: Vec<(String, PathBuf)>,
}

/// The cluster of this test binary, started on first use; tests take turns, and each finds
/// every server running and replicating whatever the test before it did.
pub fn cluster() -> MutexGuard<'static, Cluster> {
    static CLUSTER: OnceLock<Mutex<Cluster>> = OnceLock::new();
    let cluster = CLUSTER
        .get_or_init(|| Mutex::new(Cluster::up()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    cluster.heal();
    cluster
}

impl Cluster {
    pub fn up() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("vmailsql-replicas")
            .tempdir()
            .unwrap();
        let pid = std::process::id().to_string();
        let listing = run(&dir, &["up", "2", &pid]).expect("start the replication cluster");
        let sockets = listing
            .lines()
            .map(|line| {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap().to_string();
                (name, PathBuf::from(words.next().unwrap()))
            })
            .collect();
        Cluster { dir, sockets }
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        run(&self.dir, args).unwrap_or_else(|e| panic!("cluster.sh {args:?}: {e}"))
    }

    pub fn sql(&self, server: &str, sql: &str) -> String {
        self.ctl(&["sql", server, sql])
    }

    pub fn url(&self, server: &str, db: &str) -> String {
        self.url_as("root", server, db)
    }

    pub fn url_as(&self, userinfo: &str, server: &str, db: &str) -> String {
        let socket = &self.sockets.iter().find(|(n, _)| n == server).unwrap().1;
        format!(
            "mysql://{userinfo}@localhost/{db}?socket={}",
            socket.display()
        )
    }

    /// Every server running (started again after a kill, continued after a stop), replicating,
    /// writable, and caught up.
    pub fn heal(&self) {
        for (name, _) in &self.sockets {
            let _ = run(&self.dir, &["cont", name]);
            if run(&self.dir, &["sql", name, "SELECT 1"]).is_err() {
                self.ctl(&["start", name]);
            }
        }
        self.sql("primary", "SET GLOBAL read_only = 0");
        for replica in REPLICAS {
            self.sql(replica, "START SLAVE");
            self.wait_until_receiving(replica);
        }
        self.sync();
    }

    /// Waits until the replica's I/O thread is connected to the primary again (after the
    /// primary restarted it reconnects within its one-second retry): until then it reports no
    /// lag, and lookups rightly skip it.
    fn wait_until_receiving(&self, replica: &str) {
        let started = Instant::now();
        while !self
            .sql(replica, "SHOW GLOBAL STATUS LIKE 'Slave_running'")
            .contains("ON")
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{replica} does not reconnect to its primary"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until both replicas have applied everything the primary has written.
    pub fn sync(&self) {
        for replica in REPLICAS {
            self.sync_one(replica);
        }
    }

    pub fn sync_one(&self, replica: &str) {
        let position = self.sql("primary", "SELECT @@gtid_binlog_pos");
        let waited = self.sql(
            replica,
            &format!("SELECT MASTER_GTID_WAIT('{}', 30)", position.trim()),
        );
        assert_eq!(waited.trim(), "0", "{replica} did not catch up");
    }
}

pub fn run(dir: &tempfile::TempDir, args: &[&str]) -> Result<String, String> {
    let out = Command::new("sh")
        .arg(SCRIPT)
        .arg(dir.path())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {SCRIPT}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A fresh database on the primary with one domain, `POPBOXES` popboxes (`{md5}` hashes: the
/// streams log in thousands of times), a forwarder, and the marker rows; replicated.
pub fn site(c: &Cluster, db: &str) -> Vmail {
    c.sql(
        "primary",
        &format!("DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}"),
    );
    let admin = Vmail::open(Config {
        password_scheme: Scheme::Md5,
        ..Config::with_database(&c.url("primary", db))
    })
    .unwrap();
    admin.create_schema().unwrap();
    admin
        .add_domain(&NewDomain::new(
            "example.org",
            "/var/mail/example.org",
            "nobody",
        ))
        .unwrap();
    for i in 0..POPBOXES {
        admin
            .add_popbox("example.org", &format!("p{i}"), &password(i), None)
            .unwrap();
    }
    admin
        .add_forwarder("example.org", "sales", "p0@example.org")
        .unwrap();
    c.sync();
    for server in ["primary", "replica1", "replica2"] {
        c.sql(
            server,
            &format!(
                "SET SESSION sql_log_bin = 0; INSERT INTO {db}.popbox VALUES \
                 ('example.org', 'only-on-{server}', NULL, 'only-on-{server}')"
            ),
        );
    }
    admin
}

pub fn password(i: usize) -> String {
    format!("pw-secret-{i}")
}

/// A mail host's handle: lookups on the replicas, writes on the primary.
pub fn reader(c: &Cluster, db: &str, tweak: impl FnOnce(&mut Config)) -> Vmail {
    let mut config = Config {
        replicas: REPLICAS.iter().map(|r| c.url(r, db)).collect(),
        replica_recheck: RECHECK,
        max_replica_lag: MAX_LAG,
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(2),
        password_scheme: Scheme::Md5,
        ..Config::with_database(&c.url("primary", db))
    };
    tweak(&mut config);
    Vmail::open(config).unwrap()
}

/// The server whose marker row the handle's lookups see. Three lookups may straddle the
/// moment the handle moves to another server (a review): then they are asked again.
pub fn served_by(vmail: &Vmail) -> String {
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen = ["primary", "replica1", "replica2"]
            .into_iter()
            .filter(|server| {
                matches!(
                    vmail.resolve(&format!("only-on-{server}@example.org")),
                    Ok(Resolution::Mailbox(_))
                )
            })
            .collect();
        if seen.len() == 1 {
            return seen[0].to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("markers seen: {seen:?}");
}

/// Waits (at most `limit`) until `served_by` says `server`.
pub fn wait_for_server(vmail: &Vmail, server: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while served_by(vmail) != server {
        assert!(
            started.elapsed() < limit,
            "lookups did not move to {server} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}
