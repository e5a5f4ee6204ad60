//! What one audit record says, built from the rows a change touches. Secrets never get in: a
//! password hash appears only as the name of its scheme.

use sha2::{Digest, Sha256};

use crate::password;
use crate::records::{ImportReport, Record};
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox, CATCH_ALL};

/// One change, before it is stamped with the time and the actor.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub object: &'static str,
    pub action: &'static str,
    pub domain: String,
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub outcome: &'static str,
}

/// The scheme a stored hash is in: what a record may say about a password.
fn scheme(hash: Option<&str>) -> String {
    match hash {
        None | Some("") => "none".to_string(),
        Some(h) => password::identify(h)
            .map_or("unrecognised", |s| s.name)
            .to_string(),
    }
}

/// `key="value", ...`, quoted so that commas inside values stay unambiguous.
fn pairs(items: &[(&str, Option<&str>)]) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v:?}"),
            None => format!("{k}=none"),
        })
        .collect();
    shown.join(", ")
}

fn describe_domain(d: &Domain) -> String {
    let max = d.max_popbox.map(|n| n.to_string());
    let scheme = scheme(d.password_hash.as_deref());
    pairs(&[
        ("path", d.path.as_deref()),
        ("unix_user", d.unix_user.as_deref()),
        ("max_popbox", max.as_deref()),
        ("admin_password", Some(&scheme)),
    ])
}

fn describe_popbox(p: &Popbox) -> String {
    let scheme = scheme(p.password_hash.as_deref());
    pairs(&[
        ("mbox_name", p.mbox_name.as_deref()),
        ("password", Some(&scheme)),
    ])
}

fn describe_forwarder(f: &Forwarder) -> String {
    pairs(&[("remote_name", Some(&f.remote_name))])
}

fn forwarder_object(local_part: &str) -> &'static str {
    if local_part == CATCH_ALL {
        "catch-all"
    } else {
        "forwarder"
    }
}

impl Entry {
    fn new(object: &'static str, action: &'static str, domain: &str, name: &str) -> Entry {
        Entry {
            object,
            action,
            domain: domain.to_string(),
            name: name.to_string(),
            before: None,
            after: None,
            outcome: "ok",
        }
    }

    fn before(mut self, value: String) -> Entry {
        self.before = Some(value);
        self
    }

    fn after(mut self, value: String) -> Entry {
        self.after = Some(value);
        self
    }

    pub(crate) fn domain_created(d: &Domain) -> Entry {
        Entry::new("domain", "created", &d.name, &d.name).after(describe_domain(d))
    }

    pub(crate) fn domain_changed(old: &Domain, new: &Domain) -> Entry {
        Entry::new("domain", "changed", &new.name, &new.name)
            .before(describe_domain(old))
            .after(describe_domain(new))
    }

    pub(crate) fn domain_deleted(d: &Domain) -> Entry {
        Entry::new("domain", "deleted", &d.name, &d.name).before(describe_domain(d))
    }

    /// A password set or changed: only that it happened, how, and the schemes.
    pub(crate) fn password(
        action: &'static str,
        domain: &str,
        name: &str,
        old_hash: Option<&str>,
        new_hash: &str,
    ) -> Entry {
        let new = scheme(Some(new_hash));
        let entry =
            Entry::new("password", action, domain, name).after(pairs(&[("scheme", Some(&new))]));
        match old_hash {
            Some(old) => entry.before(pairs(&[("scheme", Some(&scheme(Some(old))))])),
            None => entry,
        }
    }

    pub(crate) fn popbox_created(p: &Popbox) -> Entry {
        let name = format!("{}@{}", p.local_part, p.domain);
        Entry::new("popbox", "created", &p.domain, &name).after(describe_popbox(p))
    }

    pub(crate) fn popbox_deleted(p: &Popbox) -> Entry {
        let name = format!("{}@{}", p.local_part, p.domain);
        Entry::new("popbox", "deleted", &p.domain, &name).before(describe_popbox(p))
    }

    pub(crate) fn forwarder_created(f: &Forwarder) -> Entry {
        let name = format!("{}@{}", f.local_part, f.domain);
        Entry::new(forwarder_object(&f.local_part), "created", &f.domain, &name)
            .after(describe_forwarder(f))
    }

    pub(crate) fn forwarder_changed(old: &Forwarder, new: &Forwarder) -> Entry {
        let name = format!("{}@{}", new.local_part, new.domain);
        Entry::new(
            forwarder_object(&new.local_part),
            "changed",
            &new.domain,
            &name,
        )
        .before(describe_forwarder(old))
        .after(describe_forwarder(new))
    }

    pub(crate) fn forwarder_deleted(f: &Forwarder) -> Entry {
        let name = format!("{}@{}", f.local_part, f.domain);
        Entry::new(forwarder_object(&f.local_part), "deleted", &f.domain, &name)
            .before(describe_forwarder(f))
    }

