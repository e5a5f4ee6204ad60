//! The library, not the database's collation, decides which names match: ASCII letters
//! case-insensitively, nothing else. The same cases run on SQLite, on MariaDB's legacy schema
//! in latin1 and in utf8mb4 (the server's `_ci` collations fold accents, `İ` and trailing
//! spaces), and on the recommended MariaDB schema. Rows other tools wrote in capitals are found,
//! logged into and deleted on all four alike.

mod common;

use mysql::prelude::Queryable;
use vmailsql::{Config, ErrorKind, NewDomain, Resolution, SchemaKind, Vmail};

struct Site {
    vmail: Vmail,
    url: String,
    /// The name columns' collation takes `ä` for `a` (MariaDB's utf8mb4 `_ci` ones do, latin1's
    /// Swedish one and SQLite's `NOCASE` do not), so its unique keys refuse `sally` beside
    /// `sälly`.
    folds_accents: bool,
    _dir: Option<tempfile::TempDir>,
}

fn raw(site: &Site, sql: &str) {
    if let Some(path) = site.url.strip_prefix("sqlite://") {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    } else {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(&site.url).unwrap()).unwrap();
        for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
            conn.query_drop(stmt).unwrap();
        }
    }
}

fn sqlite() -> Site {
    let (url, dir) = common::fresh_sqlite_db();
    let vmail = Vmail::open_url(&url).unwrap();
    vmail.create_schema().unwrap();
    Site {
        vmail,
        url,
        folds_accents: false,
        _dir: Some(dir),
    }
}

fn mariadb(schema: SchemaKind, charset: Option<&str>) -> Site {
    let url = common::fresh_mysql_db();
    let vmail = Vmail::open_url(&url).unwrap();
    vmail.create_schema_of(schema).unwrap();
    let site = Site {
        vmail,
        url,
        folds_accents: charset != Some("latin1"),
        _dir: None,
    };
    if let Some(charset) = charset {
        for table in [
            "domain",
            "forwarder",
            "popbox",
            "domain_alias",
            "web_session",
        ] {
            raw(
                &site,
                &format!("ALTER TABLE {table} CONVERT TO CHARACTER SET {charset}"),
            );
        }
    }
    site
}

fn not_found(site: &Site, what: &str, r: vmailsql::Result<impl std::fmt::Debug>) {
    match r {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => panic!("{}: {what}: {other:?}", site.url),
    }
}

fn auth_failed(site: &Site, login: &str) {
    auth_failed_with(site, login, "alice-pw");
}

fn popbox_of(site: &Site, address: &str) -> String {
    match site.vmail.resolve(address) {
        Ok(Resolution::Mailbox(m)) => m.local_part,
        other => panic!("{}: {address}: {other:?}", site.url),
    }
}

fn same_cases(site: &Site) {
    let v = &site.vmail;
    v.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))
    .unwrap();
    v.add_popbox("example.org", "alice", "alice-pw", None)
        .unwrap();
    v.add_forwarder("example.org", "info", "alice@example.org")
        .unwrap();
    v.add_alias("example.net", "example.org").unwrap();

    // ASCII case folds, everywhere
    assert_eq!(popbox_of(site, "ALICE@Example.ORG"), "alice");
    assert_eq!(popbox_of(site, "Alice@EXAMPLE.net"), "alice");
    assert_eq!(v.local_domain("EXAMPLE.NET").unwrap(), "example.org");
    assert!(v.authenticate("ALICE@Example.Org", "alice-pw").is_ok());

    // nothing else does: accents, dotted capital I, trailing spaces
    for address in ["alicé@example.org", "ALİCE@example.org", "infö@example.org"] {
        not_found(site, address, v.resolve(address));
    }
    not_found(site, "\"alice \"", v.resolve_parts("alice ", "example.org"));
    not_found(
        site,
        "info + space",
        v.resolve_parts("info ", "example.org"),
    );
    // The same with the domain row kept, as Exim's domain check leaves it: the resolution then
    // probes only the forwarder and the popbox, and still matches nothing but ASCII case.
    let mut config = Config::with_database(&site.url);
    config.domain_cache_max_age = Some(std::time::Duration::from_secs(600));
    let cached = Vmail::open(config).unwrap();
    assert_eq!(cached.local_domain("example.org").unwrap(), "example.org");
    match cached.resolve("ALICE@Example.ORG") {
        Ok(Resolution::Mailbox(m)) => assert_eq!(m.local_part, "alice", "{}", site.url),
        other => panic!("{}: cached ALICE: {other:?}", site.url),
    }
    match cached.resolve("INFO@example.org") {
        Ok(Resolution::Forward { targets, .. }) => {
            assert_eq!(targets, ["alice@example.org"], "{}", site.url)
        }
        other => panic!("{}: cached INFO: {other:?}", site.url),
    }
    for address in ["alicé@example.org", "ALİCE@example.org", "infö@example.org"] {
        not_found(site, address, cached.resolve(address));
    }
    not_found(
        site,
        "info + space, cached",
        cached.resolve_parts("info ", "example.org"),
    );
    for domain in ["exämple.org", "exämple.net", "examplé.org"] {
        not_found(site, domain, v.resolve(&format!("alice@{domain}")));
        not_found(site, domain, v.local_domain(domain));
    }
    for login in [
        "alicé@example.org",
        "ALİCE@example.org",
        "alice @example.org",
        "alice@exämple.org",
    ] {
        auth_failed(site, login);
    }
    let via_alias = v_with_alias_logins(site);
    assert!(via_alias
        .authenticate("alice@Example.NET", "alice-pw")
        .is_ok());
    match via_alias.authenticate("alice@exämple.net", "alice-pw") {
        Err(e) if e.kind() == ErrorKind::AuthFailed => {}
        other => panic!("{}: {other:?}", site.url),
    }

    alias_beside_a_collation_twin(site);
    rows_in_capitals(site);
    writes_touch_only_the_name_asked(site);
}

