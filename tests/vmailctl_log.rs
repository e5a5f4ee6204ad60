//! `vmailctl log` end to end on both backends: the tool's changes carry the Unix user, import and
//! migration are one record each, filters and --json select, prune deletes old records.
#![cfg(feature = "cli")]

mod common;

use std::process::Command;

use common::Backend;
use serde_json::Value;
use vmailsql::{SchemaKind, Vmail};

/// Runs vmailctl on `url`; returns (status, stdout, stderr).
fn run(url: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    common::vmailctl(&[&["--database", url], args].concat(), stdin)
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
    common::fresh_db(backend)
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
        after.starts_with("domains=2, aliases=0, popboxes=1, forwarders=0, blake3="),
        "{after}"
    );
}

/// A site from before the audit log: its table dropped behind the tool's back.
fn drop_audit_table(url: &str) {
    common::raw_sql(url, "DROP TABLE audit_log");
    assert!(!has_audit_table(url));
}

fn has_audit_table(url: &str) -> bool {
    Vmail::open_url(url).unwrap().audit_table_exists().unwrap()
}

fn log_init_adds_the_table_to_an_existing_site(backend: Backend) {
    let (url, _dir) = fresh(backend);
    ok(&url, &["init"], "");
    drop_audit_table(&url);
    let (code, _, err) = run(&url, &["log"], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("vmailctl log init"), "{err}");
    // without the table (audit = auto) changes go on unrecorded, as on a seed site
    add_domain(&url, "example.org");
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

fn add_domain(url: &str, name: &str) {
    let path = format!("/var/mail/{name}");
    ok(
        url,
        &["domain", "add", name, "--path", &path, "--user", "vmail"],
        "",
    );
}

/// `init`, `init --force` and `migrate` each create the audit table where it is missing, and
/// the changes after them are recorded (on MySQL: from the legacy schema too, below).
fn init_force_and_migrate_create_the_audit_table(backend: Backend) {
    let (url, _dir) = fresh(backend);
    let init = json(&ok(&url, &["--json", "init"], ""));
    assert_eq!(init["schema"], "recommended");
    assert!(has_audit_table(&url));

    drop_audit_table(&url);
    let force = json(&ok(&url, &["--json", "init", "--force"], ""));
    assert_eq!(
        force["created"],
        serde_json::json!(["audit_log"]),
        "{force:#}"
    );
    add_domain(&url, "example.org");
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (&all[0]["object"], &all[0]["name"]),
        (&"domain".into(), &"example.org".into())
    );
    let again = json(&ok(&url, &["--json", "init", "--force"], ""));
    assert_eq!(again["created"], serde_json::json!([]), "{again:#}");

    drop_audit_table(&url);
    let dry = ok(&url, &["migrate", "--dry-run"], "");
    assert!(dry.contains("would create the audit_log table"), "{dry}");
    assert!(!has_audit_table(&url), "a dry run creates nothing");
    let migrated = json(&ok(&url, &["--json", "migrate"], ""));
    assert_eq!(migrated["found"], "recommended");
    assert_eq!(migrated["audit_table_created"], true, "{migrated:#}");
    add_domain(&url, "other.example");
    assert_eq!(log_json(&url, &[]).len(), 1);
    let twice = json(&ok(&url, &["--json", "migrate"], ""));
    assert_eq!(twice["audit_table_created"], false, "{twice:#}");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The legacy MySQL schema gets the table from `init --legacy`, from `init --force` (the schema
/// staying legacy), and from the migration of a legacy site that predates the audit log.
#[test]
fn the_legacy_schema_gets_the_audit_table_too() {
    let url = common::fresh_mysql_db();
    ok(&url, &["init", "--legacy"], "");
    assert!(has_audit_table(&url));
    let vmail = || Vmail::open_url(&url).unwrap();
    assert_eq!(vmail().schema_kind().unwrap(), Some(SchemaKind::Legacy));

    drop_audit_table(&url);
    let force = json(&ok(&url, &["--json", "init", "--force"], ""));
    assert_eq!(
        (&force["schema"], &force["created"]),
        (&"legacy".into(), &serde_json::json!(["audit_log"])),
        "{force:#}"
    );
    assert_eq!(vmail().schema_kind().unwrap(), Some(SchemaKind::Legacy));
    add_domain(&url, "example.org");
    assert_eq!(log_json(&url, &[]).len(), 1);

    drop_audit_table(&url);
    let dry = ok(&url, &["migrate", "--dry-run"], "");
    assert!(dry.contains("would create the audit_log table"), "{dry}");
    assert!(!has_audit_table(&url));
    ok(&url, &["migrate"], "");
    assert_eq!(
        vmail().schema_kind().unwrap(),
        Some(SchemaKind::Recommended)
    );
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["object"], "migration");
}

/// The README's `vmailctl log` examples run as shown.
fn the_readme_examples_run(backend: Backend) {
    let (url, _dir) = fresh(backend);
    ok(&url, &["init"], "");
    add_domain(&url, "example.org");
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
    init_force_and_migrate_create_the_audit_table,
);

#[test]
fn a_migration_is_one_record() {
    let url = common::fresh_mysql_db();
    ok(&url, &["init", "--legacy"], "");
    add_domain(&url, "example.org");
    ok(&url, &["migrate"], "");
    let all = log_json(&url, &[]);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[1]["object"], "migration");
    let after = all[1]["after"].as_str().unwrap();
    assert!(
        after.starts_with("domains=1, aliases=0, popboxes=0, forwarders=0, blake3="),
        "{after}"
    );
}
