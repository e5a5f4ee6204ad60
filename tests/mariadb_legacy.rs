//! MariaDB-only behaviour: the seed's legacy schema unchanged, index use, migration, and a
//! database that is down or hung.

mod common;

use std::time::{Duration, Instant};

use vmailsql::{Config, ErrorKind, NewDomain, Resolution, SchemaKind, Vmail};

fn legacy_site() -> (Vmail, String) {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema_of(SchemaKind::Legacy).unwrap();
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    (v, url)
}

fn raw(url: &str, sql: &str) {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
        conn.query_drop(stmt).unwrap();
    }
}

/// A site as vmail-sql's own scripts left it: mixed case, unsalted hashes, an alias.
fn plant_legacy_rows(url: &str) {
    raw(url, "INSERT INTO domain VALUES ('Example.ORG','vmail','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','/var/mail/example.org',NULL); \
              INSERT INTO popbox VALUES ('Example.ORG','Fred','5ebe2294ecd0e0f08eab7690d2a6ee69','fred'); \
              INSERT INTO forwarder VALUES ('Example.ORG','Info','fred@example.org'); \
              INSERT INTO forwarder VALUES ('Example.ORG','_default_','postmaster@elsewhere.example'); \
              INSERT INTO domain_alias VALUES ('Example.ORG','Example.NET')");
}

#[test]
fn legacy_schema_works_unchanged() {
    let (v, url) = legacy_site();
    plant_legacy_rows(&url);
    match v.resolve("fred@example.net").unwrap() {
        Resolution::Mailbox(m) => assert_eq!(m.path, "/var/mail/example.org/fred"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        v.resolve("INFO@example.org").unwrap().rule(),
        vmailsql::Rule::Forwarder
    );
    assert_eq!(
        v.resolve("anyone@example.org").unwrap().rule(),
        vmailsql::Rule::CatchAll
    );
    assert!(v.authenticate("fred@example.org", "secret").is_ok());
    assert!(v.authenticate_domain("example.org", "secret").is_ok());
    assert_eq!(
        v.authenticate("fred@example.org", "wrong")
            .unwrap_err()
            .kind(),
        ErrorKind::AuthFailed
    );
    // administration on the legacy tables
    v.add_popbox("example.org", "george", "popbox-pw", None)
        .unwrap();
    assert!(v.authenticate("george@example.org", "popbox-pw").is_ok());
    v.create_session("example.org").unwrap();
}

#[test]
fn legacy_prefix_keys_collide_as_documented() {
    let (v, _url) = legacy_site();
    v.add_domain(&NewDomain::new(
        "averyveryverylongdomain1.example",
        "/m/1",
        "vmail",
    ))
    .unwrap();
    v.add_domain(&NewDomain::new(
        "averyveryverylongdomain2.example",
        "/m/2",
        "vmail",
    ))
    .unwrap();
    v.add_popbox(
        "averyveryverylongdomain1.example",
        "alice",
        "popbox-pw",
        None,
    )
    .unwrap();
    // the 16-character prefix key makes the second alice a duplicate: a conflict, not a crash
    let e = v
        .add_popbox(
            "averyveryverylongdomain2.example",
            "alice",
            "popbox-pw",
            None,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    // on the recommended schema the same rows coexist
    let url = common::fresh_mysql_db();
    let r = Vmail::open_url(&url).unwrap();
    r.create_schema().unwrap();
    for d in [
        "averyveryverylongdomain1.example",
        "averyveryverylongdomain2.example",
    ] {
        r.add_domain(&NewDomain::new(d, "/m", "vmail")).unwrap();
        r.add_popbox(d, "alice", "popbox-pw", Some(d)).unwrap();
    }
    let collisions = r.collisions().unwrap();
    assert!(
        collisions
            .iter()
            .any(|c| c.rule == vmailsql::CollisionRule::LegacyPrefixKey && c.table == "popbox"),
        "{collisions:?}"
    );
}

/// Fails on any full scan in the plan of the resolution query.
fn assert_index_only(v: &Vmail, address: &str) {
    let plan = v.explain_resolve(address).unwrap();
    assert!(!plan.is_empty());
    let mut accesses = 0;
    for line in &plan {
        let access = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("type="))
            .unwrap_or("");
        match access {
            "const" | "eq_ref" | "ref" | "system" => accesses += 1,
            // no table read at all: the optimiser answered from the keys ("Impossible WHERE
            // noticed after reading const tables", "no matching row in const table") or this is
            // the UNION's result step
            "" => assert!(
                line.contains("Impossible WHERE")
                    || line.contains("no matching row")
                    || line.contains("table=<union"),
                "unexpected plan line {line:?} in {plan:#?}"
            ),
            other => panic!("access type {other} (scan) in {plan:#?}"),
        }
    }
    assert!(accesses >= 2, "expected keyed table accesses in {plan:#?}");
}

/// Enough popboxes that the optimiser would not prefer a scan for a small table, then fresh
/// statistics.
fn bulk_popboxes(url: &str) {
    let values: Vec<String> = (0..2000)
        .map(|i| format!("('d{i}.example','u{i}','x','u{i}')"))
        .collect();
    raw(
        url,
        &format!("INSERT INTO popbox VALUES {}", values.join(",")),
    );
    raw(url, "ANALYZE TABLE popbox, forwarder, domain, domain_alias");
}

#[test]
fn resolution_uses_indexes_on_both_schemas() {
    let (legacy, url) = legacy_site();
    plant_legacy_rows(&url);
    bulk_popboxes(&url);
    assert_index_only(&legacy, "fred@example.org");
    assert_index_only(&legacy, "fred@example.net");

    let url = common::fresh_mysql_db();
    let rec = Vmail::open_url(&url).unwrap();
    rec.create_schema().unwrap();
    rec.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))
    .unwrap();
    rec.add_popbox("example.org", "fred", "popbox-pw", None)
        .unwrap();
    rec.add_forwarder("example.org", "_default_", "fred@example.org")
        .unwrap();
    rec.add_alias("example.net", "example.org").unwrap();
    bulk_popboxes(&url);
    assert_index_only(&rec, "fred@example.org");
    assert_index_only(&rec, "nobody@example.net");
}

