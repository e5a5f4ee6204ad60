//! vmailctl end to end: the built binary against SQLite and a throw-away MariaDB.
//!
//! Every command is run as an administrator would run it, passwords on standard input only.
//! Bad input must give a clear one-line message, a non-zero status, and leave the data exactly
//! as it was (compared through the library, not through the tool under test).
#![cfg(feature = "cli")]

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Backend;
use serde_json::Value;
use vmailsql::{password, SchemaKind, Vmail};

const BIN: &str = env!("CARGO_BIN_EXE_vmailctl");

/// One database, and a configuration file (mode 0600) that names it.
struct Site {
    url: String,
    config: PathBuf,
    dir: tempfile::TempDir,
    _sqlite: Option<tempfile::TempDir>,
}

/// What one run of the tool printed, and how it ended.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts the status, and returns self for more checks.
    fn status(self, code: i32) -> Out {
        assert_eq!(self.code, code, "unexpected status: {self:#?}");
        self
    }

    /// A failure: one `vmailctl: ` line first on stderr, containing `words`.
    fn fails(self, code: i32, words: &str) -> Out {
        let out = self.status(code);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("vmailctl: "), "{out:#?}");
        assert!(out.stderr.contains(words), "expected {words:?} in {out:#?}");
        out
    }
}

impl Site {
    /// A fresh database without tables.
    fn empty(backend: Backend) -> Site {
        let (url, sqlite) = common::fresh_db(backend);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vmailsql.conf");
        write_private(&config, &format!("database = {url}\n"));
        Site {
            url,
            config,
            dir,
            _sqlite: sqlite,
        }
    }

    /// A fresh database with the recommended schema, made by `vmailctl init`.
    fn new(backend: Backend) -> Site {
        let site = Site::empty(backend);
        site.run(&["init"]).status(0);
        site
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, "")
    }

    /// Runs the tool with `--config` and `stdin` as standard input.
    fn run_with(&self, args: &[&str], stdin: &str) -> Out {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        tool(&all, stdin)
    }

    fn vmail(&self) -> Vmail {
        Vmail::open_url(&self.url).unwrap()
    }

    /// Everything in the database, as the library sees it: to prove that nothing changed.
    fn snapshot(&self) -> String {
        format!("{:?}", self.vmail().export().unwrap())
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// example.org (limit 3, admin password), alice and bob, forwarders, a catch-all, an alias.
    fn populated(backend: Backend) -> Site {
        let site = Site::new(backend);
        let ok = |args: &[&str], stdin: &str| site.run_with(args, stdin).status(0);
        let domain = [
            "domain",
            "add",
            "example.org",
            "--path",
            "/var/mail/example.org",
        ];
        let options = ["--user", "vmail", "--max-popbox", "3", "--password-stdin"];
        ok(&[&domain[..], &options].concat(), "domain-pw\n");
        ok(
            &["popbox", "add", "alice@example.org", "--password-stdin"],
            "alice-pw\n",
        );
        ok(
            &[
                "popbox",
                "add",
                "bob@example.org",
                "--password-stdin",
                "--mbox",
                "b/bob",
            ],
            "bob-password",
        );
        ok(
            &[
                "forwarder",
                "add",
                "sales@example.org",
                "alice@example.org",
                "x@remote.example",
            ],
            "",
        );
        ok(
            &[
                "catchall",
                "set",
                "example.org",
                "postmaster@remote.example",
            ],
            "",
        );
        ok(&["alias", "add", "example.net", "example.org"], "");
        site
    }
}

fn tool(args: &[&str], stdin: &str) -> Out {
    let (code, stdout, stderr) = common::vmailctl(args, stdin);
    Out {
        code,
        stdout,
        stderr,
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs raw SQL on a site's database, bypassing library and tool (to plant bad or legacy rows).
fn raw(site: &Site, sql: &str) {
    common::raw_sql(&site.url, sql);
}

// ---- init, migrate, configuration ----

fn init_creates_once_and_force_only_adds(b: Backend) {
    let site = Site::empty(b);
    let out = site.run(&["--json", "init"]).status(0);
    let created = out.json()["created"].as_array().unwrap().len();
    assert_eq!(created, 6, "{out:#?}");
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Recommended)
    );
    // names compare case-insensitively on both backends (NOCASE, utf8mb4_general_ci)
    assert_eq!(
        site.vmail().case_sensitive_tables().unwrap(),
        Vec::<String>::new()
    );
    site.run(&[
        "domain",
        "add",
        "example.org",
        "--path",
        "/m",
        "--user",
        "vmail",
    ])
    .status(0);
    let before = site.snapshot();
    site.run(&["init"]).fails(3, "already holds vmail tables");
    site.run(&["init", "--legacy"])
        .fails(3, "nothing was changed");
    let out = site.run(&["init", "--force"]).status(0);
    assert!(out.stdout.contains("nothing to do"), "{out:#?}");
    // a site that never created web_session: --force adds it and keeps every row
    raw(&site, "DROP TABLE web_session");
    let out = site.run(&["--json", "init", "--force"]).status(0);
    assert_eq!(out.json()["created"], serde_json::json!(["web_session"]));
    assert_eq!(site.vmail().tables().unwrap().len(), 6);
    assert_eq!(site.snapshot(), before);
}

#[test]
fn init_legacy_is_mysql_only() {
    let site = Site::empty(Backend::Sqlite);
    site.run(&["init", "--legacy"]).fails(2, "legacy schema");
    assert!(site.vmail().tables().unwrap().is_empty());
    let site = Site::empty(Backend::Mysql);
    let out = site.run(&["init", "--legacy"]).status(0);
    assert!(out.stdout.contains("legacy"), "{out:#?}");
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Legacy)
    );
}

#[test]
fn migrate_moves_a_legacy_site_after_a_dry_run() {
    let site = Site::empty(Backend::Mysql);
    site.run(&["init", "--legacy"]).status(0);
    raw(
        &site,
        "INSERT INTO domain VALUES ('Example.ORG','vmail',NULL,'/var/mail/example.org',NULL); \
         INSERT INTO popbox VALUES ('Example.ORG','Fred','5ebe2294ecd0e0f08eab7690d2a6ee69','fred'); \
         INSERT INTO forwarder VALUES ('Example.ORG','Info','fred@example.org')",
    );
    let dry = site
        .run(&["--json", "migrate", "--dry-run"])
        .status(0)
        .json();
    assert_eq!(
        (dry["found"].as_str(), dry["applied"].as_bool()),
        (Some("legacy"), Some(false))
    );
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Legacy)
    );
    let check = site.run(&["--json", "check"]).json();
    assert!(
        has(&check["warnings"], "legacy-schema", "migrate"),
        "{check:#}"
    );
    let out = site.run(&["migrate"]).status(0);
    assert!(out.stdout.contains("legacy_*"), "{out:#?}");
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Recommended)
    );
    let auth = site.run_with(&["auth", "fred@example.org", "--password-stdin"], "secret");
    assert!(auth.status(0).stdout.contains("accepted"));
    let again = site.run(&["migrate"]).status(0);
    assert!(again.stdout.contains("already"), "{again:#?}");
}

