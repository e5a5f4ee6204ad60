//! `vmailctl log` end to end on both backends: the tool's changes carry the Unix user, import and
//! migration are one record each, filters and --json select, prune deletes old records.
#![cfg(feature = "cli")]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Backend;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vmailctl");

/// Runs vmailctl on `url`; returns (status, stdout, stderr).
fn run(url: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("--database")
        .arg(url)
        .args(args)
        .env_remove("VMAILSQL_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vmailctl");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok(url: &str, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = run(url, args, stdin);
    assert_eq!(code, 0, "vmailctl {args:?}: {out}{err}");
    out
}

fn log_json(url: &str, filters: &[&str]) -> Vec<Value> {
    let out = ok(url, &[&["log", "--json"], filters].concat(), "");
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn fresh(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let (url, dir) = common::fresh_sqlite_db();
            (url, Some(dir))
        }
        Backend::Mysql => (common::fresh_mysql_db(), None),
    }
}

fn unix_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn the_tool_records_and_reads_the_log(backend: Backend) {
    let (url, _dir) = fresh(backend);
    ok(&url, &["init"], "");
    let add = [
        "domain",
        "add",
        "example.org",
        "--path",
        "/var/mail/example.org",
    ];
    ok(
        &url,
        &[&add[..], &["--user", "vmail", "--password-stdin"]].concat(),
        "Dom-Secret-1\n",
    );
    ok(
        &url,
        &["popbox", "add", "alice@example.org", "--password-stdin"],
        "Alice-Secret-2\n",
    );
    ok(
        &url,
        &[
            "domain",
            "add",
            "other.example",
            "--path",
            "/var/mail/o",
            "--user",
            "vmail",
        ],
        "",
    );
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 3, "{all:#?}");
    let actor = format!("unix:{}", unix_user());
    assert!(all
        .iter()
        .all(|r| r["actor"] == actor.as_str() && r["origin"] == "local"));
    assert_eq!(all[1]["object"], "popbox");
    assert!(all[0]["at"].as_str().unwrap().ends_with('Z'));
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains("Secret"), "{text}");
    assert_eq!(log_json(&url, &["--domain", "example.org"]).len(), 2);
    assert_eq!(
        log_json(&url, &["--action", "created", "--actor", &actor]).len(),
        3
    );
    assert_eq!(log_json(&url, &["--actor", "unix:nobody-else"]).len(), 0);
    assert_eq!(log_json(&url, &["--since", "2999-01-01"]).len(), 0);
    assert_eq!(
        log_json(&url, &["--until", "2000-01-01T00:00:00Z"]).len(),
        0
    );
    assert_eq!(log_json(&url, &["--since", "1h"]).len(), 3);
    let human = ok(&url, &["log", "--domain", "other.example"], "");
    assert!(
        human.starts_with("WHEN") && human.contains("other.example"),
        "{human}"
    );
    let (code, _, err) = run(&url, &["log", "--since", "last tuesday"], "");
    assert_ne!(code, 0);
    assert!(err.contains("--since"), "{err}");
    let (code, _, err) = run(&url, &["log", "prune", "--older-than", "soon"], "");
    assert_eq!(code, 2, "{err}");
    let pruned = ok(
        &url,
        &["--json", "log", "prune", "--older-than", "365d"],
        "",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&pruned).unwrap()["deleted"],
        0
    );
    assert_eq!(log_json(&url, &["--action", "pruned"]).len(), 1);

    // an import is one record; export/import between two sites
    let export = ok(&url, &["export"], "");
    let (other, _dir2) = fresh(backend);
    ok(&other, &["init"], "");
    ok(&other, &["import"], &export);
    let imported = log_json(&other, &[]);
    assert_eq!(imported.len(), 1, "{imported:#?}");
    assert_eq!(imported[0]["action"], "imported");
    let after = imported[0]["after"].as_str().unwrap();
    assert!(
        after.starts_with("domains=2, aliases=0, popboxes=1, forwarders=0, sha256="),
        "{after}"
    );
}

fn log_init_adds_the_table_to_an_existing_site(backend: Backend) {
    let (url, _dir) = fresh(backend);
    ok(&url, &["init"], "");
    let drop = "DROP TABLE audit_log";
    if let Some(path) = url.strip_prefix("sqlite://") {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(drop)
            .unwrap();
    } else {
        common::admin_sql(&format!("DROP TABLE {}.audit_log", common::db_name(&url)));
    }
    let (code, _, err) = run(&url, &["log"], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("vmailctl log init"), "{err}");
    // without the table (audit = auto) changes go on unrecorded, as on a seed site
    ok(
        &url,
        &[
            "domain",
            "add",
            "example.org",
            "--path",
            "/var/mail/e",
            "--user",
            "vmail",
        ],
        "",
    );
    let created = ok(&url, &["--json", "log", "init"], "");
    assert_eq!(
        serde_json::from_str::<Value>(&created).unwrap()["created"],
        true
    );
    let again = ok(&url, &["--json", "log", "init"], "");
    assert_eq!(
        serde_json::from_str::<Value>(&again).unwrap()["created"],
        false
    );
    ok(&url, &["domain", "delete", "example.org"], "");
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["action"], "deleted");
}

/// The README's `vmailctl log` examples run as shown.
fn the_readme_examples_run(backend: Backend) {
    let (url, _dir) = fresh(backend);
    ok(&url, &["init"], "");
    ok(
        &url,
        &[
            "domain",
            "add",
            "example.org",
            "--path",
            "/var/mail/e",
            "--user",
            "vmail",
        ],
        "",
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let examples: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("vmailctl log"))
        .collect();
    assert_eq!(examples.len(), 3, "{examples:?}");
    for line in examples {
        let command = line.split('#').next().unwrap();
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        ok(&url, &args, "");
    }
}

both_backends!(
    the_readme_examples_run,
    the_tool_records_and_reads_the_log,
    log_init_adds_the_table_to_an_existing_site,
);

#[test]
fn a_migration_is_one_record() {
    let url = common::fresh_mysql_db();
    ok(&url, &["init", "--legacy"], "");
    ok(
        &url,
        &[
            "domain",
            "add",
            "example.org",
            "--path",
            "/var/mail/e",
            "--user",
            "vmail",
        ],
        "",
    );
    ok(&url, &["migrate"], "");
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[1]["object"], "migration");
    let after = all[1]["after"].as_str().unwrap();
    assert!(
        after.starts_with("domains=1, aliases=0, popboxes=0, forwarders=0, sha256="),
        "{after}"
    );
}
