//! The backend-agnostic suite: every test runs on SQLite and on a throw-away MariaDB.

mod common;

use common::{Backend, Fixture};
use vmailsql::{ErrorKind, NewDomain, Resolution, Rule, Vmail};

/// Runs raw SQL on the fixture's database, bypassing the library (to plant legacy or hostile rows).
fn raw(fx: &Fixture, sql: &str) {
    common::raw_sql(&fx.url, sql);
}

/// The first column of the first row of a raw query, as text.
fn raw_scalar(fx: &Fixture, sql: &str) -> String {
    if let Some(path) = fx.url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap()
    } else {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(&fx.url).unwrap()).unwrap();
        conn.query_first::<String, _>(sql).unwrap().unwrap()
    }
}

/// example.org with alice and bob, forwarders, a catch-all, and alias example.net.
fn populated(backend: Backend) -> Fixture {
    let fx = Fixture::new(backend);
    let v = &fx.vmail;
    let mut d = NewDomain::new("example.org", "/var/mail/example.org", "vmail");
    d.password = Some("domain-pw".into());
    v.add_domain(&d).unwrap();
    v.add_popbox("example.org", "alice", "alice-pw", None)
        .unwrap();
    v.add_popbox("example.org", "bob", "bob-password", Some("b/bob.mbox"))
        .unwrap();
    v.add_popbox("example.org", "shadowed", "shadow-pw", None)
        .unwrap();
    v.add_forwarder("example.org", "shadowed", "elsewhere@remote.example")
        .unwrap();
    v.add_forwarder("example.org", "team", "alice@example.org, x@remote.example")
        .unwrap();
    v.add_forwarder("example.org", "_default_", "catch@remote.example")
        .unwrap();
    v.add_alias("example.net", "example.org").unwrap();
    v.add_domain(&NewDomain::new(
        "nocatch.example",
        "/var/mail/nocatch",
        "5000",
    ))
    .unwrap();
    v.add_popbox("nocatch.example", "carol", "carol-pw", None)
        .unwrap();
    fx
}

fn mailbox(v: &Vmail, address: &str) -> vmailsql::Mailbox {
    match v.resolve(address).unwrap() {
        Resolution::Mailbox(m) => m,
        other => panic!("{address}: expected a mailbox, got {other:?}"),
    }
}

fn forward(v: &Vmail, address: &str) -> (Vec<String>, Rule) {
    match v.resolve(address).unwrap() {
        Resolution::Forward { targets, rule, .. } => (targets, rule),
        other => panic!("{address}: expected a forward, got {other:?}"),
    }
}

