//! Whole-site maintenance for `vmailctl`: listing every reason an import would be refused
//! before anything is written, and completing a schema that lacks some tables.
//!
//! [`Vmail::import`] stops at the first bad record; an administrator moving a site wants the
//! whole list at once, with cross-record checks (a popbox before its domain in the file, two
//! records for one address, two popboxes sharing an mbox). [`Vmail::check_import`] gives it,
//! applying the same per-record rules as the import itself.

use std::collections::{HashMap, HashSet};

use crate::address;
use crate::admin::{check_max_popbox, checked_forwarder, Domain, DomainAlias, Forwarder, Popbox};
use crate::error::{Error, Result};
use crate::records::Record;
use crate::store::{self, sql, Backend, SchemaKind};
use crate::vmail::Vmail;

/// Why one record of an import cannot be taken.
#[derive(Debug, Clone)]
pub struct ImportProblem {
    /// The record's position in the slice given to the check (0-based).
    pub index: usize,
    /// What is wrong: `InvalidInput`, `Conflict` (already exists) or `NotFound` (its domain).
    pub error: Error,
}

impl Vmail {
    /// Every reason `records` could not be imported into the database as it is now, in record
    /// order; empty when [`Vmail::import`] would succeed (barring concurrent changes). Writes
    /// nothing.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn check_import(&self, records: &[Record]) -> Result<Vec<ImportProblem>> {
        self.read(|db| {
            let mut site = Site::load(db)?;
            let mut problems = Vec::new();
            // Domains, then aliases, then the rest: the order in which an import can succeed.
            for pass in 0..3 {
                for (index, record) in records.iter().enumerate() {
                    let outcome = match (pass, record) {
                        (0, Record::Domain(d)) => {
                            checked_domain(d).and_then(|d| site.take_domain(&d))
                        }
                        (1, Record::Alias(a)) => checked_alias(a).and_then(|a| site.take_alias(&a)),
                        (2, Record::Popbox(p)) => {
                            self.checked_popbox(p).and_then(|p| site.take_popbox(&p))
                        }
                        (2, Record::Forwarder(f)) => {
                            checked_forwarder(&f.domain, &f.local_part, &f.remote_name)
                                .and_then(|f| site.take_forwarder(&f))
                        }
                        _ => continue,
                    };
                    if let Err(error) = outcome {
                        problems.push(ImportProblem { index, error });
                    }
                }
            }
            problems.sort_by_key(|p| p.index);
            Ok(problems)
        })
    }

    /// Creates the tables of schema `kind` that the database lacks (a seed site often has no
    /// `web_session` table) and leaves every existing table and row alone. Returns the names of
    /// the tables created.
    ///
    /// # Errors
    /// `InvalidInput` for a legacy schema on SQLite; `Temporary` when the database is unreachable.
    pub fn create_missing_tables(&self, kind: SchemaKind) -> Result<Vec<String>> {
        self.lock().read(|db| {
            let existing = db.tables()?;
            let mut created = Vec::new();
            for statement in statements(store::schema_text(db.kind(), kind)?) {
                let Some(table) = table_of(&statement) else {
                    continue;
                };
                if existing.contains(&table) {
                    continue;
                }
                db.execute_script(&statement)?;
                if !created.contains(&table) {
                    created.push(table);
                }
            }
            Ok(created)
        })
    }
}