#[test]
fn migrate_lists_collisions_and_changes_nothing() {
    let site = Site::empty(Backend::Mysql);
    site.run(&["init", "--legacy"]).status(0);
    raw(
        &site,
        "ALTER TABLE popbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; \
         INSERT INTO domain VALUES ('example.org','vmail',NULL,'/m',NULL); \
         INSERT INTO popbox VALUES ('example.org','fred','x','fred'); \
         INSERT INTO popbox VALUES ('example.org','Fred','y','Fred')",
    );
    for args in [
        &["--json", "migrate", "--dry-run"][..],
        &["--json", "migrate"],
    ] {
        let out = site.run(args).status(3);
        let report = out.json();
        let rows = &report["collisions"][0]["rows"];
        assert_eq!(rows.as_array().map(Vec::len), Some(2), "{report:#}");
        assert_eq!(report["applied"], false);
    }
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Legacy)
    );
    assert_eq!(site.vmail().popboxes(None).unwrap().len(), 2);
    let out = site.run(&["migrate"]).status(3);
    assert!(out.stdout.contains("Fred@example.org"), "{out:#?}");
}

/// Names that differ in more than case but that the recommended schema's collation takes as
/// one: a warning in check (both rows work on the legacy schema), and migrate refuses.
#[test]
fn migrate_lists_collation_collisions() {
    let site = Site::empty(Backend::Mysql);
    site.run(&["init", "--legacy"]).status(0);
    raw(
        &site,
        "INSERT INTO domain VALUES ('bar.example','vmail',NULL,'/m',NULL); \
         INSERT INTO domain VALUES ('bär.example','vmail',NULL,'/m2',NULL)",
    );
    let check = site.run(&["--json", "check"]).json();
    assert!(
        has(&check["warnings"], "collation-collision", "bär.example"),
        "{check:#}"
    );
    assert!(!has(&check["problems"], "collision", ""), "{check:#}");
    let report = site
        .run(&["--json", "migrate", "--dry-run"])
        .status(3)
        .json();
    assert_eq!(report["collisions"][0]["rule"], "collation", "{report:#}");
    site.run(&["migrate"]).status(3);
    assert_eq!(
        site.vmail().schema_kind().unwrap(),
        Some(SchemaKind::Legacy)
    );
}

fn migrate_on_recommended_has_nothing_to_do(b: Backend) {
    let site = Site::new(b);
    let report = site
        .run(&["--json", "migrate", "--dry-run"])
        .status(0)
        .json();
    assert_eq!(report["found"], "recommended");
    site.run(&["migrate"]).status(0);
    let empty = Site::empty(b);
    empty.run(&["migrate"]).fails(1, "vmailctl init");
}

#[test]
fn configuration_is_found_and_checked() {
    let site = Site::new(Backend::Sqlite);
    // --database overrides the file's database
    let other = Site::new(Backend::Sqlite);
    let args = [
        "--database",
        other.url.as_str(),
        "domain",
        "add",
        "o.example",
    ];
    site.run(&[&args[..], &["--path", "/o", "--user", "vmail"]].concat())
        .status(0);
    assert_eq!(other.vmail().domains().unwrap().len(), 1);
    assert!(site.vmail().domains().unwrap().is_empty());
    // $VMAILSQL_CONFIG is used when --config is not given
    let out = Command::new(BIN)
        .args(["domain", "list"])
        .env("VMAILSQL_CONFIG", &other.config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("o.example"));
    // a missing file is named
    let missing = site.file("nope.conf");
    let out = tool(
        &["--config", missing.to_str().unwrap(), "domain", "list"],
        "",
    );
    out.fails(1, "nope.conf");
    // a database password readable by others is refused, and never printed
    let leaky = site.file("leaky.conf");
    std::fs::write(&leaky, "database = mysql://vmail:hunter2@localhost/x\n").unwrap();
    std::fs::set_permissions(&leaky, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = tool(&["--config", leaky.to_str().unwrap(), "domain", "list"], "");
    let out = out.fails(2, "chmod");
    assert!(!out.stderr.contains("hunter2"));
}

#[test]
fn a_database_without_tables_says_run_init() {
    let site = Site::empty(Backend::Sqlite);
    site.run(&["domain", "list"]).fails(1, "vmailctl init");
    site.run(&["resolve", "a@example.org"])
        .fails(1, "vmailctl init");
}

#[test]
fn an_unreachable_database_is_a_temporary_failure() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "mysql://root@localhost/x?socket={}/missing.sock",
        dir.path().display()
    );
    for args in [
        &["resolve", "a@example.org"][..],
        &["auth", "a@example.org", "--password-stdin"],
        &["domain", "list"],
        &["check"],
    ] {
        let out = tool(
            &[&["--json", "--database", url.as_str()][..], args].concat(),
            "pw\n",
        );
        let out = out.fails(75, "unavailable");
        assert_eq!(out.json()["error"]["exit_code"], 75);
    }
}

// ---- domains ----

fn domain_lifecycle(b: Backend) {
    let site = Site::populated(b);
    let shown = site
        .run(&["--json", "domain", "show", "Example.ORG"])
        .status(0)
        .json();
    assert_eq!(shown["name"], "example.org");
    assert_eq!(shown["popboxes"], 2);
    assert_eq!(shown["forwarders"], 1);
    assert_eq!(shown["catch_all"], "postmaster@remote.example");
    assert_eq!(shown["aliases"], serde_json::json!(["example.net"]));
    assert!(
        !shown.to_string().contains("$6$"),
        "no hash is ever shown: {shown}"
    );
    let human = site
        .run(&["domain", "show", "example.org"])
        .status(0)
        .stdout;
    assert!(
        human.contains("/var/mail/example.org") && human.contains("limit 3"),
        "{human}"
    );

    let changed = site.run(&["--json", "domain", "change", "example.org", "--unlimited"]);
    assert_eq!(
        changed.status(0).json()["domain"]["max_popbox"],
        Value::Null
    );
    site.run(&[
        "domain",
        "change",
        "example.org",
        "--max-popbox",
        "9",
        "--path",
        "/srv/mail/ex",
    ])
    .status(0);
    let d = site.vmail().domain("example.org").unwrap();
    assert_eq!(
        (d.max_popbox, d.path.as_deref()),
        (Some(9), Some("/srv/mail/ex"))
    );

    site.run_with(
        &["domain", "passwd", "example.org", "--password-stdin"],
        "new-admin-pw\n",
    )
    .status(0);
    let admin = ["auth", "--domain-admin", "example.org", "--password-stdin"];
    site.run_with(&admin, "new-admin-pw").status(0);
    site.run_with(&admin, "domain-pw").status(1);

    let list = site.run(&["--json", "domain", "list"]).status(0).json();
    assert_eq!(list[0]["name"], "example.org");
    assert_eq!(list[0]["popboxes"], 2);

    let before = site.snapshot();
    site.run(&["domain", "delete", "example.org"])
        .fails(3, "--yes");
    assert_eq!(site.snapshot(), before, "refused delete changed data");
    let out = site
        .run(&["domain", "delete", "example.org", "--yes"])
        .status(0);
    assert!(out.stdout.contains("2 popboxes"), "{out:#?}");
    assert!(site.vmail().domains().unwrap().is_empty());
    assert!(site.vmail().popboxes(None).unwrap().is_empty());
    assert!(site.vmail().aliases(None).unwrap().is_empty());
}

