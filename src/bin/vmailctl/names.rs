//! Small shared pieces: addresses as typed, target lists, and how a stored hash is described.

use serde_json::{json, Value};
use vmailsql::password;

use crate::exit::{Failure, Outcome};

/// Splits `local@domain` as typed; the library checks and normalises both halves.
pub fn split(address: &str) -> Outcome<(&str, &str)> {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok((local, domain)),
        _ => Err(Failure::usage(format!("{address:?} is not local@domain"))),
    }
}

/// Targets given as several arguments, or as one comma-separated list, or both.
pub fn target_list(targets: &[String]) -> String {
    targets.join(", ")
}

/// How a stored hash is shown: its scheme and whether it is weak, never the hash itself (it can
/// be cracked offline, and `{plaintext}` is the password).
pub fn hash_label(hash: Option<&str>) -> String {
    match hash {
        None => "none".to_string(),
        Some(h) => match password::identify(h) {
            Some(s) if s.weak => format!("{} (weak)", s.name),
            Some(s) => s.name.to_string(),
            None => "unrecognised (never verifies)".to_string(),
        },
    }
}

/// The JSON form of [`hash_label`]: `null` for no hash.
pub fn hash_json(hash: Option<&str>) -> Value {
    match hash {
        None => Value::Null,
        Some(h) => match password::identify(h) {
            Some(s) => json!({ "scheme": s.name, "weak": s.weak, "recognised": true }),
            None => json!({ "scheme": null, "weak": true, "recognised": false }),
        },
    }
}

/// `1 popbox`, `2 popboxes`, `3 forwarders`.
pub fn count(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        _ if thing.ends_with(['s', 'x']) => format!("{n} {thing}es"),
        _ => format!("{n} {thing}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_at_the_last_at() {
        assert_eq!(split("a@b@example.org").unwrap(), ("a@b", "example.org"));
        for bad in ["alice", "@example.org", "alice@"] {
            assert_eq!(split(bad).unwrap_err().code, crate::exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn hashes_are_described_not_shown() {
        let md5 = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69";
        assert!(hash_label(Some(md5)).ends_with("(weak)"));
        assert!(!hash_label(Some(md5)).contains("5ebe"));
        assert_eq!(
            hash_label(Some("{nonsense}x")),
            "unrecognised (never verifies)"
        );
        assert_eq!(hash_json(Some(md5))["weak"], true);
        assert!(hash_json(None).is_null());
    }

    #[test]
    fn counts_are_plural_english() {
        assert_eq!(count(1, "popbox"), "1 popbox");
        assert_eq!(count(2, "popbox"), "2 popboxes");
        assert_eq!(count(0, "alias"), "0 aliases");
        assert_eq!(count(3, "forwarder"), "3 forwarders");
    }
}