/// The statements of a schema script, comments removed.
fn statements(script: &str) -> Vec<String> {
    let text: Vec<&str> = script
        .lines()
        .map(|line| {
            let cut = [line.find("--"), line.find('#')]
                .into_iter()
                .flatten()
                .min();
            cut.map_or(line, |at| &line[..at])
        })
        .collect();
    text.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The table a `CREATE TABLE` or `CREATE INDEX ... ON` statement is about.
fn table_of(statement: &str) -> Option<String> {
    let words: Vec<String> = statement
        .split_whitespace()
        .map(|w| w.split('(').next().unwrap_or("").to_ascii_lowercase())
        .collect();
    let name = match words.get(1).map(String::as_str) {
        Some("table") => words[2..]
            .iter()
            .find(|w| !["if", "not", "exists"].contains(&w.as_str())),
        Some("index" | "unique") => words.iter().skip_while(|w| *w != "on").nth(1),
        _ => None,
    };
    (words.first().map(String::as_str) == Some("create"))
        .then(|| name.cloned())
        .flatten()
        .filter(|n| !n.is_empty())
}

/// The rows already in the database, keyed as the library compares them (lower-cased).
struct Site {
    domains: HashSet<String>,
    aliases: HashMap<String, String>,
    popboxes: HashSet<(String, String)>,
    mboxes: HashSet<(String, String)>,
    forwarders: HashSet<(String, String)>,
}

impl Site {
    fn load(db: &mut dyn Backend) -> Result<Site> {
        let low = |s: &str| s.to_lowercase();
        let popboxes = sql::popboxes(db, None)?;
        Ok(Site {
            domains: sql::domains(db)?.iter().map(|d| low(&d.name)).collect(),
            aliases: sql::aliases(db, None)?
                .iter()
                .map(|a| (low(&a.alias), low(&a.domain)))
                .collect(),
            popboxes: popboxes
                .iter()
                .map(|p| (low(&p.domain), low(&p.local_part)))
                .collect(),
            mboxes: popboxes
                .iter()
                .filter_map(|p| Some((low(&p.domain), p.mbox_name.clone()?)))
                .collect(),
            forwarders: sql::forwarders(db, None)?
                .iter()
                .map(|f| (low(&f.domain), low(&f.local_part)))
                .collect(),
        })
    }
}

impl Site {
    fn take_domain(&mut self, d: &Domain) -> Result<()> {
        if self.aliases.contains_key(&d.name) {
            return Err(Error::conflict(format!(
                "{} is already a domain alias",
                d.name
            )));
        }
        if !self.domains.insert(d.name.clone()) {
            return Err(Error::conflict(format!("domain {} already exists", d.name)));
        }
        Ok(())
    }

    fn take_alias(&mut self, a: &DomainAlias) -> Result<()> {
        self.need_domain(&a.domain)?;
        if self.domains.contains(&a.alias) {
            return Err(Error::conflict(format!(
                "{} is a domain, not an alias",
                a.alias
            )));
        }
        if self
            .aliases
            .insert(a.alias.clone(), a.domain.clone())
            .is_some()
        {
            return Err(Error::conflict(format!("alias {} already exists", a.alias)));
        }
        Ok(())
    }

    fn take_popbox(&mut self, p: &Popbox) -> Result<()> {
        self.need_domain(&p.domain)?;
        check_hash(p.password_hash.as_deref())?;
        if !self
            .popboxes
            .insert((p.domain.clone(), p.local_part.clone()))
        {
            return Err(Error::conflict(format!(
                "popbox {}@{} already exists",
                p.local_part, p.domain
            )));
        }
        // Two popboxes on one mbox would read each other's mail.
        let mbox = p.mbox_name.clone().unwrap_or_default();
        if !self.mboxes.insert((p.domain.clone(), mbox.clone())) {
            return Err(Error::conflict(format!(
                "mbox {mbox} is already used by another popbox of {}",
                p.domain
            )));
        }
        Ok(())
    }

    fn take_forwarder(&mut self, f: &Forwarder) -> Result<()> {
        self.need_domain(&f.domain)?;
        if !self
            .forwarders
            .insert((f.domain.clone(), f.local_part.clone()))
        {
            return Err(Error::conflict(format!(
                "forwarder {}@{} already exists",
                f.local_part, f.domain
            )));
        }
        Ok(())
    }

    fn need_domain(&self, name: &str) -> Result<()> {
        if self.domains.contains(name) {
            Ok(())
        } else {
            Err(Error::not_found(format!("no such domain {name}")))
        }
    }
}

/// The import's rules for a domain row (a forwarding-only domain may lack a path and a user).
fn checked_domain(d: &Domain) -> Result<Domain> {
    if let Some(path) = &d.path {
        address::check_domain_path(path)?;
    }
    if d.unix_user.is_some() {
        address::check_unix_user(d.unix_user.as_deref())?;
    }
    check_max_popbox(d.max_popbox)?;
    check_hash(d.password_hash.as_deref())?;
    Ok(Domain {
        name: address::normalize_domain(&d.name)?,
        ..d.clone()
    })
}

fn checked_alias(a: &DomainAlias) -> Result<DomainAlias> {
    let checked = DomainAlias {
        alias: address::normalize_domain(&a.alias)?,
        domain: address::normalize_domain(&a.domain)?,
    };
    if checked.alias == checked.domain {
        return Err(Error::invalid("a domain cannot be an alias of itself"));
    }
    Ok(checked)
}

/// A hash is kept as stored, but must fit the column: MySQL outside strict mode would cut it.
fn check_hash(hash: Option<&str>) -> Result<()> {
    match hash {
        Some(h) if h.len() > address::MAX_COLUMN => Err(Error::invalid(format!(
            "password hash is longer than {} characters",
            address::MAX_COLUMN
        ))),
        Some(h) if h.chars().any(char::is_control) => {
            Err(Error::invalid("password hash contains control characters"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_table_of_each_schema_statement() {
        assert_eq!(
            table_of("CREATE TABLE IF NOT EXISTS domain (a int)").as_deref(),
            Some("domain")
        );
        assert_eq!(
            table_of("create table web_session(\n x int)").as_deref(),
            Some("web_session")
        );
        assert_eq!(
            table_of("CREATE INDEX IF NOT EXISTS by_id ON web_session (session_id)").as_deref(),
            Some("web_session")
        );
        assert_eq!(table_of("INSERT INTO domain VALUES (1)"), None);
    }

    #[test]
    fn schema_scripts_split_into_their_tables() {
        for (store, kind) in [
            (store::StoreKind::Mysql, SchemaKind::Legacy),
            (store::StoreKind::Mysql, SchemaKind::Recommended),
            (store::StoreKind::Sqlite, SchemaKind::Recommended),
        ] {
            let mut tables: Vec<String> = statements(store::schema_text(store, kind).unwrap())
                .iter()
                .filter_map(|s| table_of(s))
                .collect();
            tables.sort();
            tables.dedup();
            assert_eq!(
                tables,
                [
                    "domain",
                    "domain_alias",
                    "forwarder",
                    "popbox",
                    "web_session"
                ],
                "{store:?} {kind:?}"
            );
        }
    }
}