fn domain_bad_input_changes_nothing(b: Backend) {
    let site = Site::populated(b);
    let before = site.snapshot();
    let add = |name: &str, path: &str, user: &str| {
        site.run(&["domain", "add", name, "--path", path, "--user", user])
    };
    add("new.example", "relative/path", "vmail").fails(2, "absolute");
    add("new.example", "/var/mail/../etc", "vmail").fails(2, "..");
    add("new.example", "/m", "root").fails(2, "root");
    add("new.example", "/m", "0").fails(2, "uid 0");
    add("bad domain", "/m", "vmail").fails(2, "invalid domain");
    add("Example.org", "/m", "vmail").fails(3, "already exists");
    add("example.net", "/m", "vmail").fails(3, "alias");
    site.run(&["domain", "add", "x.example", "--path", "/m"])
        .fails(2, "--user");
    site.run(&["domain", "change", "example.org"])
        .fails(2, "required");
    site.run(&["domain", "change", "example.org", "--path", "rel"])
        .fails(2, "absolute");
    site.run(&["domain", "change", "example.org", "--max-popbox", "-1"])
        .status(2);
    site.run(&["domain", "show", "missing.example"])
        .fails(1, "no such domain");
    site.run(&["domain", "delete", "missing.example", "--yes"])
        .fails(1, "no such domain");
    site.run_with(
        &["domain", "passwd", "example.org", "--password-stdin"],
        "\n",
    )
    .fails(2, "empty password");
    let out = site
        .run(&["--json", "domain", "show", "missing.example"])
        .status(1);
    assert_eq!(out.json()["error"]["kind"], "not found");
    assert_eq!(site.snapshot(), before);
}

// ---- popboxes ----

fn popbox_lifecycle(b: Backend) {
    let site = Site::populated(b);
    let auth = |login: &str, pw: &str| site.run_with(&["auth", login, "--password-stdin"], pw);
    auth("alice@example.org", "alice-pw\n").status(0);
    auth("Bob@Example.NET", "bob-password").status(1); // tpop3d never logs in through an alias
    auth("bob@example.org", "bob-password").status(0);

    let shown = site
        .run(&["--json", "popbox", "show", "bob@example.org"])
        .status(0)
        .json();
    assert_eq!(shown["mailbox"], "/var/mail/example.org/b/bob");
    assert_eq!(shown["password"]["weak"], false);
    assert!(!shown.to_string().contains("$6$"), "{shown}");

    site.run_with(
        &["popbox", "passwd", "alice@example.org", "--password-stdin"],
        "fresh-password\n",
    )
    .status(0);
    auth("alice@example.org", "alice-pw").status(1);
    auth("alice@example.org", "fresh-password").status(0);

    // a ready-made hash is stored exactly as given (the legacy test vector for "secret")
    let md5 = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69";
    site.run_with(&["popbox", "add", "carol@example.org", "--hash-stdin"], md5)
        .status(0);
    let carol = site.vmail().popbox("example.org", "carol").unwrap();
    assert_eq!(carol.password_hash.as_deref(), Some(md5));
    auth("carol@example.org", "secret").status(0);
    // and replaced by another ready-made hash (SHA-512-crypt of "secret")
    let sha = "{crypt}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";
    site.run_with(
        &[
            "popbox",
            "passwd",
            "carol@example.org",
            "--hashed",
            "--password-stdin",
        ],
        sha,
    )
    .status(0);
    assert_eq!(
        site.vmail()
            .popbox("example.org", "carol")
            .unwrap()
            .password_hash
            .as_deref(),
        Some(sha)
    );
    auth("carol@example.org", "secret").status(0);
    site.run_with(
        &[
            "popbox",
            "passwd",
            "carol@example.org",
            "--hashed",
            "--password-stdin",
        ],
        "not-a-hash",
    )
    .status(2);
    assert_eq!(
        site.vmail()
            .popbox("example.org", "carol")
            .unwrap()
            .password_hash
            .as_deref(),
        Some(sha)
    );
    site.run_with(
        &[
            "popbox",
            "passwd",
            "carol@example.org",
            "--hashed",
            "--password-stdin",
        ],
        md5,
    )
    .status(0);
    let listed = site
        .run(&["--json", "popbox", "list", "example.org"])
        .status(0)
        .json();
    let weak: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["password"]["weak"] == true)
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(weak, ["carol@example.org"]);

    site.run(&["popbox", "delete", "carol@example.org"])
        .status(0);
    assert!(site.vmail().popbox("example.org", "carol").is_err());
    let human = site.run(&["popbox", "list"]).status(0).stdout;
    assert!(
        human.contains("alice@example.org") && human.contains("SHA-512-crypt"),
        "{human}"
    );
}