/// An alias whose name a `_ci` collation equates with another domain's (`example.com` beside
/// `exämple.com`) still leads to its own target.
fn alias_beside_a_collation_twin(site: &Site) {
    raw(
        site,
        "INSERT INTO domain (domain_name, unix_user, path) \
         VALUES ('exämple.com', 'vmail', '/var/mail/twin')",
    );
    site.vmail.add_alias("example.com", "example.org").unwrap();
    assert_eq!(popbox_of(site, "alice@example.com"), "alice");
    assert_eq!(
        site.vmail.local_domain("example.com").unwrap(),
        "example.org"
    );
    site.vmail.delete_alias("example.com").unwrap();
    raw(site, "DELETE FROM domain WHERE domain_name = 'exämple.com'");
}

/// Changes by name act on the row that truly has that name, never on one only the collation
/// equates with it (a `_ci` collation answers `WHERE local_part = 'sally'` with `sälly`).
fn writes_touch_only_the_name_asked(site: &Site) {
    let v = &site.vmail;
    let url = &site.url;
    raw(
        site,
        "INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) \
         VALUES ('example.org', 'sälly', '{plaintext}sally-pw-1', 'saelly'); \
         INSERT INTO forwarder (domain_name, local_part, remote_name) \
         VALUES ('example.org', 'tömmy', 'alice@example.org')",
    );
    let hash_of_saelly = || {
        v.popboxes(Some("example.org"))
            .unwrap()
            .into_iter()
            .find(|p| p.mbox_name.as_deref() == Some("saelly"))
            .and_then(|p| p.password_hash)
    };
    let kind = |r: vmailsql::Result<()>| r.map_err(|e| e.kind());
    assert_eq!(
        kind(v.delete_popbox("example.org", "sally")),
        Err(ErrorKind::NotFound),
        "{url}"
    );
    assert_eq!(
        kind(v.set_popbox_password("example.org", "sally", "other-pw-1")),
        Err(ErrorKind::NotFound),
        "{url}"
    );
    assert_eq!(
        hash_of_saelly().as_deref(),
        Some("{plaintext}sally-pw-1"),
        "{url}"
    );
    assert_eq!(
        kind(v.delete_forwarder("example.org", "tommy")),
        Err(ErrorKind::NotFound),
        "{url}"
    );
    assert_eq!(v.forwarders(Some("example.org")).unwrap().len(), 2, "{url}");
    assert_eq!(
        kind(v.delete_domain("exämple.org")),
        Err(ErrorKind::NotFound),
        "{url}"
    );
    assert_eq!(
        kind(v.delete_alias("exämple.net")),
        Err(ErrorKind::NotFound),
        "{url}"
    );
    assert_eq!(
        v.local_domain("example.net").unwrap(),
        "example.org",
        "{url}"
    );
    assert!(v.popboxes(Some("exämple.org")).unwrap().is_empty(), "{url}");

    // adding `sally` beside `sälly`: where the keys equate them, refused as existing
    let added = v.add_popbox("example.org", "sally", "sally-pw-2", None);
    if site.folds_accents {
        assert_eq!(
            added.map_err(|e| e.kind()),
            Err(ErrorKind::Conflict),
            "{url}"
        );
        not_found(site, "sally", v.resolve("sally@example.org"));
    } else {
        added.unwrap_or_else(|e| panic!("{url}: add sally: {e}"));
        assert_eq!(popbox_of(site, "sally@example.org"), "sally");
    }
    assert_eq!(
        hash_of_saelly().as_deref(),
        Some("{plaintext}sally-pw-1"),
        "{url}"
    );
}

