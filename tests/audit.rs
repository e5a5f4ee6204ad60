//! The audit log on both backends: every change records who, what and the outcome in its own
//! transaction; rolled-back changes leave nothing; lookups write nothing; no secret gets in.

mod common;

use common::{Backend, Fixture};
use vmailsql::{AuditFilter, AuditMode, AuditRecord, ErrorKind, NewDomain, Popbox, Record, Vmail};

fn log(v: &Vmail) -> Vec<AuditRecord> {
    v.audit_log(&AuditFilter::default()).unwrap()
}

/// Every record as one line, for greps.
fn dump(v: &Vmail) -> String {
    log(v).iter().map(|r| format!("{r:?}\n")).collect()
}

fn actions(v: &Vmail) -> Vec<String> {
    log(v)
        .iter()
        .map(|r| format!("{} {} {}", r.object, r.action, r.name))
        .collect()
}

fn example(v: &Vmail) {
    let mut d = NewDomain::new("example.org", "/var/mail/example.org", "vmail");
    d.password = Some("Domain-Secret-1".into());
    v.add_domain(&d).unwrap();
}

fn every_change_is_recorded_with_its_actor(backend: Backend) {
    let fx = Fixture::new(backend);
    let v = &fx.vmail;
    let (default_actor, origin) = v.actor();
    assert!(default_actor.starts_with("unix:"), "{default_actor}");
    assert_eq!(origin, "local");
    example(v);
    v.set_actor("api:test-suite", Some("192.0.2.7")).unwrap();
    v.add_popbox("example.org", "alice", "Alice-Secret-2", None)
        .unwrap();
    v.set_popbox_password("example.org", "alice", "Alice-Secret-3")
        .unwrap();
    v.change_popbox_password("alice@example.org", "Alice-Secret-3", "Alice-Secret-4")
        .unwrap();
    v.add_forwarder("example.org", "info", "alice@example.org")
        .unwrap();
    v.change_forwarder("example.org", "info", "bob@remote.example")
        .unwrap();
    v.set_catch_all("example.org", "catch@remote.example")
        .unwrap();
    v.set_catch_all("example.org", "other@remote.example")
        .unwrap();
    v.add_alias("example.net", "example.org").unwrap();
    v.change_domain(
        "example.org",
        &vmailsql::DomainChange {
            max_popbox: Some(Some(5)),
            ..Default::default()
        },
    )
    .unwrap();
    v.set_domain_password("example.org", "Domain-Secret-5")
        .unwrap();
    v.delete_forwarder("example.org", "info").unwrap();
    v.delete_alias("example.net").unwrap();
    v.delete_popbox("example.org", "alice").unwrap();
    assert_eq!(
        actions(v),
        [
            "domain created example.org",
            "popbox created alice@example.org",
            "password set alice@example.org",
            "password changed alice@example.org",
            "forwarder created info@example.org",
            "forwarder changed info@example.org",
            "catch-all created _default_@example.org",
            "catch-all changed _default_@example.org",
            "alias created example.net",
            "domain changed example.org",
            "password changed example.org",
            "forwarder deleted info@example.org",
            "alias deleted example.net",
            "popbox deleted alice@example.org",
        ]
    );
    let records = log(v);
    assert_eq!(records[0].actor, default_actor);
    assert!(records[1..]
        .iter()
        .all(|r| r.actor == "api:test-suite" && r.origin == "192.0.2.7" && r.outcome == "ok"));
    let fwd = &records[5];
    assert_eq!(
        fwd.before.as_deref(),
        Some("remote_name=\"alice@example.org\"")
    );
    assert_eq!(
        fwd.after.as_deref(),
        Some("remote_name=\"bob@remote.example\"")
    );
    assert!(records[9]
        .after
        .as_deref()
        .unwrap()
        .contains("max_popbox=\"5\""));
    assert!(records.iter().all(|r| r.domain == "example.org"));
    // deleting the domain last records its values before
    v.delete_domain("example.org").unwrap();
    let last = log(v).pop().unwrap();
    assert_eq!(
        (last.object.as_str(), last.action.as_str()),
        ("domain", "deleted")
    );
    assert!(last.before.unwrap().contains("/var/mail/example.org"));
}