fn popbox_bad_input_changes_nothing(b: Backend) {
    let site = Site::populated(b);
    let before = site.snapshot();
    let add = |address: &str, stdin: &str, more: &[&str]| {
        let args = [&["popbox", "add", address, "--password-stdin"][..], more].concat();
        site.run_with(&args, stdin)
    };
    // the password never comes from argv
    site.run(&["popbox", "add", "dave@example.org", "secret"])
        .fails(2, "unexpected argument");
    add("dave@example.org", "", &[]).fails(2, "empty password");
    add("dave@example.org", "one\ntwo\n", &[]).fails(2, "more than one line");
    add("dave", "popbox-pw", &[]).fails(2, "not local@domain");
    add("da ve@example.org", "popbox-pw", &[]).fails(2, "invalid local part");
    add("dave%x@example.org", "popbox-pw", &[]).fails(2, "splits POP3 logins");
    add("_default_@example.org", "popbox-pw", &[]).fails(2, "catch-all");
    add(
        "dave@example.org",
        "popbox-pw",
        &["--mbox", "../../etc/passwd"],
    )
    .fails(2, "inside");
    add("dave@example.org", "popbox-pw", &["--mbox", "alice"]).fails(3, "already used");
    add("alice@example.org", "popbox-pw", &[]).fails(3, "already exists");
    add("dave@missing.example", "popbox-pw", &[]).fails(1, "no such domain");
    let hashed = ["popbox", "add", "dave@example.org", "--hash-stdin"];
    site.run_with(&hashed, "not-a-hash")
        .fails(2, "not a password hash");
    site.run_with(&hashed, "{nonsense}abc")
        .fails(2, "not a password hash");
    site.run_with(
        &hashed,
        "{BLF-CRYPT}$2b$31$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
    )
    .fails(2, "cost");
    site.run(&["popbox", "passwd", "ghost@example.org", "--password-stdin"])
        .fails(1, "no popbox");
    site.run(&["popbox", "delete", "ghost@example.org"])
        .fails(1, "no popbox");
    site.run(&["popbox", "list", "missing.example"])
        .fails(1, "no such domain");
    assert_eq!(site.snapshot(), before);
    // the limit: example.org allows 3, it has 2
    add("dave@example.org", "popbox-pw", &[]).status(0);
    let before = site.snapshot();
    add("erin@example.org", "popbox-pw", &[]).fails(3, "maximum of 3");
    assert_eq!(site.snapshot(), before);
}

// ---- forwarders, catch-all, aliases ----

fn forwarders_catchall_and_aliases(b: Backend) {
    let site = Site::populated(b);
    let shown = site
        .run(&["--json", "forwarder", "show", "sales@example.org"])
        .status(0)
        .json();
    assert_eq!(
        shown["targets"],
        serde_json::json!(["alice@example.org", "x@remote.example"])
    );
    site.run(&[
        "forwarder",
        "change",
        "sales@example.org",
        "bob@example.org,y@remote.example",
    ])
    .status(0);
    let f = site.vmail().forwarder("example.org", "sales").unwrap();
    assert_eq!(f.remote_name, "bob@example.org, y@remote.example");
    // a forwarder shadows the popbox of the same name, and says so
    site.run(&["forwarder", "add", "bob@example.org", "bob@remote.example"])
        .status(0);
    let shown = site
        .run(&["--json", "forwarder", "show", "bob@example.org"])
        .json();
    assert_eq!(shown["shadows_popbox"], true);
    site.run(&["forwarder", "delete", "bob@example.org"])
        .status(0);
    let list = site
        .run(&["--json", "forwarder", "list", "example.org"])
        .status(0)
        .json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["address"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["_default_@example.org", "sales@example.org"]);

    let catch = site
        .run(&["--json", "catchall", "show", "example.org"])
        .status(0)
        .json();
    assert_eq!(catch["targets"][0], "postmaster@remote.example");
    site.run(&["catchall", "set", "example.org", "alice@example.org"])
        .status(0);
    let out = site
        .run(&["--json", "resolve", "nobody@example.org"])
        .status(0);
    assert_eq!(out.json()[0]["result"], "catch-all");
    site.run(&["catchall", "delete", "example.org"]).status(0);
    site.run(&["catchall", "show", "example.org"])
        .fails(1, "has no catch-all");
    site.run(&["resolve", "nobody@example.org"]).status(1);

    site.run(&["alias", "add", "example.com", "example.org"])
        .status(0);
    let aliases = site
        .run(&["--json", "alias", "list", "example.org"])
        .status(0)
        .json();
    assert_eq!(aliases.as_array().unwrap().len(), 2);
    site.run(&["alias", "delete", "example.com"]).status(0);
    let human = site.run(&["alias", "list"]).status(0).stdout;
    assert!(
        human.contains("example.net") && !human.contains("example.com"),
        "{human}"
    );
}

fn forwarder_bad_input_changes_nothing(b: Backend) {
    let site = Site::populated(b);
    let before = site.snapshot();
    let fwd = |args: &[&str]| site.run(&[&["forwarder"][..], args].concat());
    fwd(&["add", "x@example.org", "|/bin/sh"]).fails(2, "pipe");
    fwd(&["add", "x@example.org", "/var/mail/x"]).fails(2, "file");
    fwd(&["add", "x@example.org", "nodomain"]).fails(2, "not local@domain");
    fwd(&["add", "x@example.org", "x@example.org"]).fails(2, "loop");
    fwd(&["add", "x@example.org", "x@example.net"]).fails(2, "loop");
    fwd(&["add", "x@example.org"]).fails(2, "required");
    fwd(&["add", "sales@example.org", "a@b.example"]).fails(3, "already exists");
    fwd(&["add", "x@missing.example", "a@b.example"]).fails(1, "no such domain");
    fwd(&["change", "ghost@example.org", "a@b.example"]).fails(1, "no forwarder");
    fwd(&["delete", "ghost@example.org"]).fails(1, "no forwarder");
    site.run(&["catchall", "set", "example.org", "ghost@example.org"])
        .fails(2, "loop");
    site.run(&["catchall", "set", "missing.example", "a@b.example"])
        .fails(1, "no such domain");
    site.run(&["alias", "add", "example.org", "example.org"])
        .fails(2, "itself");
    site.run(&["alias", "add", "new.example", "missing.example"])
        .fails(1, "no such domain");
    site.run(&["alias", "add", "example.net", "example.org"])
        .fails(3, "already exists");
    site.run(&["alias", "add", "example.org", "example.net"])
        .status(1);
    site.run(&["alias", "delete", "ghost.example"])
        .fails(1, "no alias");
    assert_eq!(site.snapshot(), before);
}

// ---- resolve, auth, hash ----

