//! The library, not the database's collation, decides which names match: ASCII letters
//! case-insensitively, nothing else. The same cases run on SQLite, on MariaDB's legacy schema
//! in latin1 and in utf8mb4 (the server's `_ci` collations fold accents, `İ` and trailing
//! spaces), and on the recommended MariaDB schema.

mod common;

use mysql::prelude::Queryable;
use vmailsql::{ErrorKind, NewDomain, Resolution, SchemaKind, Vmail};

struct Site {
    vmail: Vmail,
    url: String,
    /// The collation folds ASCII case, so rows written in capitals by other tools are found.
    case_insensitive: bool,
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
        case_insensitive: true,
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
        case_insensitive: charset.is_some(),
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
    match site.vmail.authenticate(login, "alice-pw") {
        Err(e) if e.kind() == ErrorKind::AuthFailed => {}
        other => panic!("{}: login {login:?}: {other:?}", site.url),
    }
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

    // rows another tool wrote in capitals
    raw(
        site,
        "INSERT INTO domain (domain_name, unix_user, path) VALUES ('Caps.EXAMPLE', 'vmail', '/m/caps'); \
         INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) \
         VALUES ('Caps.EXAMPLE', 'Fred', '{plaintext}alice-pw', 'fred')",
    );
    if site.case_insensitive {
        assert_eq!(popbox_of(site, "fred@caps.example"), "fred");
        assert!(v.authenticate("FRED@caps.example", "alice-pw").is_ok());
    } else {
        // the recommended MariaDB schema compares bytes: such rows are invisible, and
        // `vmailctl check` lists them (README, "Behaviour an administrator should know")
        not_found(site, "capitals", v.resolve("fred@caps.example"));
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