fn no_secret_reaches_a_record(backend: Backend) {
    let fx = Fixture::with(backend, |c| {
        c.upgrade_on_login = true;
        c.upgrade_plaintext = true;
    });
    let v = &fx.vmail;
    example(v);
    let mut secrets = vec!["Domain-Secret-1".to_string(), "Weak-Secret-6".to_string()];
    v.add_popbox("example.org", "alice", "Alice-Secret-2", None)
        .unwrap();
    secrets.push("Alice-Secret-2".into());
    let plain = "{plaintext}Weak-Secret-6";
    v.set_popbox_hash("example.org", "alice", plain).unwrap();
    secrets.push(plain.into());
    // a login upgrades the weak hash: the record says so, without either hash
    v.authenticate("alice@example.org", "Weak-Secret-6")
        .unwrap();
    secrets.push(
        v.popbox("example.org", "alice")
            .unwrap()
            .password_hash
            .unwrap(),
    );
    v.set_popbox_password("example.org", "alice", "Alice-Secret-7")
        .unwrap();
    secrets.push("Alice-Secret-7".into());
    secrets.push(
        v.popbox("example.org", "alice")
            .unwrap()
            .password_hash
            .unwrap(),
    );
    secrets.push(v.domain("example.org").unwrap().password_hash.unwrap());
    let imported = "{plaintext}Import-Secret-8";
    v.import(&[Record::Popbox(Popbox {
        domain: "example.org".into(),
        local_part: "carol".into(),
        password_hash: Some(imported.into()),
        mbox_name: None,
    })])
    .unwrap();
    secrets.push(imported.into());
    let _ = v.authenticate_domain("example.org", "Wrong-Secret-9");
    secrets.push("Wrong-Secret-9".into());
    let text = dump(v);
    for secret in &secrets {
        let core = secret.trim_start_matches("{plaintext}");
        assert!(!text.contains(core), "{secret:?} in the audit log:\n{text}");
    }
    let rehash = log(v).into_iter().find(|r| r.action == "rehashed").unwrap();
    assert_eq!(rehash.before.as_deref(), Some("scheme=\"plaintext\""));
    assert!(rehash.after.unwrap().starts_with("scheme="));
    let failed = log(v).pop().unwrap();
    assert_eq!(
        (failed.action.as_str(), failed.outcome.as_str()),
        ("sign-in-failed", "failed")
    );
}

fn a_refused_change_leaves_no_record(backend: Backend) {
    let fx = Fixture::new(backend);
    let v = &fx.vmail;
    let mut d = NewDomain::new("example.org", "/var/mail/example.org", "vmail");
    d.max_popbox = Some(1);
    v.add_domain(&d).unwrap();
    v.add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
    let before = log(v).len();
    assert_eq!(
        v.add_popbox("example.org", "bob", "pw-secret-2", None)
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        v.delete_popbox("example.org", "nobody").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // an import refused on its second record writes neither rows nor its record
    let bad = [
        Record::Alias(vmailsql::DomainAlias {
            alias: "x.example".into(),
            domain: "example.org".into(),
        }),
        Record::Alias(vmailsql::DomainAlias {
            alias: "y.example".into(),
            domain: "missing.example".into(),
        }),
    ];
    assert!(v.import(&bad).is_err());
    assert_eq!(log(v).len(), before);
    // lookups write nothing
    v.resolve("alice@example.org").unwrap();
    v.authenticate("alice@example.org", "pw-secret-1").unwrap();
    let _ = v.authenticate("alice@example.org", "wrong");
    v.domains().unwrap();
    assert_eq!(log(v).len(), before);
}

fn a_record_that_cannot_be_written_fails_the_change(backend: Backend) {
    let fx = Fixture::new(backend);
    example(&fx.vmail);
    let v = match backend {
        Backend::Sqlite => {
            // a trigger stands in for a database that refuses the insert
            raw_sql(
                &fx,
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'audit_log is read-only'); END",
            );
            fx.reopen(|_| {})
        }
        Backend::Mysql => {
            let db = common::db_name(&fx.url);
            let user = format!("ro_{db}");
            common::admin_sql(&format!(
                "CREATE USER '{user}'@'localhost' IDENTIFIED BY 'ro-pw'; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.domain TO '{user}'@'localhost'; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.popbox TO '{user}'@'localhost'; \
                 GRANT SELECT ON {db}.audit_log TO '{user}'@'localhost';"
            ));
            let url = fx
                .url
                .replacen("mysql://root@", &format!("mysql://{user}:ro-pw@"), 1);
            Vmail::open_url(&url).unwrap()
        }
    };
    let e = v
        .add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot write the audit record"),
        "{e}"
    );
    assert_eq!(fx.vmail.popboxes(Some("example.org")).unwrap(), []);
    assert_eq!(log(&fx.vmail).len(), 1);
}

fn the_audit_setting_decides(backend: Backend) {
    let fx = Fixture::new(backend);
    let off = fx.reopen(|c| c.audit = AuditMode::Off);
    example(&off);
    assert_eq!(log(&fx.vmail), []);
    // a site without the table: auto writes nothing, on refuses every change
    common_drop_audit(&fx);
    let auto = fx.reopen(|_| {});
    auto.add_popbox("example.org", "alice", "pw-secret-1", None)
        .unwrap();
    let on = fx.reopen(|c| c.audit = AuditMode::On);
    let e = on
        .add_popbox("example.org", "bob", "pw-secret-1", None)
        .unwrap_err();
    assert!(e.to_string().contains("vmailctl log init"), "{e}");
    assert!(on.popbox("example.org", "bob").is_err());
    assert!(on.create_audit_table().unwrap());
    assert!(!on.create_audit_table().unwrap());
    on.add_popbox("example.org", "bob", "pw-secret-1", None)
        .unwrap();
    assert_eq!(actions(&on), ["popbox created bob@example.org"]);
}