    pub(crate) fn alias_created(a: &DomainAlias) -> Entry {
        Entry::new("alias", "created", &a.domain, &a.alias)
            .after(pairs(&[("domain", Some(&a.domain))]))
    }

    pub(crate) fn alias_deleted(a: &DomainAlias) -> Entry {
        Entry::new("alias", "deleted", &a.domain, &a.alias)
            .before(pairs(&[("domain", Some(&a.domain))]))
    }

    /// A control-panel session: `signed-in`, `signed-out`.
    pub(crate) fn session(action: &'static str, domain: &str) -> Entry {
        Entry::new("session", action, domain, domain)
    }

    /// A refused control-panel sign-in (the password tried is not recorded).
    pub(crate) fn sign_in_failed(domain: &str) -> Entry {
        let mut entry = Entry::new("session", "sign-in-failed", domain, domain);
        entry.outcome = "failed";
        entry
    }

    pub(crate) fn sessions_expired(count: u64) -> Entry {
        Entry::new("session", "expired", "", "*").after(format!("count={count}"))
    }

    /// A whole import: the counts and a digest of the records, not one record per row.
    pub(crate) fn imported<'a>(
        report: &ImportReport,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Entry {
        Entry::new("import", "imported", "", "site").after(format!(
            "domains={}, aliases={}, popboxes={}, forwarders={}, sha256={}",
            report.domains,
            report.aliases,
            report.popboxes,
            report.forwarders,
            digest(records)
        ))
    }

    /// A schema migration, with the counts and digest of the rows it moved.
    /// The name columns of `tables` now compare case-insensitively (no row changed).
    pub(crate) fn names_made_case_insensitive(tables: &[String]) -> Entry {
        Entry::new("migration", "migrated", "", "case-insensitive names")
            .after(format!("tables={}", tables.join(",")))
    }

    pub(crate) fn migrated(records: &[Record]) -> Entry {
        let count = |f: fn(&Record) -> bool| records.iter().filter(|r| f(r)).count();
        Entry::new("migration", "migrated", "", "legacy to recommended").after(format!(
            "domains={}, aliases={}, popboxes={}, forwarders={}, sha256={}",
            count(|r| matches!(r, Record::Domain(_))),
            count(|r| matches!(r, Record::Alias(_))),
            count(|r| matches!(r, Record::Popbox(_))),
            count(|r| matches!(r, Record::Forwarder(_))),
            digest(records)
        ))
    }

    pub(crate) fn pruned(count: u64, before: i64) -> Entry {
        Entry::new("audit", "pruned", "", "audit_log").after(format!(
            "count={count}, older_than={:?}",
            super::utc(before)
        ))
    }
}

/// SHA-256 over one canonical line per record, in order: identifies an input without holding it.
/// Fields are fed to the hash one by one (no line is built), so 100k records cost milliseconds.
pub(crate) fn digest<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut sha = Sha256::new();
    let mut field = |value: Option<&str>| match value {
        Some(v) => {
            sha.update(b"\t=");
            sha.update(v.as_bytes());
        }
        None => sha.update(b"\t-"),
    };
    for record in records {
        match record {
            Record::Domain(d) => {
                let max = d.max_popbox.map(|n| n.to_string());
                for v in [Some("domain"), Some(&d.name), d.unix_user.as_deref()] {
                    field(v);
                }
                for v in [
                    d.password_hash.as_deref(),
                    d.path.as_deref(),
                    max.as_deref(),
                ] {
                    field(v);
                }
            }
            Record::Alias(a) => {
                for v in [Some("alias"), Some(&a.alias), Some(&a.domain)] {
                    field(v);
                }
            }
            Record::Popbox(p) => {
                for v in [Some("popbox"), Some(&p.domain), Some(&p.local_part)] {
                    field(v);
                }
                field(p.password_hash.as_deref());
                field(p.mbox_name.as_deref());
            }
            Record::Forwarder(f) => {
                for v in [Some("forwarder"), Some(&f.domain), Some(&f.local_part)] {
                    field(v);
                }
                field(Some(&f.remote_name));
            }
        }
        field(None);
    }
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_record_names_only_the_scheme() {
        let hash = password::hash(password::Scheme::Sha512Crypt, "s3cret-pw").unwrap();
        let e = Entry::password("changed", "example.org", "alice@example.org", None, &hash);
        let text = format!("{e:?}");
        assert!(
            !text.contains(&hash) && !text.contains("s3cret-pw"),
            "{text}"
        );
        assert!(e.after.unwrap().starts_with("scheme="));
    }

    #[test]
    fn domain_records_hide_the_admin_hash() {
        let d = Domain {
            name: "example.org".into(),
            unix_user: Some("vmail".into()),
            password_hash: Some("{plaintext}topsecret".into()),
            path: Some("/var/mail/example.org".into()),
            max_popbox: Some(3),
        };
        let text = Entry::domain_created(&d).after.unwrap();
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("max_popbox=\"3\""), "{text}");
    }
}