#[test]
fn migration_moves_legacy_to_recommended() {
    let (v, url) = legacy_site();
    plant_legacy_rows(&url);
    let dry = v.migrate_to_recommended(true).unwrap();
    assert_eq!((dry.found, dry.applied), (Some(SchemaKind::Legacy), false));
    assert!(dry.collisions.is_empty());
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    let done = v.migrate_to_recommended(false).unwrap();
    assert!(done.applied);
    let v = Vmail::open_url(&url).unwrap();
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Recommended));
    assert_eq!(v.domains().unwrap()[0].name, "example.org");
    assert!(v.authenticate("fred@example.org", "secret").is_ok());
    assert_eq!(
        v.resolve("info@example.net").unwrap().rule(),
        vmailsql::Rule::Forwarder
    );
    // running it again finds nothing to do
    assert!(!v.migrate_to_recommended(false).unwrap().applied);
}

#[test]
fn migration_refuses_case_collisions() {
    let (v, url) = legacy_site();
    // a legacy site whose tables were created with a case-sensitive collation
    raw(
        &url,
        "ALTER TABLE popbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; \
              INSERT INTO domain VALUES ('example.org','vmail',NULL,'/m',NULL); \
              INSERT INTO popbox VALUES ('example.org','fred','x','fred'); \
              INSERT INTO popbox VALUES ('example.org','Fred','y','Fred')",
    );
    let report = v.migrate_to_recommended(false).unwrap();
    assert!(!report.applied);
    assert_eq!(report.collisions.len(), 1, "{:?}", report.collisions);
    assert_eq!(report.collisions[0].rows.len(), 2);
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    assert_eq!(v.popboxes(None).unwrap().len(), 2, "nothing dropped");
}

#[test]
fn database_down_is_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "mysql://root@localhost/x?socket={}/missing.sock",
        dir.path().display()
    );
    let v = Vmail::open_url(&url).unwrap();
    assert_eq!(
        v.resolve("a@example.org").unwrap_err().kind(),
        ErrorKind::Temporary
    );
    assert_eq!(
        v.authenticate("a@example.org", "pw").unwrap_err().kind(),
        ErrorKind::Temporary
    );
    assert_eq!(
        v.authenticate_domain("example.org", "pw")
            .unwrap_err()
            .kind(),
        ErrorKind::Temporary
    );
    assert_eq!(
        v.add_domain(&NewDomain::new("example.org", "/m", "vmail"))
            .unwrap_err()
            .kind(),
        ErrorKind::Temporary
    );
}