fn resolve_names_the_rule(b: Backend) {
    let site = Site::populated(b);
    site.run(&[
        "forwarder",
        "add",
        "alice@example.org",
        "alice@remote.example",
    ])
    .status(0);
    let addresses = [
        "bob@example.org",
        "Sales@Example.NET",
        "alice@example.org",
        "nobody@example.org",
        "someone@elsewhere.example",
    ];
    let out = site.run(&[&["--json", "resolve"][..], &addresses].concat());
    let out = out.status(1); // the worst: a domain that is not local
    let results = out.json();
    let field = |i: usize, key: &str| results[i][key].clone();
    assert_eq!(field(0, "result"), "popbox");
    assert_eq!(field(0, "mailbox"), "/var/mail/example.org/b/bob");
    assert_eq!(field(0, "unix_user"), "vmail");
    assert_eq!(field(1, "result"), "forwarder");
    assert_eq!(field(1, "via_alias"), "example.net");
    assert_eq!(
        field(1, "targets"),
        serde_json::json!(["alice@example.org", "x@remote.example"])
    );
    assert_eq!(field(2, "result"), "forwarder");
    assert_eq!(field(2, "shadows_popbox"), true);
    assert_eq!(field(3, "result"), "catch-all");
    assert_eq!(field(4, "result"), "not-local");
    assert_eq!(field(4, "exit_code"), 1);

    let good = site
        .run(&["resolve", "bob@example.org", "sales@example.org"])
        .status(0);
    assert!(
        good.stdout
            .contains("deliver to /var/mail/example.org/b/bob"),
        "{good:#?}"
    );
    assert!(
        good.stdout.contains("redirect to alice@example.org"),
        "{good:#?}"
    );
    site.run(&["catchall", "delete", "example.org"]).status(0);
    let unknown = site.run(&["resolve", "nobody@example.org"]).status(1);
    assert!(unknown.stdout.contains("unknown"), "{unknown:#?}");
    let bad = site
        .run(&["--json", "resolve", "bob@example.org", "no-at-sign"])
        .status(2);
    assert_eq!(bad.json()[1]["result"], "invalid");
    site.run(&["resolve"]).fails(2, "required");
}

fn auth_never_tells_who_exists(b: Backend) {
    let site = Site::populated(b);
    let auth =
        |login: &str, pw: &str| site.run_with(&["--json", "auth", login, "--password-stdin"], pw);
    let ok = auth("alice@example.org", "alice-pw").status(0).json();
    assert_eq!(ok["result"], "accepted");
    assert_eq!(ok["mailbox"], "/var/mail/example.org/alice");
    let wrong = auth("alice@example.org", "nope").status(1);
    let unknown = auth("ghost@example.org", "nope").status(1);
    let no_domain = auth("alice@missing.example", "nope").status(1);
    for out in [&wrong, &unknown, &no_domain] {
        assert_eq!(out.json()["result"], "rejected");
        assert!(out.stderr.is_empty(), "{out:#?}");
    }
    let human = |login: &str| {
        site.run_with(&["auth", login, "--password-stdin"], "nope")
            .status(1)
            .stdout
    };
    assert_eq!(
        human("alice@example.org").replace("alice", "X"),
        human("ghost@example.org").replace("ghost", "X")
    );
    // a test login never rewrites the stored hash
    let md5 = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69";
    site.run_with(&["popbox", "add", "old@example.org", "--hash-stdin"], md5)
        .status(0);
    std::fs::write(
        &site.config,
        format!("database = {}\nupgrade_on_login = yes\n", site.url),
    )
    .unwrap();
    auth("old@example.org", "secret").status(0);
    let stored = site
        .vmail()
        .popbox("example.org", "old")
        .unwrap()
        .password_hash;
    assert_eq!(stored.as_deref(), Some(md5));
}

#[test]
fn hash_prints_a_verifying_hash_without_a_database() {
    let nowhere = "/nonexistent/vmailsql.conf";
    for scheme in ["crypt", "SHA256-CRYPT", "BLF-CRYPT", "MD5", "plaintext"] {
        let out = tool(
            &[
                "--config",
                nowhere,
                "--json",
                "hash",
                "--scheme",
                scheme,
                "--password-stdin",
            ],
            "pässwörd\n",
        );
        let json = out.status(0).json();
        let hash = json["hash"].as_str().unwrap();
        assert!(password::verify(hash, "pässwörd"), "{scheme}: {hash}");
        assert!(!password::verify(hash, "wrong"), "{scheme}: {hash}");
    }
    tool(&["hash", "--scheme", "rot13", "--password-stdin"], "x")
        .fails(2, "unknown password scheme");
    tool(&["hash", "--scheme", "MD5", "--password-stdin"], "").fails(2, "empty password");
    // a new password: password_min_length, by default 8 characters
    tool(
        &[
            "--config",
            nowhere,
            "hash",
            "--scheme",
            "MD5",
            "--password-stdin",
        ],
        "seven-c",
    )
    .fails(2, "at least 8 characters");
    // without --scheme, the configuration's policy: scheme and minimum length
    let site = Site::new(Backend::Sqlite);
    let policy = format!(
        "database = {}\npassword_scheme = SHA256-CRYPT\npassword_min_length = 10\n",
        site.url
    );
    write_private(&site.config, &policy);
    let out = site
        .run_with(&["hash", "--password-stdin"], "secret-pw-1")
        .status(0);
    assert!(out.stdout.starts_with("{SHA256-CRYPT}$5$"), "{out:#?}");
    site.run_with(&["hash", "--password-stdin"], "secret-pw")
        .fails(2, "at least 10 characters");
}

// ---- check ----