fn kind<T: std::fmt::Debug>(r: vmailsql::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

fn resolution_follows_seed_order(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let m = mailbox(v, "alice@example.org");
    assert_eq!(m.path, "/var/mail/example.org/alice");
    assert_eq!(m.unix_user, "vmail");
    assert_eq!(
        (m.domain.as_str(), m.local_part.as_str()),
        ("example.org", "alice")
    );
    assert_eq!(
        mailbox(v, "bob@example.org").path,
        "/var/mail/example.org/b/bob.mbox"
    );
    // a forwarder shadows a popbox of the same name
    assert_eq!(
        forward(v, "shadowed@example.org"),
        (
            vec!["elsewhere@remote.example".to_string()],
            Rule::Forwarder
        )
    );
    // remote_name is an address list
    assert_eq!(
        forward(v, "team@example.org").0,
        ["alice@example.org", "x@remote.example"]
    );
    // the catch-all answers only for what nothing else answers for
    assert_eq!(
        forward(v, "nobody@example.org"),
        (vec!["catch@remote.example".to_string()], Rule::CatchAll)
    );
    assert_eq!(
        kind(v.resolve("nobody@nocatch.example")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(v.resolve("alice@not-local.example")),
        ErrorKind::NotFound
    );
}

fn alias_domain_acts_as_target(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let m = mailbox(v, "alice@example.net");
    assert_eq!(
        (m.domain.as_str(), m.path.as_str()),
        ("example.org", "/var/mail/example.org/alice")
    );
    assert_eq!(forward(v, "team@example.net").1, Rule::Forwarder);
    assert_eq!(forward(v, "whoever@example.net").1, Rule::CatchAll);
    assert_eq!(v.local_domain("EXAMPLE.NET").unwrap(), "example.org");
    assert_eq!(v.local_domain("example.org").unwrap(), "example.org");
    assert_eq!(kind(v.local_domain("example.com")), ErrorKind::NotFound);
}

/// Another tool made `nocatch.example` an alias of example.org as well: the domain itself wins,
/// whichever row the database returns first, with or without the domain cache.
fn a_name_that_is_both_domain_and_alias_acts_as_the_domain(b: Backend) {
    let fx = populated(b);
    common::raw_sql(
        &fx.url,
        "INSERT INTO domain_alias (domain_name, alias) VALUES ('example.org', 'nocatch.example')",
    );
    for v in [
        fx.reopen(|c| c.domain_cache_max_age = Some(std::time::Duration::ZERO)),
        fx.reopen(|_| {}),
    ] {
        assert_eq!(
            v.local_domain("nocatch.example").unwrap(),
            "nocatch.example"
        );
        assert_eq!(
            mailbox(&v, "carol@nocatch.example").domain,
            "nocatch.example"
        );
        assert_eq!(
            kind(v.resolve("alice@nocatch.example")),
            ErrorKind::NotFound
        );
        assert_eq!(
            v.local_domain_for("alice", "nocatch.example").unwrap(),
            "nocatch.example"
        );
        assert_eq!(
            kind(v.resolve("alice@nocatch.example")),
            ErrorKind::NotFound
        );
    }
}

fn case_insensitive_everywhere(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    assert_eq!(
        mailbox(v, "ALICE@Example.ORG").path,
        "/var/mail/example.org/alice"
    );
    assert_eq!(mailbox(v, "Alice@EXAMPLE.net").domain, "example.org");
    assert_eq!(forward(v, "Team@Example.Org").1, Rule::Forwarder);
    assert!(v.authenticate("Alice@EXAMPLE.org", "alice-pw").is_ok());
    // stored names are lower-cased, so a case variant is a duplicate
    assert_eq!(
        kind(v.add_popbox("EXAMPLE.org", "ALICE", "long-enough", Some("other"))),
        ErrorKind::Conflict
    );
}

fn unsafe_stored_data_is_refused(b: Backend) {
    let fx = populated(b);
    raw(
        &fx,
        "INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) VALUES \
              ('example.org','evil','{plaintext}pw','../../etc/passwd'); \
              INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) VALUES \
              ('example.org','abs','{plaintext}pw','/etc/passwd'); \
              INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) VALUES \
              ('example.org','nul','{plaintext}pw',NULL)",
    );
    let v = &fx.vmail;
    for addr in ["evil@example.org", "abs@example.org", "nul@example.org"] {
        assert_eq!(kind(v.resolve(addr)), ErrorKind::UnsafeData, "{addr}");
        assert_eq!(
            kind(v.authenticate(addr, "pw")),
            ErrorKind::UnsafeData,
            "{addr}"
        );
    }
    for user in ["", "root", "0"] {
        raw(
            &fx,
            &format!("UPDATE domain SET unix_user = '{user}' WHERE domain_name = 'example.org'"),
        );
        assert_eq!(
            kind(v.resolve("alice@example.org")),
            ErrorKind::UnsafeData,
            "{user:?}"
        );
    }
    raw(
        &fx,
        "UPDATE domain SET unix_user = NULL WHERE domain_name = 'example.org'",
    );
    assert_eq!(kind(v.resolve("alice@example.org")), ErrorKind::UnsafeData);
}

/// Forward targets written by another tool that would make Exim run a command, write a file or
/// read one: the address is refused (it defers), naming the row; the shipped routers' forbid_*
/// options are no longer the only guard.
fn unsafe_forward_targets_are_refused(b: Backend) {
    let fx = populated(b);
    for (i, target) in [
        "|/bin/sh -c id",
        "/etc/passwd",
        ":include:/etc/x",
        "ok@remote.example, \"|/usr/bin/x\"",
    ]
    .iter()
    .enumerate()
    {
        raw(
            &fx,
            &format!(
                "INSERT INTO forwarder (domain_name, local_part, remote_name) VALUES \
                 ('example.org', 'bad{i}', '{target}')"
            ),
        );
        let e = fx
            .vmail
            .resolve(&format!("bad{i}@example.org"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsafeData, "{target}: {e}");
        assert!(
            e.to_string().contains(&format!("bad{i}@example.org")),
            "{e}"
        );
    }
    raw(
        &fx,
        "UPDATE forwarder SET remote_name = '|/bin/sh -c id' \
         WHERE domain_name = 'example.org' AND local_part = '_default_'",
    );
    let e = fx.vmail.resolve("nobody@example.org").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafeData, "{e}");
    assert!(e.to_string().contains("_default_@example.org"), "{e}");
    // the other routes of the domain are untouched
    assert_eq!(mailbox(&fx.vmail, "alice@example.org").local_part, "alice");
}

fn hostile_addresses_never_reach_sql_errors(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    for lp in [
        "a'b",
        "a\"b",
        "../x",
        "a%b",
        "x' OR '1'='1",
        "a\\",
        "ünïcode",
    ] {
        let r = v.resolve(&format!("{lp}@example.org")).unwrap();
        assert_eq!(r.rule(), Rule::CatchAll, "{lp}");
        assert_eq!(
            kind(v.resolve(&format!("{lp}@nocatch.example"))),
            ErrorKind::NotFound,
            "{lp}"
        );
    }
    for bad in ["a\u{7}b@example.org", "no-at-sign", "a@", "@example.org"] {
        assert_eq!(kind(v.resolve(bad)), ErrorKind::InvalidInput, "{bad:?}");
    }
    // longer than RFC 5321's 64 octets still reaches the catch-all, as in the seed; only what
    // cannot fit the column is refused
    let long = format!("{}@example.org", "a".repeat(65));
    assert_eq!(v.resolve(&long).unwrap().rule(), Rule::CatchAll);
    assert_eq!(
        kind(v.resolve(&format!("{}@example.org", "a".repeat(256)))),
        ErrorKind::InvalidInput
    );
}

fn authentication_follows_tpop3d(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let m = v.authenticate("alice@example.org", "alice-pw").unwrap();
    assert_eq!(m.path, "/var/mail/example.org/alice");
    assert!(v.authenticate("alice%example.org", "alice-pw").is_ok());
    assert!(v.authenticate("alice!example.org", "alice-pw").is_ok());
    assert!(v.authenticate("alice:example.org", "alice-pw").is_ok());
    assert_eq!(
        kind(v.authenticate("alice@example.org", "wrong")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate("nobody@example.org", "alice-pw")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate("alice", "alice-pw")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate("alice@example.org", "")),
        ErrorKind::AuthFailed
    );
    // tpop3d never resolved aliases at login
    assert_eq!(
        kind(v.authenticate("alice@example.net", "alice-pw")),
        ErrorKind::AuthFailed
    );
    let via_alias = fx.reopen(|c| c.login_via_alias = true);
    assert_eq!(
        via_alias
            .authenticate("alice@example.net", "alice-pw")
            .unwrap()
            .domain,
        "example.org"
    );
    // only the configured separators split
    let at_only = fx.reopen(|c| c.login_separators = "@".into());
    assert_eq!(
        kind(at_only.authenticate("alice%example.org", "alice-pw")),
        ErrorKind::AuthFailed
    );
    // the domain administrator
    assert!(v.authenticate_domain("Example.org", "domain-pw").is_ok());
    assert_eq!(
        kind(v.authenticate_domain("example.org", "wrong")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate_domain("example.net", "domain-pw")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate_domain("nocatch.example", "")),
        ErrorKind::AuthFailed
    );
}

fn legacy_hashes_verify_and_apop(b: Backend) {
    let fx = populated(b);
    raw(&fx, "INSERT INTO popbox VALUES ('example.org','bare','5ebe2294ecd0e0f08eab7690d2a6ee69','bare'); \
              INSERT INTO popbox VALUES ('example.org','md5','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','md5'); \
              INSERT INTO popbox VALUES ('example.org','mysql','{mysql}428567f408994404','mysql'); \
              INSERT INTO popbox VALUES ('example.org','sha','{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4','sha'); \
              INSERT INTO popbox VALUES ('example.org','cmd5','{crypt_md5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1','cmd5'); \
              INSERT INTO popbox VALUES ('example.org','des','{crypt}abNANd1rDfiNc','des'); \
              INSERT INTO popbox VALUES ('example.org','apop','{plaintext}tanstaaf','apop')");
    let v = &fx.vmail;
    for user in ["bare", "md5", "mysql", "sha", "cmd5", "des"] {
        let login = format!("{user}@example.org");
        assert!(v.authenticate(&login, "secret").is_ok(), "{user}");
        assert_eq!(
            kind(v.authenticate(&login, "Secret")),
            ErrorKind::AuthFailed,
            "{user}"
        );
    }
    // tpop3d compared bytes: a hash of a Latin-1 password verifies with those bytes
    raw(
        &fx,
        "INSERT INTO popbox VALUES ('example.org','latin','{md5}2ca67a2dbf3a2f52ef5126a2ae8f8a2f','latin')",
    );
    assert!(v
        .authenticate_bytes("latin@example.org", b"p\xe4ssw\xf6rd")
        .is_ok());
    assert_eq!(
        kind(v.authenticate("latin@example.org", "pässwörd")),
        ErrorKind::AuthFailed
    );
    let ts = "<1896.697170952@dbc.mtview.ca.us>";
    assert!(v
        .authenticate_apop("apop@example.org", ts, "c4c9334bac560ecc979e58001b3e22fb")
        .is_ok());
    assert!(v
        .authenticate_apop("apop@example.org", ts, "C4C9334BAC560ECC979E58001B3E22FB")
        .is_ok());
    assert_eq!(
        kind(v.authenticate_apop("apop@example.org", ts, "c4c9334bac560ecc979e58001b3e22fc")),
        ErrorKind::AuthFailed
    );
    // APOP needs a {plaintext} password
    assert_eq!(
        kind(v.authenticate_apop("md5@example.org", ts, "c4c9334bac560ecc979e58001b3e22fb")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        v.plaintext_credentials("apop@example.org").unwrap().1,
        "tanstaaf"
    );
    assert_eq!(
        kind(v.plaintext_credentials("md5@example.org")),
        ErrorKind::AuthFailed
    );
}

fn upgrade_on_login_rewrites_weak_hashes(b: Backend) {
    let fx = populated(b);
    raw(&fx, "INSERT INTO popbox VALUES ('example.org','old','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','old'); \
              INSERT INTO popbox VALUES ('example.org','apop','{plaintext}secret','apop')");
    let v = fx.reopen(|c| c.upgrade_on_login = true);
    // a wrong password changes nothing
    assert!(v.authenticate("old@example.org", "wrong").is_err());
    assert_eq!(
        v.popbox("example.org", "old")
            .unwrap()
            .password_hash
            .unwrap(),
        "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69"
    );
    v.authenticate("old@example.org", "secret").unwrap();
    let new = v
        .popbox("example.org", "old")
        .unwrap()
        .password_hash
        .unwrap();
    assert!(new.starts_with("{crypt}$6$"), "{new}");
    assert!(v.authenticate("old@example.org", "secret").is_ok());
    assert!(v.authenticate("old@example.org", "wrong").is_err());
    // plaintext stays for APOP unless configured
    v.authenticate("apop@example.org", "secret").unwrap();
    assert_eq!(
        v.popbox("example.org", "apop")
            .unwrap()
            .password_hash
            .unwrap(),
        "{plaintext}secret"
    );
    let all = fx.reopen(|c| {
        c.upgrade_on_login = true;
        c.upgrade_plaintext = true;
    });
    all.authenticate("apop@example.org", "secret").unwrap();
    assert!(all
        .popbox("example.org", "apop")
        .unwrap()
        .password_hash
        .unwrap()
        .starts_with("{crypt}$6$"));
    // without the policy nothing is rewritten
    raw(&fx, "UPDATE popbox SET password_hash = '{md5}5ebe2294ecd0e0f08eab7690d2a6ee69' WHERE local_part = 'old'");
    fx.vmail.authenticate("old@example.org", "secret").unwrap();
    assert!(fx
        .vmail
        .popbox("example.org", "old")
        .unwrap()
        .password_hash
        .unwrap()
        .starts_with("{md5}"));
}

fn new_hashes_use_policy_scheme(b: Backend) {
    let fx = Fixture::with(b, |c| {
        c.password_scheme = vmailsql::password::Scheme::Sha512Crypt
    });
    let v = &fx.vmail;
    v.add_domain(&NewDomain::new("example.org", "/m", "vmail"))
        .unwrap();
    v.add_popbox("example.org", "alice", "alice-pw", None)
        .unwrap();
    let h = v
        .popbox("example.org", "alice")
        .unwrap()
        .password_hash
        .unwrap();
    assert!(h.starts_with("{SHA512-CRYPT}$6$"), "{h}");
    assert!(v.authenticate("alice@example.org", "alice-pw").is_ok());
}

fn domain_administration(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    assert_eq!(
        v.domains()
            .unwrap()
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["example.org", "nocatch.example"]
    );
    assert_eq!(
        kind(v.add_domain(&NewDomain::new("Example.ORG", "/x", "vmail"))),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(v.add_domain(&NewDomain::new("example.net", "/x", "vmail"))),
        ErrorKind::Conflict
    );
    for (name, path, user) in [
        ("bad..name", "/x", "vmail"),
        ("ok.example", "relative", "vmail"),
        ("ok.example", "/a/../b", "vmail"),
        ("ok.example", "/x", "root"),
        ("ok.example", "/x", "0"),
        ("ok.example", "/x", ""),
    ] {
        assert_eq!(
            kind(v.add_domain(&NewDomain::new(name, path, user))),
            ErrorKind::InvalidInput,
            "{name} {path} {user}"
        );
    }
    v.change_domain(
        "example.org",
        &vmailsql::DomainChange {
            path: Some("/srv/mail/example.org".into()),
            max_popbox: Some(Some(10)),
            ..Default::default()
        },
    )
    .unwrap();
    let d = v.domain("example.org").unwrap();
    assert_eq!(
        (d.path.as_deref(), d.max_popbox, d.unix_user.as_deref()),
        (Some("/srv/mail/example.org"), Some(10), Some("vmail"))
    );
    assert_eq!(
        mailbox(v, "alice@example.org").path,
        "/srv/mail/example.org/alice"
    );
    assert_eq!(
        kind(v.change_domain(
            "example.org",
            &vmailsql::DomainChange {
                unix_user: Some("root".into()),
                ..Default::default()
            }
        )),
        ErrorKind::InvalidInput
    );
    assert_eq!(kind(v.domain("missing.example")), ErrorKind::NotFound);
    // deleting a domain takes everything with it
    v.create_session("example.org").unwrap();
    v.delete_domain("example.org").unwrap();
    assert_eq!(kind(v.resolve("alice@example.org")), ErrorKind::NotFound);
    assert_eq!(kind(v.resolve("alice@example.net")), ErrorKind::NotFound);
    assert!(v.popboxes(Some("example.org")).unwrap().is_empty());
    assert!(v.forwarders(Some("example.org")).unwrap().is_empty());
    assert!(v.aliases(None).unwrap().is_empty());
    assert_eq!(v.popboxes(None).unwrap().len(), 1);
    assert_eq!(kind(v.delete_domain("example.org")), ErrorKind::NotFound);
}

fn popbox_administration(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let names: Vec<_> = v
        .popboxes(Some("example.org"))
        .unwrap()
        .into_iter()
        .map(|p| p.local_part)
        .collect();
    assert_eq!(names, ["alice", "bob", "shadowed"]);
    assert_eq!(
        kind(v.add_popbox("missing.example", "x", "popbox-pw", None)),
        ErrorKind::NotFound
    );
    for (lp, mbox) in [
        ("a..b", None),
        ("a b", None),
        ("_default_", None),
        ("a@b", None),
        ("ok", Some("../x")),
        ("ok", Some("/abs")),
        ("ok", Some("")),
    ] {
        assert_eq!(
            kind(v.add_popbox("example.org", lp, "popbox-pw", mbox)),
            ErrorKind::InvalidInput,
            "{lp} {mbox:?}"
        );
    }
    assert_eq!(
        kind(v.add_popbox("example.org", "dave", "popbox-pw", Some("alice"))),
        ErrorKind::Conflict
    );
    v.set_popbox_password("example.org", "alice", "new-password")
        .unwrap();
    assert!(v.authenticate("alice@example.org", "new-password").is_ok());
    assert!(v.authenticate("alice@example.org", "alice-pw").is_err());
    assert_eq!(
        kind(v.change_popbox_password("alice@example.org", "wrong", "x")),
        ErrorKind::AuthFailed
    );
    v.change_popbox_password("alice@example.org", "new-password", "newer-pw")
        .unwrap();
    assert!(v.authenticate("alice@example.org", "newer-pw").is_ok());
    assert_eq!(
        kind(v.change_popbox_password("ghost@example.org", "a", "b")),
        ErrorKind::AuthFailed
    );
    v.delete_popbox("example.org", "alice").unwrap();
    assert_eq!(
        kind(v.delete_popbox("example.org", "alice")),
        ErrorKind::NotFound
    );
    assert_eq!(forward(v, "alice@example.org").1, Rule::CatchAll);
    assert_eq!(
        kind(v.set_popbox_password("example.org", "alice", "long-enough")),
        ErrorKind::NotFound
    );
}

fn max_popbox_is_enforced(b: Backend) {
    let fx = Fixture::new(b);
    let v = &fx.vmail;
    let mut d = NewDomain::new("small.example", "/m", "vmail");
    d.max_popbox = Some(2);
    v.add_domain(&d).unwrap();
    v.add_popbox("small.example", "a", "popbox-pw", None)
        .unwrap();
    v.add_popbox("small.example", "b", "popbox-pw", None)
        .unwrap();
    assert_eq!(
        kind(v.add_popbox("small.example", "c", "popbox-pw", None)),
        ErrorKind::LimitExceeded
    );
    assert_eq!(v.popboxes(Some("small.example")).unwrap().len(), 2);
    v.change_domain(
        "small.example",
        &vmailsql::DomainChange {
            max_popbox: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    v.add_popbox("small.example", "c", "popbox-pw", None)
        .unwrap();
}

fn max_popbox_holds_under_concurrency(b: Backend) {
    let fx = Fixture::new(b);
    let mut d = NewDomain::new("race.example", "/m", "vmail");
    d.max_popbox = Some(5);
    fx.vmail.add_domain(&d).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let v = fx.reopen(|_| {});
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                for j in 0..3 {
                    // retry on "temporary" (deadlock, busy) as a real client would
                    for _ in 0..20 {
                        match v.add_popbox("race.example", &format!("u{i}x{j}"), "popbox-pw", None)
                        {
                            Err(e) if e.is_temporary() => continue,
                            other => {
                                outcomes.push(other.map_err(|e| e.kind()));
                                break;
                            }
                        }
                    }
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let created = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| **o == Err(ErrorKind::LimitExceeded))
        .count();
    assert_eq!(created, 5, "{outcomes:?}");
    assert_eq!(created + refused, 48, "{outcomes:?}");
    assert_eq!(fx.vmail.popboxes(Some("race.example")).unwrap().len(), 5);
}

fn forwarder_administration(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    assert_eq!(
        kind(v.add_forwarder("example.org", "team", "a@b.example")),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(v.add_forwarder("missing.example", "x", "a@b.example")),
        ErrorKind::NotFound
    );
    for target in [
        "|/bin/sh",
        "/etc/passwd",
        "",
        "not-an-address",
        "loop@example.org",
        "loop@EXAMPLE.net",
    ] {
        assert_eq!(
            kind(v.add_forwarder("example.org", "loop", target)),
            ErrorKind::InvalidInput,
            "{target}"
        );
    }
    v.change_forwarder("example.org", "team", "bob@example.org")
        .unwrap();
    // the same value again is a change that finds its row, not "no such forwarder"
    v.change_forwarder("example.org", "team", "bob@example.org")
        .unwrap();
    assert_eq!(forward(v, "team@example.org").0, ["bob@example.org"]);
    assert_eq!(
        kind(v.change_forwarder("example.org", "ghost", "a@b.example")),
        ErrorKind::NotFound
    );
    // a catch-all into its own domain must land on something real
    assert_eq!(
        kind(v.set_catch_all("example.org", "nobody@example.org")),
        ErrorKind::InvalidInput
    );
    v.set_catch_all("example.org", "alice@example.org").unwrap();
    assert_eq!(forward(v, "zzz@example.org").0, ["alice@example.org"]);
    v.set_catch_all("nocatch.example", "carol@nocatch.example")
        .unwrap();
    assert_eq!(forward(v, "zzz@nocatch.example").1, Rule::CatchAll);
    v.delete_forwarder("nocatch.example", "_default_").unwrap();
    assert_eq!(kind(v.resolve("zzz@nocatch.example")), ErrorKind::NotFound);
    assert_eq!(
        v.forwarder("example.org", "TEAM").unwrap().remote_name,
        "bob@example.org"
    );
    let list: Vec<_> = v
        .forwarders(Some("example.org"))
        .unwrap()
        .into_iter()
        .map(|f| f.local_part)
        .collect();
    assert_eq!(list, ["_default_", "shadowed", "team"]);
}

fn alias_administration(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    assert_eq!(
        kind(v.add_alias("example.net", "nocatch.example")),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(v.add_alias("nocatch.example", "example.org")),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(v.add_alias("x.example", "missing.example")),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(v.add_alias("example.org", "example.org")),
        ErrorKind::InvalidInput
    );
    v.add_alias("Example.COM", "example.org").unwrap();
    let list: Vec<_> = v
        .aliases(Some("example.org"))
        .unwrap()
        .into_iter()
        .map(|a| a.alias)
        .collect();
    assert_eq!(list, ["example.com", "example.net"]);
    v.delete_alias("example.net").unwrap();
    assert_eq!(kind(v.resolve("alice@example.net")), ErrorKind::NotFound);
    assert_eq!(kind(v.delete_alias("example.net")), ErrorKind::NotFound);
}

fn signin_throttle_counts_in_windows(b: Backend) {
    let fx = Fixture::new(b);
    let v = &fx.vmail;
    let window = std::time::Duration::from_secs(900);
    assert_eq!(v.signin_attempts("domain:example.org", window).unwrap(), 0);
    for n in 1..=3 {
        assert_eq!(
            v.count_signin_attempt("domain:example.org", window)
                .unwrap(),
            n
        );
    }
    assert_eq!(
        v.count_signin_attempt("client:192.0.2.1", window).unwrap(),
        1
    );
    assert_eq!(v.signin_attempts("domain:example.org", window).unwrap(), 3);
    // A window that began long ago has ended: the next attempt opens a new one at 1.
    raw(
        &fx,
        "UPDATE signin_failure SET window_start = window_start - 1000",
    );
    assert_eq!(v.signin_attempts("domain:example.org", window).unwrap(), 0);
    assert_eq!(
        v.count_signin_attempt("domain:example.org", window)
            .unwrap(),
        1
    );
    v.clear_signin_attempts("domain:example.org").unwrap();
    assert_eq!(v.signin_attempts("domain:example.org", window).unwrap(), 0);
    for bad in ["", "x\ny", &"x".repeat(256)] {
        assert_eq!(
            kind(v.count_signin_attempt(bad, window)),
            ErrorKind::InvalidInput
        );
    }
    assert_eq!(
        kind(v.count_signin_attempt("domain:x", std::time::Duration::ZERO)),
        ErrorKind::InvalidInput
    );
    // Parallel attempts from several connections are each counted once.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let v = fx.reopen(|_| {});
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for _ in 0..5 {
                    for _ in 0..20 {
                        match v.count_signin_attempt("domain:race.example", window) {
                            Err(e) if e.is_temporary() => continue,
                            other => {
                                seen.push(other.unwrap());
                                break;
                            }
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let seen: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(seen.len(), 40);
    assert_eq!(
        v.signin_attempts("domain:race.example", window).unwrap(),
        40
    );
    assert_eq!(seen.iter().max(), Some(&40));
}

fn web_sessions(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let token = v.create_session("example.org").unwrap();
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
    v.validate_session("example.org", &token).unwrap();
    assert_eq!(
        kind(v.validate_session("example.org", "0".repeat(64).as_str())),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.validate_session("nocatch.example", &token)),
        ErrorKind::AuthFailed
    );
    // the database never holds the token itself
    let stored = raw_scalar(
        &fx,
        "SELECT session_id FROM web_session WHERE domain_name = 'example.org'",
    );
    assert_eq!(stored.len(), 32);
    assert!(!token.contains(&stored) && stored != token);
    // a new sign-in replaces the old session
    let second = v.create_session("example.org").unwrap();
    assert_eq!(
        kind(v.validate_session("example.org", &token)),
        ErrorKind::AuthFailed
    );
    v.validate_session("example.org", &second).unwrap();
    // a password change ends it
    v.set_domain_password("example.org", "changed-pw").unwrap();
    assert_eq!(
        kind(v.validate_session("example.org", &second)),
        ErrorKind::AuthFailed
    );
    assert!(v.authenticate_domain("example.org", "changed-pw").is_ok());
    // sign-out
    let third = v.create_session("example.org").unwrap();
    v.destroy_session("example.org").unwrap();
    assert_eq!(
        kind(v.validate_session("example.org", &third)),
        ErrorKind::AuthFailed
    );
    // expiry
    let fourth = v.create_session("example.org").unwrap();
    raw(&fx, "UPDATE web_session SET expires = 1000");
    assert_eq!(
        kind(v.validate_session("example.org", &fourth)),
        ErrorKind::AuthFailed
    );
    assert_eq!(v.expire_sessions().unwrap(), 1);
    assert_eq!(
        kind(v.create_session("missing.example")),
        ErrorKind::NotFound
    );
}

fn schema_creation_refuses_existing_tables(b: Backend) {
    let fx = Fixture::new(b);
    assert_eq!(kind(fx.vmail.create_schema()), ErrorKind::Conflict);
    let mut tables = fx.vmail.tables().unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "domain",
            "domain_alias",
            "forwarder",
            "popbox",
            "signin_failure",
            "web_session"
        ]
    );
}

fn export_import_round_trip(b: Backend) {
    let fx = populated(b);
    raw(&fx, "INSERT INTO popbox VALUES ('example.org','legacy','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','legacy')");
    let records = fx.vmail.export().unwrap();
    assert_eq!(records.len(), 2 + 1 + 5 + 3);
    // across to the other backend and back: identical, hashes exactly as stored
    let other = match b {
        Backend::Sqlite => Backend::Mysql,
        Backend::Mysql => Backend::Sqlite,
    };
    let there = Fixture::new(other);
    let report = there.vmail.import(&records).unwrap();
    assert_eq!(
        (
            report.domains,
            report.aliases,
            report.popboxes,
            report.forwarders
        ),
        (2, 1, 5, 3)
    );
    assert_eq!(there.vmail.export().unwrap(), records);
    assert!(there
        .vmail
        .authenticate("legacy@example.org", "secret")
        .is_ok());
    let back = Fixture::new(b);
    back.vmail.import(&there.vmail.export().unwrap()).unwrap();
    assert_eq!(back.vmail.export().unwrap(), records);
}

fn import_is_all_or_nothing(b: Backend) {
    let source = populated(b);
    let mut records = source.vmail.export().unwrap();
    let fx = Fixture::new(b);
    // a bad record at the very end: nothing at all is written
    records.push(vmailsql::Record::Forwarder(vmailsql::Forwarder {
        domain: "example.org".into(),
        local_part: "x".into(),
        remote_name: "|/bin/sh".into(),
    }));
    let e = fx.vmail.import(&records).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains(&format!("record {}", records.len())),
        "{e}"
    );
    assert!(fx.vmail.export().unwrap().is_empty());
    // a duplicate found only while writing also rolls everything back
    records.pop();
    let dup = records[3].clone();
    records.push(dup);
    assert_eq!(
        fx.vmail.import(&records).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert!(fx.vmail.export().unwrap().is_empty());
}

/// A streamed import reads its source once per pass (two to check, one to write) and gives the
/// same answers as the slice; an error from the source stops it with nothing written.
fn import_from_reads_its_source_again_and_stops_at_its_error(b: Backend) {
    let records = populated(b).vmail.export().unwrap();
    let fx = Fixture::new(b);
    let passes = std::cell::Cell::new(0);
    let source = || {
        passes.set(passes.get() + 1);
        Ok(records.iter().map(Ok))
    };
    assert!(fx.vmail.check_import_from(source).unwrap().is_empty());
    assert_eq!(passes.get(), 2);
    let last = records.len() - 1;
    let failing = || {
        Ok(records.iter().enumerate().map(|(i, r)| {
            if i == last {
                Err(vmailsql::Error::new(ErrorKind::Internal, "disk gone"))
            } else {
                Ok(r)
            }
        }))
    };
    let e = fx.vmail.import_from(failing).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::Internal, "disk gone".into())
    );
    assert!(fx.vmail.export().unwrap().is_empty());
    passes.set(0);
    let report = fx.vmail.import_from(source).unwrap();
    assert_eq!(passes.get(), 3);
    let popboxes = records
        .iter()
        .filter(|r| matches!(r, vmailsql::Record::Popbox(_)))
        .count();
    assert_eq!((report.domains, report.popboxes), (2, popboxes));
    assert_eq!(fx.vmail.export().unwrap(), records);
}

/// Logins tpop3d refused are refused on every backend, alike, whatever the collation pads.
fn odd_logins_are_refused(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    raw(
        &fx,
        "INSERT INTO popbox VALUES ('example.org','apop','{plaintext}tanstaaf','apop')",
    );
    let (ts, digest) = (
        "<1896.697170952@dbc.mtview.ca.us>",
        "c4c9334bac560ecc979e58001b3e22fb",
    );
    assert!(v.authenticate_apop("apop@example.org", ts, digest).is_ok());
    for bad in [
        "apop@example.org.",
        "apop @example.org",
        "apop@example.org\t",
    ] {
        assert_eq!(
            kind(v.authenticate_apop(bad, ts, digest)),
            ErrorKind::AuthFailed,
            "{bad:?}"
        );
        assert_eq!(
            kind(v.authenticate(bad, "tanstaaf")),
            ErrorKind::AuthFailed,
            "{bad:?}"
        );
    }
    for bad in [
        "alice@example.org.",
        "alice%example.org.",
        "alice @example.org",
        "alice@example.org ",
        " alice@example.org",
        "alice@ example.org",
        "al ice@example.org",
        "alice\t@example.org",
        "alice@example.org\u{a0}",
        "alice\u{1}@example.org",
        "alice@example.org\r",
    ] {
        assert_eq!(
            kind(v.authenticate(bad, "alice-pw")),
            ErrorKind::AuthFailed,
            "{bad:?}"
        );
        let digest = "0".repeat(32);
        assert_eq!(
            kind(v.authenticate_apop(bad, "<1.2@h>", &digest)),
            ErrorKind::AuthFailed,
            "{bad:?}"
        );
    }
    assert!(v.authenticate("alice@example.org", "alice-pw").is_ok());
}

/// Hashes beyond the cost limits: refused on write, and at login unsafe stored data that is never
/// computed (the 999999999-round value would take hours: the test would hang).
fn over_cost_hashes_are_unsafe(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let sha = "{crypt}$6$rounds=999999999$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1";
    let bcrypt = "{BLF-CRYPT}$2b$31$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
    for hash in [sha, bcrypt] {
        let e = v.set_popbox_hash("example.org", "alice", hash).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("cost"), "{e}");
        let record = vmailsql::Popbox {
            domain: "example.org".into(),
            local_part: "costly".into(),
            password_hash: Some(hash.into()),
            mbox_name: None,
        };
        assert_eq!(kind(v.add_popbox_record(&record)), ErrorKind::InvalidInput);
    }
    assert!(
        v.authenticate("alice@example.org", "alice-pw").is_ok(),
        "nothing was written"
    );
    raw(
        &fx,
        &format!("INSERT INTO popbox VALUES ('example.org','costly','{sha}','costly')"),
    );
    raw(
        &fx,
        &format!("UPDATE domain SET password_hash = '{bcrypt}' WHERE domain_name = 'example.org'"),
    );
    let e = v.authenticate("costly@example.org", "secret").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafeData, "{e}");
    assert!(e.to_string().contains("costly@example.org"), "{e}");
    assert_eq!(
        kind(v.change_popbox_password("costly@example.org", "secret", "new-secret-1")),
        ErrorKind::UnsafeData
    );
    assert_eq!(
        kind(v.authenticate_domain("example.org", "secret")),
        ErrorKind::UnsafeData
    );
}

/// A numeric unix_user is read as tpop3d read it: blanks around it are dropped, and a uid without
/// a passwd entry cannot log in.
fn numeric_unix_users_as_tpop3d_read_them(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let hash = vmailsql::password::hash(vmailsql::password::Scheme::Md5, "right-pw").unwrap();
    raw(
        &fx,
        &format!(
            "INSERT INTO domain VALUES ('blank.example',' 65534',NULL,'/var/mail/blank',NULL); \
             INSERT INTO popbox VALUES ('blank.example','ann','{hash}','ann'); \
             INSERT INTO domain VALUES ('nouid.example','4000000000',NULL,'/var/mail/nouid',NULL); \
             INSERT INTO popbox VALUES ('nouid.example','ned','{hash}','ned')"
        ),
    );
    let m = v.authenticate("ann@blank.example", "right-pw").unwrap();
    assert_eq!(m.unix_user, "65534");
    assert_eq!(mailbox(v, "ann@blank.example").unix_user, "65534");
    assert_eq!(
        kind(v.authenticate("ned@nouid.example", "right-pw")),
        ErrorKind::AuthFailed
    );
    assert_eq!(
        kind(v.authenticate("ned@nouid.example", "wrong-pw")),
        ErrorKind::AuthFailed
    );
}

/// Dovecot 2.3's challenge-response and one-time schemes log in (values from `doveadm pw`, see
/// tests/data/dovecot-2.3-doveadm-pw.txt); DIGEST-MD5 hashes the popbox's own address as stored,
/// whatever case or alias the login used, and a domain's name for its administrator.
fn dovecot_challenge_hashes_log_in(b: Backend) {
    let fx = populated(b);
    raw(&fx, "INSERT INTO popbox VALUES ('example.org','scram','{SCRAM-SHA-256}4096,mNBpcQNQtrf0/YoXV6GeWQ==,/m+3vDrF56xl1bUjAW0OYyyL01pHWxQZbrH20UWMC/o=,X+GtNnUbuBTXE8HPsr426bca+44YgZqra5JZv5iyVzg=','scram'); \
              INSERT INTO popbox VALUES ('example.org','cram','{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56','cram'); \
              INSERT INTO popbox VALUES ('example.org','otp','{OTP}sha1 1024 1ca7824842e04589 8b20adafa054dd45','otp'); \
              INSERT INTO popbox VALUES ('example.org','md4','{PLAIN-MD4}67d3dafef63ff00603aeef3769cfbf0d','md4'); \
              INSERT INTO popbox VALUES ('example.org','trunc','{PLAIN-TRUNC}6-secret','trunc'); \
              INSERT INTO popbox VALUES ('example.org','dig','{DIGEST-MD5}de4c5ee663b7df99d1e5a281c5625139','dig'); \
              INSERT INTO popbox VALUES ('example.org','costly','{OTP}sha1 4000000000 1ca7824842e04589 8b20adafa054dd45','costly'); \
              UPDATE domain SET password_hash = '{DIGEST-MD5}2dbe1297bf1f690142512e0759a31fd9' WHERE domain_name = 'example.org'");
    let v = &fx.vmail;
    for user in ["scram", "cram", "otp", "md4", "trunc", "dig", "DIG"] {
        let login = format!("{user}@example.org");
        assert!(v.authenticate(&login, "secret").is_ok(), "{user}");
        assert_eq!(
            kind(v.authenticate(&login, "Secret")),
            ErrorKind::AuthFailed,
            "{user}"
        );
    }
    assert!(v
        .authenticate("trunc@example.org", "secret-and-more")
        .is_ok());
    assert!(v.authenticate_domain("example.org", "secret").is_ok());
    assert_eq!(
        kind(v.authenticate_domain("example.org", "Secret")),
        ErrorKind::AuthFailed
    );
    let e = v.authenticate("costly@example.org", "secret").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsafeData, "{e}");
    // A user changing a DIGEST-MD5 password proves the old one the same way.
    v.change_popbox_password("dig@example.org", "secret", "new-secret-1")
        .unwrap();
    assert!(v.authenticate("dig@example.org", "new-secret-1").is_ok());
}