#[test]
fn hung_server_times_out_as_temporary() {
    // A server that accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let mut config = Config::with_database(&format!("mysql://root@127.0.0.1:{port}/x"));
    config.read_timeout = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(1);
    let v = Vmail::open(config).unwrap();
    let started = Instant::now();
    assert_eq!(
        v.resolve("a@example.org").unwrap_err().kind(),
        ErrorKind::Temporary
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn server_restart_reconnects() {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema().unwrap();
    v.add_domain(&NewDomain::new("example.org", "/m", "vmail"))
        .unwrap();
    // kill our own connection from the server side, as wait_timeout or a restart would
    use mysql::prelude::Queryable;
    let mut admin = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    let ids: Vec<u64> = admin
        .query("SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND db = DATABASE()")
        .unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        // a connection that ended meanwhile is "unknown thread" (1094): fine
        if let Err(e) = admin.query_drop(format!("KILL {id}")) {
            assert!(e.to_string().contains("1094"), "{e}");
        }
    }
    // the next read notices the dead connection and retries once on a fresh one
    assert_eq!(v.domain("example.org").unwrap().name, "example.org");
}

/// The SQL migration script (for sites that migrate with the mariadb client) agrees with the
/// library: refuses collisions, otherwise migrates.
#[test]
fn sql_migration_script() {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sql/mysql/migrate-legacy.sql"
    ))
    .unwrap();
    let m = common::mariadb();
    let (v, url) = legacy_site();
    raw(
        &url,
        "ALTER TABLE popbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; \
              INSERT INTO domain VALUES ('example.org','vmail',NULL,'/m',NULL); \
              INSERT INTO popbox VALUES ('example.org','fred','x','fred'); \
              INSERT INTO popbox VALUES ('example.org','Fred','y','Fred')",
    );
    let db = common::db_name(&url);
    assert!(
        !common::mysql_cli(m, Some(&db), &script),
        "script must refuse collisions"
    );
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    assert_eq!(v.popboxes(None).unwrap().len(), 2);

    let (v, url) = legacy_site();
    plant_legacy_rows(&url);
    let db = common::db_name(&url);
    assert!(
        common::mysql_cli(m, Some(&db), &script),
        "script must migrate a clean site"
    );
    let v2 = Vmail::open_url(&url).unwrap();
    assert_eq!(v2.schema_kind().unwrap(), Some(SchemaKind::Recommended));
    assert!(v2.authenticate("fred@example.org", "secret").is_ok());
    assert_eq!(v2.case_sensitive_tables().unwrap(), Vec::<String>::new());
    drop(v);

    // names the new collation takes as one (latin1_swedish_ci tells them apart) are refused
    // too, before anything is copied
    let (v, url) = legacy_site();
    raw(
        &url,
        "INSERT INTO domain VALUES ('bar.example','vmail',NULL,'/m',NULL); \
         INSERT INTO domain VALUES ('bär.example','vmail',NULL,'/m2',NULL)",
    );
    assert!(
        !common::mysql_cli(m, Some(&common::db_name(&url)), &script),
        "script must refuse collation collisions"
    );
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    assert_eq!(v.domains().unwrap().len(), 2);
}

/// Migration refuses names that differ in more than case but that the recommended schema's
/// collation (`utf8mb4_general_ci`) takes as one key, as the new unique keys would: the report
/// is the database's own grouping, so a dry run that finds nothing means the copy fits.
#[test]
fn migration_refuses_collation_collisions() {
    let (v, url) = legacy_site();
    // latin1_swedish_ci tells `ä` from `a`; utf8mb4_general_ci does not
    raw(
        &url,
        "INSERT INTO domain VALUES ('bar.example','vmail',NULL,'/m',NULL); \
         INSERT INTO domain VALUES ('bär.example','vmail',NULL,'/m2',NULL)",
    );
    let report = v.migrate_to_recommended(true).unwrap();
    let found: Vec<_> = report
        .collisions
        .iter()
        .map(|c| (c.table.as_str(), c.rule, c.rows.clone()))
        .collect();
    assert_eq!(
        found,
        [(
            "domain",
            vmailsql::CollisionRule::Collation,
            vec!["bar.example".to_string(), "bär.example".to_string()]
        )]
    );
    let done = v.migrate_to_recommended(false).unwrap();
    assert!(!done.applied);
    assert_eq!(v.schema_kind().unwrap(), Some(SchemaKind::Legacy));
    assert_eq!(v.domains().unwrap().len(), 2, "nothing dropped");
    // without the twin the migration goes through, and the new names compare case-insensitively
    raw(&url, "DELETE FROM domain WHERE path = '/m2'");
    assert!(v.migrate_to_recommended(false).unwrap().applied);
    let v = Vmail::open_url(&url).unwrap();
    assert_eq!(v.case_sensitive_tables().unwrap(), Vec::<String>::new());
}