/// Rows another tool wrote in capitals resolve, log in and delete as their lower-case names, on
/// every schema (the seed's sites relied on it): a popbox, a forwarder, an alias and a domain.
fn rows_in_capitals(site: &Site) {
    let v = &site.vmail;
    raw(
        site,
        "INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) \
         VALUES ('Example.ORG', 'Bob', '{plaintext}bob-pw-1', 'bob'); \
         INSERT INTO forwarder (domain_name, local_part, remote_name) \
         VALUES ('Example.ORG', 'Bobby', 'alice@example.org'); \
         INSERT INTO domain_alias (domain_name, alias) VALUES ('Example.ORG', 'Bob.EXAMPLE'); \
         INSERT INTO domain (domain_name, unix_user, path) VALUES ('Caps.EXAMPLE', 'vmail', '/m/caps'); \
         INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) \
         VALUES ('Caps.EXAMPLE', 'Fred', '{plaintext}fred-pw-1', 'fred')",
    );
    let url = &site.url;
    // a popbox Bob@Example.ORG
    assert_eq!(popbox_of(site, "bob@example.org"), "bob");
    assert_eq!(popbox_of(site, "BOB@Example.ORG"), "bob");
    assert!(
        v.authenticate("bob@example.org", "bob-pw-1").is_ok(),
        "{url}"
    );
    v.delete_popbox("example.org", "bob")
        .unwrap_or_else(|e| panic!("{url}: delete bob: {e}"));
    not_found(site, "deleted popbox", v.resolve("bob@example.org"));
    auth_failed_with(site, "bob@example.org", "bob-pw-1");

    // a forwarder Bobby@Example.ORG
    match v.resolve("bobby@example.org") {
        Ok(vmailsql::Resolution::Forward { targets, .. }) => {
            assert_eq!(targets, ["alice@example.org"], "{url}")
        }
        other => panic!("{url}: bobby: {other:?}"),
    }
    v.delete_forwarder("example.org", "bobby")
        .unwrap_or_else(|e| panic!("{url}: delete bobby: {e}"));
    not_found(site, "deleted forwarder", v.resolve("bobby@example.org"));

    // an alias Bob.EXAMPLE of example.org
    assert_eq!(
        v.local_domain("bob.example").unwrap(),
        "example.org",
        "{url}"
    );
    assert_eq!(popbox_of(site, "alice@bob.example"), "alice");
    v.delete_alias("bob.example")
        .unwrap_or_else(|e| panic!("{url}: delete alias: {e}"));
    not_found(site, "deleted alias", v.local_domain("bob.example"));

    // a domain Caps.EXAMPLE with a popbox Fred
    // the domain as stored, as the seed's query returned it
    let found = v.local_domain("caps.example").unwrap();
    assert!(found.eq_ignore_ascii_case("caps.example"), "{url}: {found}");
    assert_eq!(popbox_of(site, "fred@caps.example"), "fred");
    assert!(
        v.authenticate("FRED@caps.example", "fred-pw-1").is_ok(),
        "{url}"
    );
    v.delete_domain("caps.example")
        .unwrap_or_else(|e| panic!("{url}: delete domain: {e}"));
    not_found(site, "deleted domain", v.local_domain("caps.example"));
    auth_failed_with(site, "fred@caps.example", "fred-pw-1");
    let left: Vec<String> = v
        .popboxes(None)
        .unwrap()
        .into_iter()
        .map(|p| format!("{}@{}", p.local_part, p.domain))
        .collect();
    assert_eq!(
        left,
        ["alice@example.org"],
        "{url}: the domain's popbox went with it"
    );
}

fn auth_failed_with(site: &Site, login: &str, password: &str) {
    match site.vmail.authenticate(login, password) {
        Err(e) if e.kind() == ErrorKind::AuthFailed => {}
        other => panic!("{}: login {login:?}: {other:?}", site.url),
    }
}

fn v_with_alias_logins(site: &Site) -> Vmail {
    let mut config = vmailsql::Config::with_database(&site.url);
    config.login_via_alias = true;
    Vmail::open(config).unwrap()
}

#[test]
fn sqlite_recommended_schema() {
    same_cases(&sqlite());
}

#[test]
fn mariadb_legacy_schema_latin1() {
    same_cases(&mariadb(SchemaKind::Legacy, Some("latin1")));
}

#[test]
fn mariadb_legacy_schema_utf8mb4() {
    same_cases(&mariadb(SchemaKind::Legacy, Some("utf8mb4")));
}

#[test]
fn mariadb_recommended_schema() {
    same_cases(&mariadb(SchemaKind::Recommended, None));
}