fn check_passes_a_healthy_site(b: Backend) {
    let site = Site::populated(b);
    let out = site.run(&["check"]).status(0);
    assert!(out.stdout.contains("no problems found"), "{out:#?}");
    let report = site.run(&["--json", "check", "--strict"]).status(0).json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["summary"]["popboxes"], 2);
    let schemes = report["hashes"]["schemes"].as_array().unwrap();
    let sha512 = schemes
        .iter()
        .find(|s| s["scheme"] == "SHA-512-crypt")
        .unwrap();
    assert_eq!(
        (
            sha512["popboxes"].as_u64(),
            sha512["domain_admins"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

/// True when a list of findings holds one from `check` whose detail mentions `words`.
fn has(findings: &Value, check: &str, words: &str) -> bool {
    findings
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check"] == check && f["detail"].as_str().is_some_and(|d| d.contains(words)))
}

fn check_finds_every_kind_of_problem(b: Backend) {
    let site = Site::populated(b);
    site.run(&[
        "domain",
        "add",
        "quiet.example",
        "--path",
        "/m/q",
        "--user",
        "5000",
    ])
    .status(0);
    site.run(&["catchall", "delete", "example.org"]).status(0);
    raw(
        &site,
        "INSERT INTO forwarder VALUES ('example.org','dead','ghost@example.org'); \
         INSERT INTO forwarder VALUES ('example.org','ping','pong@example.org'); \
         INSERT INTO forwarder VALUES ('example.org','pong','ping@example.net'); \
         INSERT INTO forwarder VALUES ('example.org','pipe','|/bin/sh'); \
         INSERT INTO forwarder VALUES ('example.org','alice','alice@remote.example'); \
         INSERT INTO popbox VALUES ('gone.example','orphan','x','orphan'); \
         INSERT INTO popbox VALUES ('example.org','evil','x','../../etc/passwd'); \
         INSERT INTO popbox VALUES ('example.org','twin','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','alice'); \
         INSERT INTO domain_alias VALUES ('gone.example','lost.example'); \
         INSERT INTO popbox VALUES ('quiet.example','costly','{crypt}$6$rounds=999999999$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1','costly'); \
         INSERT INTO domain VALUES ('rooted.example','0',NULL,'/m/r',NULL); \
         INSERT INTO domain VALUES ('blank.example',' 65534',NULL,'/m/b',NULL); \
         INSERT INTO domain VALUES ('nouid.example','4000000000',NULL,'/m/n',NULL); \
         INSERT INTO popbox VALUES ('rooted.example','r','x','r'); \
         INSERT INTO domain VALUES ('averyveryverylongdomain1.example','vmail',NULL,'/m/1',NULL); \
         INSERT INTO domain VALUES ('averyveryverylongdomain2.example','vmail',NULL,'/m/2',NULL); \
         INSERT INTO popbox VALUES ('averyveryverylongdomain1.example','al','{crypt}abNANd1rDfiNc','al'); \
         INSERT INTO popbox VALUES ('averyveryverylongdomain2.example','al','{crypt}abNANd1rDfiNc','al')",
    );
    let out = site.run(&["--json", "check"]).status(1);
    let report = out.json();
    let problems = &report["problems"];
    let warnings = &report["warnings"];
    assert_eq!(report["ok"], false);
    assert!(
        has(problems, "dead-target", "ghost@example.org"),
        "{report:#}"
    );
    assert!(
        has(
            problems,
            "loop",
            "ping@example.org -> pong@example.org -> ping@example.org"
        ),
        "{report:#}"
    );
    assert!(
        has(problems, "bad-target", "pipe@example.org"),
        "{report:#}"
    );
    assert!(
        has(problems, "missing-domain", "orphan@gone.example"),
        "{report:#}"
    );
    assert!(
        has(problems, "missing-domain", "alias lost.example"),
        "{report:#}"
    );
    assert!(
        has(problems, "unsafe-path", "evil@example.org"),
        "{report:#}"
    );
    assert!(
        has(problems, "bad-unix-user", "rooted.example"),
        "{report:#}"
    );
    assert!(
        has(problems, "shared-mbox", "twin@example.org"),
        "{report:#}"
    );
    assert!(
        has(warnings, "shadowed-popbox", "alice@example.org"),
        "{report:#}"
    );
    assert!(
        has(warnings, "over-limit", "example.org has 4 popboxes"),
        "{report:#}"
    );
    assert!(has(warnings, "weak-hash", "twin@example.org"), "{report:#}");
    assert!(
        has(problems, "costly-hash", "costly@quiet.example"),
        "{report:#}"
    );
    assert!(
        has(warnings, "blank-unix-user", "blank.example"),
        "{report:#}"
    );
    assert!(has(problems, "unknown-uid", "nouid.example"), "{report:#}");
    assert!(
        has(warnings, "unusable-hash", "evil@example.org"),
        "{report:#}"
    );
    assert!(
        has(
            warnings,
            "prefix-collision",
            "averyveryverylongdomain1.example"
        ),
        "{report:#}"
    );
    assert!(
        !has(problems, "dead-target", "alice"),
        "a popbox is a live target: {report:#}"
    );
    let weak = report["hashes"]["weak"].as_array().unwrap();
    assert!(
        weak.iter()
            .any(|w| w == "al@averyveryverylongdomain1.example"),
        "DES is weak"
    );
    // the human report says the same, one finding a line
    let human = site.run(&["check"]).status(1).stdout;
    assert!(
        human.contains("problems:") && human.contains("ping@example.org"),
        "{human}"
    );
}

/// Dovecot's challenge-response and one-time schemes are counted by name and flagged weak; a
/// SCRAM iteration count or OTP sequence beyond the limits is a costly hash (values from
/// `doveadm pw`, tests/data/dovecot-2.3-doveadm-pw.txt).
#[test]
fn check_classifies_dovecot_challenge_schemes() {
    let site = Site::populated(Backend::Sqlite);
    raw(
        &site,
        "INSERT INTO popbox VALUES ('example.org','scram','{SCRAM-SHA-256}4096,mNBpcQNQtrf0/YoXV6GeWQ==,/m+3vDrF56xl1bUjAW0OYyyL01pHWxQZbrH20UWMC/o=,X+GtNnUbuBTXE8HPsr426bca+44YgZqra5JZv5iyVzg=','scram'); \
         INSERT INTO popbox VALUES ('example.org','dig','{DIGEST-MD5}de4c5ee663b7df99d1e5a281c5625139','dig'); \
         INSERT INTO popbox VALUES ('example.org','slow','{SCRAM-SHA-1}4000000,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,PugjxtLScHMiDJS7TWXb39shh8s=','slow'); \
         INSERT INTO popbox VALUES ('example.org','long','{OTP}sha1 4000000 1ca7824842e04589 8b20adafa054dd45','long')",
    );
    let report = site.run(&["--json", "check"]).status(1).json();
    let schemes = report["hashes"]["schemes"].as_array().unwrap();
    for name in [
        "SCRAM-SHA-256",
        "DIGEST-MD5",
        "SCRAM-SHA-1",
        "OTP (RFC 2289)",
    ] {
        let found = schemes.iter().find(|s| s["scheme"] == name);
        assert!(
            found.is_some_and(|s| s["weak"] == true && s["popboxes"] == 1),
            "{name}: {report:#}"
        );
    }
    let weak = report["hashes"]["weak"].to_string();
    assert!(
        weak.contains("scram@example.org") && weak.contains("dig@example.org"),
        "{weak}"
    );
    let costly = report["hashes"]["costly"].to_string();
    assert!(
        costly.contains("slow@example.org") && costly.contains("long@example.org"),
        "{costly}"
    );
    assert!(!costly.contains("scram@"), "{costly}");
    assert!(
        has(&report["problems"], "costly-hash", "slow@example.org"),
        "{report:#}"
    );
}

#[test]
fn check_finds_case_collisions_on_mysql() {
    let site = Site::populated(Backend::Mysql);
    // the recommended schema's keys refuse a twin in capitals, as SQLite's NOCASE does
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&site.url).unwrap()).unwrap();
    let twin = mysql::prelude::Queryable::query_drop(
        &mut conn,
        "INSERT INTO popbox VALUES ('example.org','Alice','x','Alice')",
    );
    assert!(twin.is_err(), "Alice beside alice");
    // a recommended schema made before its names became case-insensitive lets one in, and
    // there a capital makes the row unreachable
    raw(
        &site,
        "ALTER TABLE popbox MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL, \
         MODIFY local_part VARCHAR(255) COLLATE utf8mb4_bin NOT NULL; \
         INSERT INTO popbox VALUES ('example.org','Alice','x','Alice'); \
         INSERT INTO popbox VALUES ('Example.ORG','Carol','{plaintext}carol-pw-1','carol')",
    );
    let report = site.run(&["--json", "check"]).status(1).json();
    assert!(
        has(&report["problems"], "collision", "Alice@example.org"),
        "{report:#}"
    );
    for row in ["popbox Alice@example.org", "popbox Carol@Example.ORG"] {
        assert!(
            has(&report["problems"], "mixed-case", row),
            "{row}: {report:#}"
        );
    }
    assert!(
        has(&report["warnings"], "case-sensitive-names", "popbox"),
        "{report:#}"
    );
    assert_eq!(rule_of(&site, "carol@example.org"), "catch-all");
    // the twin refuses the migration, changing nothing
    let out = site.run(&["--json", "migrate"]).status(3);
    assert_eq!(out.json()["case_sensitive"], serde_json::json!(["popbox"]));
    raw(&site, "DELETE FROM popbox WHERE local_part = 'Alice'");
    let dry = site.run(&["migrate", "--dry-run"]).status(0);
    assert!(dry.stdout.contains("case-insensitive"), "{dry:#?}");
    assert_eq!(rule_of(&site, "carol@example.org"), "catch-all");
    let out = site.run(&["migrate"]).status(0);
    assert!(out.stdout.contains("popbox"), "{out:#?}");
    // afterwards Carol is found, and check has nothing to say about her
    assert_eq!(rule_of(&site, "carol@example.org"), "popbox");
    let log = site.run(&["--json", "log"]).status(0).json();
    let record = log
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "case-insensitive names")
        .unwrap_or_else(|| panic!("no migration record: {log:#}"));
    assert_eq!(
        (&record["object"], &record["after"]),
        (&"migration".into(), &"tables=popbox".into())
    );
    let report = site.run(&["--json", "check"]).json();
    for list in ["problems", "warnings"] {
        for check in ["mixed-case", "case-sensitive-names", "collision"] {
            assert!(!has(&report[list], check, ""), "{check}: {report:#}");
        }
    }
}

