//! What one audit record says, built from the rows a change touches. Secrets never get in: a
//! password hash appears only as the name of its scheme.

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

    /// A whole import: the counts and the digest of its records, not one record per row.
    pub(crate) fn imported(report: &ImportReport, digest: InputDigest) -> Entry {
        Entry::new("import", "imported", "", "site").after(format!(
            "domains={}, aliases={}, popboxes={}, forwarders={}, blake3={}",
            report.domains,
            report.aliases,
            report.popboxes,
            report.forwarders,
            digest.finish()
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
            "domains={}, aliases={}, popboxes={}, forwarders={}, blake3={}",
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

/// The digest of `records` (see [`InputDigest`]).
pub(crate) fn digest<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut digest = InputDigest::default();
    for record in records {
        digest.record(record);
    }
    digest.finish()
}

/// Bytes gathered before they reach the hash: it costs least fed many blocks at once, not a
/// dozen bytes per call.
const FEED_CHUNK: usize = 64 * 1024;

/// BLAKE3 over one canonical line per record, in order: identifies an input without holding
/// it. Each field is `\t=value` (or `\t-` when absent) and each record ends with `\t-`. The
/// lines go into one reused buffer, hashed a chunk at a time; an import feeds each record as it
/// checks it, while the record is in the cache, rather than in a second pass.
pub(crate) struct InputDigest {
    hash: blake3::Hasher,
    buf: Vec<u8>,
}

impl Default for InputDigest {
    fn default() -> InputDigest {
        InputDigest {
            hash: blake3::Hasher::new(),
            buf: Vec::with_capacity(FEED_CHUNK + 1024),
        }
    }
}

impl InputDigest {
    fn field(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                self.buf.extend_from_slice(b"\t=");
                self.buf.extend_from_slice(v.as_bytes());
            }
            None => self.buf.extend_from_slice(b"\t-"),
        }
    }

    fn fields(&mut self, values: &[Option<&str>]) {
        for v in values {
            self.field(*v);
        }
    }

    pub(crate) fn record(&mut self, record: &Record) {
        match record {
            Record::Domain(d) => {
                let max = d.max_popbox.map(|n| n.to_string());
                self.fields(&[
                    Some("domain"),
                    Some(&d.name),
                    d.unix_user.as_deref(),
                    d.password_hash.as_deref(),
                    d.path.as_deref(),
                    max.as_deref(),
                ]);
            }
            Record::Alias(a) => self.fields(&[Some("alias"), Some(&a.alias), Some(&a.domain)]),
            Record::Popbox(p) => self.fields(&[
                Some("popbox"),
                Some(&p.domain),
                Some(&p.local_part),
                p.password_hash.as_deref(),
                p.mbox_name.as_deref(),
            ]),
            Record::Forwarder(f) => self.fields(&[
                Some("forwarder"),
                Some(&f.domain),
                Some(&f.local_part),
                Some(&f.remote_name),
            ]),
        }
        self.field(None);
        if self.buf.len() >= FEED_CHUNK {
            self.hash.update(&self.buf);
            self.buf.clear();
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.hash.update(&self.buf);
        self.hash.finalize().to_hex().to_string()
    }
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

    /// The digest is BLAKE3 of the canonical lines, whatever the chunking: one input large
    /// enough to cross several chunks, hashed here from lines built the plain way.
    #[test]
    fn the_digest_is_blake3_of_the_canonical_lines() {
        let mut records = vec![
            Record::Domain(Domain {
                name: "example.org".into(),
                unix_user: Some("vmail".into()),
                password_hash: None,
                path: Some("/var/mail/example.org".into()),
                max_popbox: Some(7),
            }),
            Record::Alias(DomainAlias {
                alias: "example.net".into(),
                domain: "example.org".into(),
            }),
        ];
        for i in 0..5000 {
            records.push(Record::Popbox(Popbox {
                domain: "example.org".into(),
                local_part: format!("user{i}"),
                password_hash: (i % 3 != 0).then(|| format!("{{plain}}pw{i}")),
                mbox_name: (i % 2 == 0).then(|| format!("mbox{i}")),
            }));
            records.push(Record::Forwarder(Forwarder {
                domain: "example.org".into(),
                local_part: format!("fwd{i}"),
                remote_name: format!("someone{i}@remote.example"),
            }));
        }
        let f = |v: Option<&str>| v.map_or("\t-".to_string(), |v| format!("\t={v}"));
        let mut text = String::new();
        for r in &records {
            let fields: Vec<Option<String>> = match r {
                Record::Domain(d) => vec![
                    Some("domain".into()),
                    Some(d.name.clone()),
                    d.unix_user.clone(),
                    d.password_hash.clone(),
                    d.path.clone(),
                    d.max_popbox.map(|n| n.to_string()),
                ],
                Record::Alias(a) => vec![
                    Some("alias".into()),
                    Some(a.alias.clone()),
                    Some(a.domain.clone()),
                ],
                Record::Popbox(p) => vec![
                    Some("popbox".into()),
                    Some(p.domain.clone()),
                    Some(p.local_part.clone()),
                    p.password_hash.clone(),
                    p.mbox_name.clone(),
                ],
                Record::Forwarder(w) => vec![
                    Some("forwarder".into()),
                    Some(w.domain.clone()),
                    Some(w.local_part.clone()),
                    Some(w.remote_name.clone()),
                ],
            };
            for v in fields.iter().map(Option::as_deref).chain([None]) {
                text.push_str(&f(v));
            }
        }
        assert!(text.len() > 2 * FEED_CHUNK, "the input crosses chunks");
        let expected = blake3::hash(text.as_bytes()).to_hex().to_string();
        assert_eq!(digest(&records), expected);
        assert_ne!(digest(&records[1..]), expected);
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