fn common_drop_audit(fx: &Fixture) {
    raw_sql(fx, "DROP TABLE audit_log");
}

/// One statement on the audit table, bypassing the library.
fn raw_sql(fx: &Fixture, sql: &str) {
    common::raw_sql(&fx.url, sql);
}

fn an_import_is_one_record_and_filters_select(backend: Backend) {
    let fx = Fixture::new(backend);
    let v = &fx.vmail;
    example(v);
    let records: Vec<Record> = (0..50)
        .map(|i| {
            Record::Popbox(Popbox {
                domain: "example.org".into(),
                local_part: format!("user{i}"),
                password_hash: Some("{plaintext}x".into()),
                mbox_name: None,
            })
        })
        .collect();
    v.set_actor("unix:importer", None).unwrap();
    v.import(&records).unwrap();
    let all = log(v);
    assert_eq!(all.len(), 2);
    let import = &all[1];
    assert_eq!(
        (import.object.as_str(), import.action.as_str()),
        ("import", "imported")
    );
    let after = import.after.clone().unwrap();
    assert!(
        after.starts_with("domains=0, aliases=0, popboxes=50, forwarders=0, blake3="),
        "{after}"
    );
    let by = |f: AuditFilter| v.audit_log(&f).unwrap().len();
    assert_eq!(
        by(AuditFilter {
            actor: Some("unix:importer".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        by(AuditFilter {
            action: Some("created".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        by(AuditFilter {
            domain: Some("EXAMPLE.org".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        by(AuditFilter {
            since: Some(all[0].at),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        by(AuditFilter {
            until: Some(all[0].at),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        by(AuditFilter {
            limit: Some(1),
            ..Default::default()
        }),
        1
    );
    // pruning nothing old still records that it ran
    assert_eq!(
        v.prune_audit_log(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert_eq!(log(v).pop().unwrap().action, "pruned");
    raw_sql(&fx, "UPDATE audit_log SET changed_at = changed_at - 172800");
    assert_eq!(
        v.prune_audit_log(std::time::Duration::from_secs(86_400))
            .unwrap(),
        3
    );
    assert_eq!(actions(v), ["audit pruned audit_log"]);
}

/// The import's digest is of the records as imported (names normalised), so one site's records
/// give one digest however they were spelled, and any change to a value gives another.
fn the_import_digest_names_its_records(backend: Backend) {
    let site = |domain: &str, hash: &str| -> Vec<Record> {
        let mut records = vec![Record::Domain(vmailsql::Domain {
            name: domain.into(),
            unix_user: Some("vmail".into()),
            password_hash: None,
            path: Some("/var/mail/example.org".into()),
            max_popbox: None,
        })];
        records.extend((0..20).map(|i| {
            Record::Popbox(Popbox {
                domain: domain.into(),
                local_part: format!("user{i}"),
                password_hash: Some(hash.into()),
                mbox_name: None,
            })
        }));
        records
    };
    let digest_of = |records: &[Record]| {
        let fx = Fixture::new(backend);
        fx.vmail.import(records).unwrap();
        let after = log(&fx.vmail).pop().unwrap().after.unwrap();
        let (_, digest) = after.split_once("blake3=").expect("a digest");
        assert_eq!(digest.len(), 64, "{after}");
        digest.to_string()
    };
    let plain = digest_of(&site("example.org", "{plaintext}x"));
    assert_eq!(digest_of(&site("Example.ORG", "{plaintext}x")), plain);
    assert_ne!(digest_of(&site("example.org", "{plaintext}y")), plain);
}

fn sessions_are_recorded(backend: Backend) {
    let fx = Fixture::new(backend);
    let v = &fx.vmail;
    example(v);
    v.set_actor("domain:example.org", Some("198.51.100.4"))
        .unwrap();
    v.authenticate_domain("example.org", "Domain-Secret-1")
        .unwrap();
    let token = v.create_session("example.org").unwrap();
    v.validate_session("example.org", &token).unwrap();
    v.destroy_session("example.org").unwrap();
    assert_eq!(
        actions(v)[1..],
        [
            "session signed-in example.org",
            "session signed-out example.org"
        ]
    );
    assert!(!dump(v).contains(&token));
}

both_backends!(
    every_change_is_recorded_with_its_actor,
    no_secret_reaches_a_record,
    a_refused_change_leaves_no_record,
    a_record_that_cannot_be_written_fails_the_change,
    the_audit_setting_decides,
    an_import_is_one_record_and_filters_select,
    the_import_digest_names_its_records,
    sessions_are_recorded,
);

#[test]
fn actors_are_checked() {
    let v = Vmail::open_url("sqlite::memory:").unwrap();
    assert_eq!(
        v.set_actor("", None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        v.set_actor("a\nb", None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        v.set_actor(&"x".repeat(256), None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}
