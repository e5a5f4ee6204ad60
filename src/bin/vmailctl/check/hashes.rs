//! Stored password hashes counted by scheme, weak ones flagged.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use vmailsql::password;

use super::{Finding, Site};
use crate::names::count;
use crate::output::table;

/// What a stored value is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Kind {
    name: &'static str,
    weak: bool,
}

/// Not a hash any scheme verifies: the account cannot log in.
const UNRECOGNISED: Kind = Kind {
    name: "unrecognised, empty or none",
    weak: true,
};

fn kind_of(hash: Option<&str>) -> Kind {
    hash.and_then(password::identify)
        .map_or(UNRECOGNISED, |s| Kind {
            name: s.name,
            weak: s.weak,
        })
}

#[derive(Default)]
pub struct Census {
    /// Per scheme: (popboxes, domain administrators).
    counts: BTreeMap<Kind, (usize, usize)>,
    weak: Vec<String>,
    unusable: Vec<String>,
    /// Beyond the library's cost limits: every login fails as unsafe data.
    costly: Vec<String>,
}

impl Census {
    pub fn take(site: &Site) -> Census {
        let mut census = Census::default();
        for p in &site.popboxes {
            let kind = kind_of(p.password_hash.as_deref());
            census.counts.entry(kind).or_default().0 += 1;
            census.note(kind, format!("{}@{}", p.local_part, p.domain));
            census.note_cost(p.password_hash.as_deref(), || {
                format!("{}@{}", p.local_part, p.domain)
            });
        }
        // A domain without an admin password simply has no control-panel login.
        for d in site.domains.iter().filter(|d| d.password_hash.is_some()) {
            let kind = kind_of(d.password_hash.as_deref());
            census.counts.entry(kind).or_default().1 += 1;
            census.note(kind, format!("domain {}", d.name));
            census.note_cost(d.password_hash.as_deref(), || format!("domain {}", d.name));
        }
        census
    }

    fn note(&mut self, kind: Kind, account: String) {
        if kind == UNRECOGNISED {
            self.unusable.push(account);
        } else if kind.weak {
            self.weak.push(account);
        }
    }

    fn note_cost(&mut self, hash: Option<&str>, account: impl FnOnce() -> String) {
        if hash
            .and_then(password::identify)
            .is_some_and(|s| s.too_costly)
        {
            self.costly.push(account());
        }
    }

    pub fn findings(&self) -> Vec<Finding> {
        let mut found = Vec::new();
        if !self.costly.is_empty() {
            found.push(Finding::problem(
                "costly-hash",
                format!(
                    "{} stored with a cost beyond the library's limits, never computed: their \
                     logins fail as unsafe data (e.g. {}); reset them",
                    count(self.costly.len(), "password"),
                    sample(&self.costly)
                ),
            ));
        }
        if !self.weak.is_empty() {
            found.push(Finding::warning(
                "weak-hash",
                format!(
                    "{} stored in weak schemes (e.g. {}): set upgrade_on_login = yes, or reset them",
                    count(self.weak.len(), "password"),
                    sample(&self.weak)
                ),
            ));
        }
        if !self.unusable.is_empty() {
            found.push(Finding::warning(
                "unusable-hash",
                format!(
                    "{} can never log in: no hash, or one no scheme verifies ({})",
                    count(self.unusable.len(), "account"),
                    sample(&self.unusable)
                ),
            ));
        }
        found
    }

    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .counts
            .iter()
            .map(|(kind, (boxes, admins))| {
                let flag = if kind.weak { "weak" } else { "" };
                vec![
                    kind.name.to_string(),
                    boxes.to_string(),
                    admins.to_string(),
                    flag.to_string(),
                ]
            })
            .collect();
        let headers = ["PASSWORD SCHEME", "POPBOXES", "DOMAIN ADMINS", ""];
        table(&headers, &rows, "no stored passwords")
    }

    pub fn json(&self) -> Value {
        let schemes: Vec<Value> = self
            .counts
            .iter()
            .map(|(kind, (boxes, admins))| {
                json!({ "scheme": kind.name, "weak": kind.weak, "popboxes": boxes,
                        "domain_admins": admins })
            })
            .collect();
        json!({ "schemes": schemes, "weak": self.weak, "unusable": self.unusable,
                "costly": self.costly })
    }
}

/// The first few accounts of a list, for one line of text.
fn sample(accounts: &[String]) -> String {
    let mut shown = accounts
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if accounts.len() > 3 {
        shown.push_str(", ...");
    }
    shown
}