/// The name columns of a recommended schema made before they became case-insensitive.
const BINARY_NAMES: &str =
    "ALTER TABLE domain MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL; \
     ALTER TABLE forwarder MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL, \
         MODIFY local_part VARCHAR(255) COLLATE utf8mb4_bin NOT NULL; \
     ALTER TABLE popbox MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL, \
         MODIFY local_part VARCHAR(255) COLLATE utf8mb4_bin NOT NULL; \
     ALTER TABLE domain_alias MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL, \
         MODIFY alias VARCHAR(255) COLLATE utf8mb4_bin NOT NULL; \
     ALTER TABLE web_session MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_bin NOT NULL";

/// `migrate` gives an older recommended schema's binary name columns the case-insensitive
/// collation: rows other tools wrote in capitals are found afterwards, twins that differ only
/// in case refuse it (changing nothing), and lookups keep working part-way through.
#[test]
fn migration_makes_binary_recommended_names_case_insensitive() {
    let url = common::fresh_mysql_db();
    let v = Vmail::open_url(&url).unwrap();
    v.create_schema().unwrap();
    assert_eq!(v.case_sensitive_tables().unwrap(), Vec::<String>::new());
    v.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))
    .unwrap();
    v.add_popbox("example.org", "alice", "alice-pw-1", None)
        .unwrap();
    raw(&url, BINARY_NAMES);
    let all = [
        "domain",
        "domain_alias",
        "forwarder",
        "popbox",
        "web_session",
    ];
    let mut listed = v.case_sensitive_tables().unwrap();
    listed.sort();
    assert_eq!(listed, all);
    raw(
        &url,
        "INSERT INTO popbox VALUES ('Example.ORG','Bob','{plaintext}bob-pw-1','bob'); \
         INSERT INTO popbox VALUES ('example.org','bob','{plaintext}x-pw-1','bob2')",
    );
    // byte comparison: the capitals are invisible
    assert_eq!(
        v.resolve("bob@example.org").unwrap().rule(),
        vmailsql::Rule::Popbox
    );
    let dry = v.migrate_to_recommended(true).unwrap();
    assert_eq!(
        (dry.found, dry.applied, dry.collisions.len()),
        (Some(SchemaKind::Recommended), false, 1),
        "{dry:?}"
    );
    assert_eq!(dry.collisions[0].rule, vmailsql::CollisionRule::LowerCase);
    let refused = v.migrate_to_recommended(false).unwrap();
    assert!(!refused.applied);
    assert_eq!(v.case_sensitive_tables().unwrap().len(), all.len());

    raw(&url, "DELETE FROM popbox WHERE mbox_name = 'bob2'");
    not_found(v.resolve("bob@example.org"));
    // part-way (one table converted): comparisons that mix the collations use the binary
    // one, so lookups work as before
    raw(
        &url,
        "ALTER TABLE domain MODIFY domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL",
    );
    assert_eq!(popbox(&v, "alice@example.org"), "alice");
    let dry = v.migrate_to_recommended(true).unwrap();
    assert!(dry.collisions.is_empty() && !dry.applied, "{dry:?}");
    assert_eq!(dry.case_sensitive.len(), all.len() - 1);
    let done = v.migrate_to_recommended(false).unwrap();
    assert!(done.applied, "{done:?}");
    assert_eq!(v.case_sensitive_tables().unwrap(), Vec::<String>::new());
    assert_eq!(popbox(&v, "bob@example.org"), "bob");
    assert!(v.authenticate("bob@example.org", "bob-pw-1").is_ok());
    assert_eq!(popbox(&v, "alice@example.org"), "alice");
    // and the keys now refuse a twin in capitals
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    let twin = mysql::prelude::Queryable::query_drop(
        &mut conn,
        "INSERT INTO popbox VALUES ('example.org','ALICE','x','alice2')",
    );
    assert!(twin.is_err(), "ALICE beside alice");
    assert!(
        !v.migrate_to_recommended(false).unwrap().applied,
        "nothing left to do"
    );
}

fn not_found(r: vmailsql::Result<Resolution>) {
    match r {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => panic!("{other:?}"),
    }
}

fn popbox(v: &Vmail, address: &str) -> String {
    match v.resolve(address) {
        Ok(Resolution::Mailbox(m)) => m.local_part,
        other => panic!("{address}: {other:?}"),
    }
}
