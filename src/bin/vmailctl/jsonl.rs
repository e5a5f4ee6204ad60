//! The export format: JSON Lines, one record a line, `type` first.
//!
//! ```text
//! {"type":"domain","name":"example.org","path":"/var/mail/example.org","unix_user":"vmail","max_popbox":null,"password_hash":null}
//! {"type":"alias","alias":"example.net","domain":"example.org"}
//! {"type":"popbox","domain":"example.org","local_part":"alice","mbox_name":"alice","password_hash":"{crypt}$6$..."}
//! {"type":"forwarder","domain":"example.org","local_part":"info","remote_name":"alice@example.org, bob@example.com"}
//! ```
//!
//! Optional fields may be `null` or left out; unknown fields and types are refused, so a typo
//! cannot silently drop data. Hashes are copied exactly as stored.

use serde_json::{json, Map, Value};
use vmailsql::{Domain, DomainAlias, Forwarder, Popbox, Record};

/// One record as a line of JSON (no newline).
pub fn to_line(record: &Record) -> String {
    let value = match record {
        Record::Domain(d) => json!({
            "type": "domain", "name": d.name, "path": d.path, "unix_user": d.unix_user,
            "max_popbox": d.max_popbox, "password_hash": d.password_hash,
        }),
        Record::Alias(a) => json!({ "type": "alias", "alias": a.alias, "domain": a.domain }),
        Record::Popbox(p) => json!({
            "type": "popbox", "domain": p.domain, "local_part": p.local_part,
            "mbox_name": p.mbox_name, "password_hash": p.password_hash,
        }),
        Record::Forwarder(f) => json!({
            "type": "forwarder", "domain": f.domain, "local_part": f.local_part,
            "remote_name": f.remote_name,
        }),
    };
    value.to_string()
}

/// The `type` name of a record, for counts and messages.
pub fn type_name(record: &Record) -> &'static str {
    match record {
        Record::Domain(_) => "domain",
        Record::Alias(_) => "alias",
        Record::Popbox(_) => "popbox",
        Record::Forwarder(_) => "forwarder",
    }
}

/// Parses one line; the error says what is wrong, without the line number.
pub fn from_line(line: &str) -> Result<Record, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err("not a JSON object".to_string());
    };
    let fields = Fields(fields);
    let record = match fields.text("type")?.as_str() {
        "domain" => {
            fields.only(&["name", "path", "unix_user", "max_popbox", "password_hash"])?;
            Record::Domain(Domain {
                name: fields.text("name")?,
                path: fields.optional("path")?,
                unix_user: fields.optional("unix_user")?,
                max_popbox: fields.integer("max_popbox")?,
                password_hash: fields.optional("password_hash")?,
            })
        }
        "alias" => {
            fields.only(&["alias", "domain"])?;
            Record::Alias(DomainAlias {
                alias: fields.text("alias")?,
                domain: fields.text("domain")?,
            })
        }
        "popbox" => {
            fields.only(&["domain", "local_part", "mbox_name", "password_hash"])?;
            Record::Popbox(Popbox {
                domain: fields.text("domain")?,
                local_part: fields.text("local_part")?,
                mbox_name: fields.optional("mbox_name")?,
                password_hash: fields.optional("password_hash")?,
            })
        }
        "forwarder" => {
            fields.only(&["domain", "local_part", "remote_name"])?;
            Record::Forwarder(Forwarder {
                domain: fields.text("domain")?,
                local_part: fields.text("local_part")?,
                remote_name: fields.text("remote_name")?,
            })
        }
        other => {
            return Err(format!(
                "unknown type {other:?} (expected domain, alias, popbox or forwarder)"
            ))
        }
    };
    Ok(record)
}

/// A record's fields, read with checks.
struct Fields(Map<String, Value>);

impl Fields {
    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self
            .0
            .keys()
            .find(|k| *k != "type" && !allowed.contains(&k.as_str()))
        {
            Some(unknown) => Err(format!("unknown field {unknown:?}")),
            None => Ok(()),
        }
    }

    fn text(&self, name: &str) -> Result<String, String> {
        self.optional(name)?
            .ok_or_else(|| format!("field {name:?} is required"))
    }

    fn optional(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("field {name:?} must be a string or null")),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(_) => Err(format!("field {name:?} must be an integer or null")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One record of each type, for this format's tests and the spool's.
    pub(crate) fn samples() -> Vec<Record> {
        vec![
            Record::Domain(Domain {
                name: "example.org".into(),
                path: Some("/var/mail/example.org".into()),
                unix_user: Some("vmail".into()),
                max_popbox: Some(5),
                password_hash: None,
            }),
            Record::Alias(DomainAlias {
                alias: "example.net".into(),
                domain: "example.org".into(),
            }),
            Record::Popbox(Popbox {
                domain: "example.org".into(),
                local_part: "alice".into(),
                mbox_name: Some("a/alice".into()),
                password_hash: Some("{md5}5ebe2294ecd0e0f08eab7690d2a6ee69".into()),
            }),
            Record::Forwarder(Forwarder {
                domain: "example.org".into(),
                local_part: "_default_".into(),
                remote_name: "x@elsewhere.example, \"quoted\"@y.example".into(),
            }),
        ]
    }

    #[test]
    fn every_record_type_survives_a_round_trip() {
        for record in samples() {
            let line = to_line(&record);
            assert!(
                line.starts_with(&format!("{{\"type\":\"{}\"", type_name(&record))),
                "{line}"
            );
            assert!(!line.contains('\n'));
            assert_eq!(from_line(&line).unwrap(), record);
        }
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases = [
            ("[1]", "not a JSON object"),
            ("{\"type\":\"mailbox\"}", "unknown type"),
            (
                "{\"type\":\"alias\",\"alias\":\"a.example\"}",
                "\"domain\" is required",
            ),
            (
                "{\"type\":\"alias\",\"alias\":\"a\",\"domain\":\"b\",\"x\":1}",
                "unknown field \"x\"",
            ),
            (
                "{\"type\":\"domain\",\"name\":\"a\",\"max_popbox\":\"5\"}",
                "integer",
            ),
            ("{\"type\":\"popbox\",\"domain\":1}", "string or null"),
            ("{\"type\":", "not JSON"),
        ];
        for (line, expected) in cases {
            let e = from_line(line).unwrap_err();
            assert!(e.contains(expected), "{line}: {e}");
        }
    }
}