/// The rule `resolve` names for `address`.
fn rule_of(site: &Site, address: &str) -> String {
    let resolved = site.run(&["--json", "resolve", address]).status(0).json();
    resolved[0]["result"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Rows other tools wrote in capitals are found where names compare case-insensitively (every
/// schema vmailsql creates): check reports nothing about them.
fn check_accepts_capitals_the_database_finds(b: Backend) {
    let site = Site::populated(b);
    raw(
        &site,
        "UPDATE forwarder SET local_part = 'Sales' WHERE local_part = 'sales'",
    );
    let report = site.run(&["--json", "check"]).status(0).json();
    for list in ["problems", "warnings"] {
        assert!(!has(&report[list], "mixed-case", ""), "{report:#}");
    }
    let resolved = site
        .run(&["--json", "resolve", "sales@example.org"])
        .status(0)
        .json();
    assert_eq!(resolved[0]["result"], "forwarder");
}

#[test]
fn check_warns_of_table_scans_and_strict_fails_on_warnings() {
    let site = Site::empty(Backend::Sqlite);
    // vmail-sql tables as an old SQLite port might have made them: no keys, no indexes
    raw(
        &site,
        "CREATE TABLE domain (domain_name TEXT, unix_user TEXT, password_hash TEXT, path TEXT, max_popbox INT); \
         CREATE TABLE forwarder (domain_name TEXT, local_part TEXT, remote_name TEXT); \
         CREATE TABLE popbox (domain_name TEXT, local_part TEXT, password_hash TEXT, mbox_name TEXT); \
         CREATE TABLE domain_alias (domain_name TEXT, alias TEXT); \
         INSERT INTO domain VALUES ('example.org','vmail',NULL,'/m',NULL)",
    );
    let report = site.run(&["--json", "check"]).status(0).json();
    assert!(has(&report["warnings"], "table-scan", "SCAN"), "{report:#}");
    site.run(&["check", "--strict"]).status(1);
}

// ---- export and import ----

fn export_import_round_trip(b: Backend) {
    let site = Site::populated(b);
    let file = site.file("site.jsonl");
    // an old world-readable file is not a reason to leak hashes
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = site
        .run(&["--json", "export", "--output", file.to_str().unwrap()])
        .status(0);
    assert_eq!(out.json()["records"]["popbox"], 2);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the export holds hashes: mode {mode:o}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(site.run(&["export"]).status(0).stdout, text);
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let kind = record["type"].as_str().unwrap();
        assert!(
            ["domain", "alias", "popbox", "forwarder"].contains(&kind),
            "{line}"
        );
        assert!(line.starts_with("{\"type\":"), "type comes first: {line}");
    }

    let copy = Site::new(b);
    let dry = copy
        .run(&["--json", "import", "--dry-run", file.to_str().unwrap()])
        .status(0);
    assert_eq!(dry.json()["dry_run"], true);
    assert!(
        copy.vmail().domains().unwrap().is_empty(),
        "a dry run writes nothing"
    );
    let out = copy.run_with(&["--json", "import"], &text).status(0);
    assert_eq!(out.json()["records"]["forwarder"], 2);
    assert_eq!(copy.snapshot(), site.snapshot());
    copy.run_with(
        &["auth", "alice@example.org", "--password-stdin"],
        "alice-pw",
    )
    .status(0);
    // records in any order: a popbox before its domain
    let reversed: Vec<&str> = text.lines().rev().collect();
    let third = Site::new(b);
    third
        .run_with(&["import", "-"], &reversed.join("\n"))
        .status(0);
    assert_eq!(third.snapshot(), site.snapshot());
}

fn import_checks_everything_and_writes_all_or_nothing(b: Backend) {
    let site = Site::populated(b);
    let before = site.snapshot();
    let import = |text: &str| site.run_with(&["--json", "import"], text);
    // unreadable lines: every one is reported
    let out = import(
        "{\"type\":\"domain\",\"name\":\"a.example\",\"path\":\"/a\",\"unix_user\":\"vmail\"}\n\
         not json\n\
         {\"type\":\"mailbox\"}\n\
         {\"type\":\"alias\",\"alias\":\"b.example\",\"domain\":\"a.example\",\"colour\":\"red\"}\n",
    )
    .fails(2, "line 2: not JSON");
    for expected in ["line 3: unknown type", "line 4: unknown field \"colour\""] {
        assert!(out.stderr.contains(expected), "{out:#?}");
    }
    assert_eq!(out.json()["error"]["problems"].as_array().unwrap().len(), 3);
    // well-formed records that the site refuses: every one reported, nothing written
    let out = import(
        "{\"type\":\"domain\",\"name\":\"new.example\",\"path\":\"/n\",\"unix_user\":\"vmail\"}\n\
         {\"type\":\"popbox\",\"domain\":\"new.example\",\"local_part\":\"ann\",\"mbox_name\":\"ann\",\"password_hash\":\"{md5}5ebe2294ecd0e0f08eab7690d2a6ee69\"}\n\
         {\"type\":\"popbox\",\"domain\":\"example.org\",\"local_part\":\"alice\",\"mbox_name\":\"a2\"}\n\
         {\"type\":\"popbox\",\"domain\":\"new.example\",\"local_part\":\"eve\",\"mbox_name\":\"../x\"}\n\
         {\"type\":\"forwarder\",\"domain\":\"nowhere.example\",\"local_part\":\"x\",\"remote_name\":\"a@b.example\"}\n\
         {\"type\":\"domain\",\"name\":\"new.example\",\"path\":\"/n2\",\"unix_user\":\"vmail\"}\n",
    )
    .status(3);
    for expected in [
        "line 3: popbox alice@example.org already exists",
        "line 4: mbox_name",
        "line 5: no such domain nowhere.example",
        "line 6: domain new.example already exists",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {out:#?}");
    }
    assert!(
        !out.stderr.contains("line 1:") && !out.stderr.contains("line 2:"),
        "{out:#?}"
    );
    import("").fails(2, "no records");
    site.run(&["import", "/nonexistent/site.jsonl"])
        .fails(2, "cannot read");
    assert_eq!(site.snapshot(), before);
}

/// The import reads a private copy of its input in $TMPDIR (standard input can be read only
/// once): nothing is left there afterwards, and a $TMPDIR it cannot write is a clear error.
#[test]
fn import_leaves_no_copy_of_its_input_behind() {
    let site = Site::populated(Backend::Sqlite);
    let text = site.run(&["export"]).status(0).stdout;
    let copy = Site::new(Backend::Sqlite);
    let import = |tmp: &Path| {
        let out = Command::new(BIN)
            .args(["--config", copy.config.to_str().unwrap(), "import"])
            .env("TMPDIR", tmp)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child.stdin.take().unwrap().write_all(text.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = copy.file("no-such-dir");
    let (code, stderr) = import(&missing);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("private copy") && stderr.contains("TMPDIR"),
        "{stderr}"
    );
    assert!(copy.vmail().domains().unwrap().is_empty());
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(import(tmp.path()), (Some(0), String::new()));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert_eq!(copy.snapshot(), site.snapshot());
}

#[test]
fn a_site_moves_from_mysql_to_sqlite_and_back_unchanged() {
    let mysql = Site::populated(Backend::Mysql);
    // hashes as a 2002 site holds them: bare MD5, DES crypt, old MySQL PASSWORD(), plaintext
    raw(
        &mysql,
        "INSERT INTO popbox VALUES ('example.org','legacy','5ebe2294ecd0e0f08eab7690d2a6ee69','legacy'); \
         INSERT INTO domain VALUES ('old.example','65534','{crypt}abNANd1rDfiNc','/var/mail/old',NULL); \
         INSERT INTO popbox VALUES ('old.example','m','{mysql}428567f408994404','m'); \
         INSERT INTO popbox VALUES ('old.example','p','{plaintext}secret','sub/p'); \
         INSERT INTO domain VALUES ('fwd.example',NULL,NULL,NULL,NULL); \
         INSERT INTO forwarder VALUES ('fwd.example','_default_','a@remote.example')",
    );
    let exported = mysql.run(&["export"]).status(0).stdout;
    let sqlite = Site::new(Backend::Sqlite);
    sqlite.run_with(&["import"], &exported).status(0);
    assert_eq!(sqlite.run(&["export"]).status(0).stdout, exported);
    for (login, pw) in [
        ("legacy@example.org", "secret"),
        ("m@old.example", "sec ret"),
        ("p@old.example", "secret"),
    ] {
        sqlite
            .run_with(&["auth", login, "--password-stdin"], pw)
            .status(0);
    }
    let back = Site::new(Backend::Mysql);
    back.run_with(&["import"], &sqlite.run(&["export"]).stdout)
        .status(0);
    assert_eq!(back.run(&["export"]).status(0).stdout, exported);
    assert_eq!(back.snapshot(), mysql.snapshot());
}

// ---- help, completions, usage ----

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let top = tool(&["--help"], "").status(0).stdout;
    for word in [
        "Exit status",
        "75  temporarily",
        "--json",
        "--config",
        "--database",
    ] {
        assert!(top.contains(word), "{word} missing from --help");
    }
    let commands = [
        "init",
        "migrate",
        "domain",
        "popbox",
        "forwarder",
        "catchall",
        "alias",
        "resolve",
        "auth",
        "hash",
        "check",
        "export",
        "import",
        "completions",
    ];
    for command in commands {
        assert!(top.contains(command), "{command} missing from --help");
        let help = tool(&[command, "--help"], "").status(0).stdout;
        assert!(help.contains("Usage: vmailctl"), "{command}: {help}");
    }
    for sub in ["add", "show", "change", "passwd", "delete", "list"] {
        tool(&["domain", sub, "--help"], "").status(0);
    }
    assert!(tool(&["--version"], "")
        .status(0)
        .stdout
        .starts_with("vmailctl "));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tool(&["completions", shell], "").status(0).stdout;
        assert!(
            out.contains("vmailctl") && out.contains("popbox"),
            "{shell}"
        );
    }
    tool(&["completions", "tcsh"], "").fails(2, "invalid value");
}

#[test]
fn usage_errors_are_one_line_and_json_when_asked() {
    let out = tool(&["frobnicate"], "").fails(2, "unrecognized subcommand");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    let out = tool(&["--json", "popbox", "add"], "").status(2);
    assert_eq!(out.json()["error"]["kind"], "usage");
}

both_backends!(
    init_creates_once_and_force_only_adds,
    migrate_on_recommended_has_nothing_to_do,
    domain_lifecycle,
    domain_bad_input_changes_nothing,
    popbox_lifecycle,
    popbox_bad_input_changes_nothing,
    forwarders_catchall_and_aliases,
    forwarder_bad_input_changes_nothing,
    resolve_names_the_rule,
    auth_never_tells_who_exists,
    check_passes_a_healthy_site,
    check_finds_every_kind_of_problem,
    check_accepts_capitals_the_database_finds,
    export_import_round_trip,
    import_checks_everything_and_writes_all_or_nothing,
);

#[test]
fn a_password_in_the_url_query_is_never_printed() {
    // Port 1 on loopback refuses at once: the error names the server, not the password.
    let url = "mysql://u@127.0.0.1:1/d?password=hunter2secret";
    let out = tool(&["--database", url, "domain", "list"], "");
    let out = out.fails(75, "127.0.0.1");
    assert!(!out.stderr.contains("hunter2"), "{out:#?}");
    assert!(out.stderr.contains("password=***"), "{out:#?}");
}