/// `password_min_length` (default 8) holds for every new password; stored hashes never face it.
fn new_passwords_have_a_minimum_length(b: Backend) {
    let fx = populated(b);
    let v = &fx.vmail;
    let short = |r: vmailsql::Result<()>| {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("at least 8 characters"), "{e}");
    };
    short(v.add_popbox("example.org", "dave", "seven-c", None));
    short(v.set_popbox_password("example.org", "alice", "seven-c"));
    short(v.change_popbox_password("alice@example.org", "alice-pw", "seven-c"));
    short(v.set_domain_password("example.org", "seven-c"));
    let mut d = NewDomain::new("short.example", "/var/mail/short", "vmail");
    d.password = Some("seven-c".into());
    short(v.add_domain(&d));
    assert!(v.hash_password("seven-c").is_err());
    // characters, not bytes: eight umlauts are enough
    v.set_popbox_password("example.org", "alice", "\u{e4}".repeat(8).as_str())
        .unwrap();
    // a stored short password keeps working
    raw(&fx, "INSERT INTO popbox VALUES ('example.org','old','{md5}5ebe2294ecd0e0f08eab7690d2a6ee69','old')");
    assert!(v.authenticate("old@example.org", "secret").is_ok());
    assert_eq!(
        kind(v.domain("short.example")),
        ErrorKind::NotFound,
        "nothing written"
    );
    let strict = fx.reopen(|c| c.password_min_length = 12);
    let e = strict
        .add_popbox("example.org", "dave", "eleven-char", None)
        .unwrap_err();
    assert!(e.to_string().contains("at least 12"), "{e}");
    strict
        .add_popbox("example.org", "dave", "twelve-chars", None)
        .unwrap();
}

both_backends!(
    dovecot_challenge_hashes_log_in,
    new_passwords_have_a_minimum_length,
    numeric_unix_users_as_tpop3d_read_them,
    over_cost_hashes_are_unsafe,
    odd_logins_are_refused,
    export_import_round_trip,
    import_is_all_or_nothing,
    import_from_reads_its_source_again_and_stops_at_its_error,
    resolution_follows_seed_order,
    alias_domain_acts_as_target,
    a_name_that_is_both_domain_and_alias_acts_as_the_domain,
    case_insensitive_everywhere,
    unsafe_stored_data_is_refused,
    unsafe_forward_targets_are_refused,
    hostile_addresses_never_reach_sql_errors,
    authentication_follows_tpop3d,
    legacy_hashes_verify_and_apop,
    upgrade_on_login_rewrites_weak_hashes,
    new_hashes_use_policy_scheme,
    domain_administration,
    popbox_administration,
    max_popbox_is_enforced,
    max_popbox_holds_under_concurrency,
    forwarder_administration,
    alias_administration,
    web_sessions,
    signin_throttle_counts_in_windows,
    schema_creation_refuses_existing_tables,
);
