//! Whole-site export and atomic import, with hashes kept exactly as stored.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use crate::address;
use crate::admin::{check_max_popbox, checked_forwarder};
use crate::audit::{self, Entry, InputDigest};
use crate::error::{Error, Result};
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox};
use crate::store::{sql, Backend, Value};
use crate::vmail::Vmail;

/// One row of a site, for export and import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A `domain` row.
    Domain(Domain),
    /// A `domain_alias` row.
    Alias(DomainAlias),
    /// A `popbox` row.
    Popbox(Popbox),
    /// A `forwarder` row (the catch-all included).
    Forwarder(Forwarder),
}

/// How many rows of each kind an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Domains written.
    pub domains: usize,
    /// Domain aliases written.
    pub aliases: usize,
    /// Popboxes written.
    pub popboxes: usize,
    /// Forwarders written.
    pub forwarders: usize,
}

/// Why one record of an import cannot be taken.
#[derive(Debug, Clone)]
pub struct ImportProblem {
    /// The record's position in the slice given to the check (0-based).
    pub index: usize,
    /// What is wrong: `InvalidInput`, `Conflict` (already exists) or `NotFound` (its domain).
    pub error: Error,
}

impl Vmail {
    /// Every domain, alias, popbox and forwarder, in an order that [`Vmail::import`] accepts,
    /// read in one transaction so the four tables form one consistent snapshot.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn export(&self) -> Result<Vec<Record>> {
        self.write(|db| {
            let mut out: Vec<Record> = sql::domains(db)?.into_iter().map(Record::Domain).collect();
            out.extend(sql::aliases(db, None)?.into_iter().map(Record::Alias));
            out.extend(sql::popboxes(db, None)?.into_iter().map(Record::Popbox));
            out.extend(
                sql::forwarders(db, None)?
                    .into_iter()
                    .map(Record::Forwarder),
            );
            Ok(out)
        })
    }

    /// Validates every record against the rules of [`Vmail::check_import`], then writes them all
    /// in one transaction: all or nothing. Records may come in any order; existing rows are never
    /// overwritten. The checks run again inside the transaction, so a concurrent change cannot
    /// slip between check and write.
    ///
    /// # Errors
    /// The first problem, as `record N: …` (counted from 1) with its kind: `InvalidInput`,
    /// `Conflict` (already exists) or `NotFound` (its domain); `Temporary` when the database is
    /// unreachable.
    pub fn import(&self, records: &[Record]) -> Result<ImportReport> {
        // The audit record's digest is taken as each record is checked, not in a second pass.
        let mut digest = audit::likely(self).then(InputDigest::default);
        let checked = records
            .iter()
            .map(|r| {
                let checked = self.checked_record(r);
                if let (Some(d), Ok(r)) = (digest.as_mut(), &checked) {
                    d.record(r);
                }
                checked
            })
            .collect::<Vec<_>>();
        // Taken by the first attempt of the transaction; a retry, or a table that appeared
        // since `likely` said no, makes the digest again.
        let digest = Cell::new(digest);
        self.write(|db| {
            if let Some(p) = problems(db, &checked)?.into_iter().next() {
                let e = p.error;
                return Err(Error::new(e.kind(), format!("record {}: {e}", p.index + 1)));
            }
            let report = insert_all(db, checked.iter().flatten().map(|r| &**r))?;
            audit::when(db, self, true, || {
                let digest = digest.take().unwrap_or_else(|| {
                    let mut d = InputDigest::default();
                    checked.iter().flatten().for_each(|r| d.record(r));
                    d
                });
                Entry::imported(&report, digest)
            })?;
            Ok(report)
        })
    }

    /// Every reason `records` could not be imported into the database as it is now, in record
    /// order; empty when [`Vmail::import`] would succeed (barring concurrent changes). Writes
    /// nothing.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn check_import(&self, records: &[Record]) -> Result<Vec<ImportProblem>> {
        let checked = records
            .iter()
            .map(|r| self.checked_record(r))
            .collect::<Vec<_>>();
        self.read(|db| problems(db, &checked))
    }

    /// One record with its names normalised and its values checked; borrowed when it already
    /// was (an export's records are), so that a large import is not held twice in memory.
    fn checked_record<'a>(&self, record: &'a Record) -> Result<Cow<'a, Record>> {
        let checked = match record {
            Record::Domain(d) => Record::Domain(checked_domain(d)?),
            Record::Alias(a) => Record::Alias(checked_alias(a)?),
            Record::Popbox(p) => {
                check_hash(p.password_hash.as_deref())?;
                Record::Popbox(self.checked_popbox(p)?)
            }
            Record::Forwarder(f) => {
                Record::Forwarder(checked_forwarder(&f.domain, &f.local_part, &f.remote_name)?)
            }
        };
        Ok(if checked == *record {
            Cow::Borrowed(record)
        } else {
            Cow::Owned(checked)
        })
    }
}

/// Which import pass a record belongs to: domains, then aliases, then the rest.
fn pass_of(record: &Record) -> usize {
    match record {
        Record::Domain(_) => 0,
        Record::Alias(_) => 1,
        Record::Popbox(_) | Record::Forwarder(_) => 2,
    }
}

/// Every problem of already-checked records against the database as it is now, in record order.
fn problems<'a>(
    db: &mut dyn Backend,
    checked: &'a [Result<Cow<'a, Record>>],
) -> Result<Vec<ImportProblem>> {
    let mut site = Site::load(db)?;
    let mut problems = Vec::new();
    for pass in 0..3 {
        for (index, record) in checked.iter().enumerate() {
            let outcome = match record.as_ref().map(|r| &**r) {
                Err(e) if pass == 0 => Err(e.clone()),
                Err(_) => continue,
                Ok(r) if pass_of(r) != pass => continue,
                Ok(Record::Domain(d)) => site.take_domain(d),
                Ok(Record::Alias(a)) => site.take_alias(a),
                Ok(Record::Popbox(p)) => site.take_popbox(p),
                Ok(Record::Forwarder(f)) => site.take_forwarder(f),
            };
            if let Err(error) = outcome {
                problems.push(ImportProblem { index, error });
            }
        }
    }
    problems.sort_by_key(|p| p.index);
    Ok(problems)
}

/// A name in [`Site`]: read from the database (owned) or borrowed from a record being checked,
/// so that checking a million records does not copy their names again.
type Name<'a> = Cow<'a, str>;

/// The rows already in the database, keyed as the library compares them (lower-cased), and
/// the records taken so far.
struct Site<'a> {
    domains: HashSet<Name<'a>>,
    aliases: HashMap<Name<'a>, Name<'a>>,
    popboxes: HashSet<(Name<'a>, Name<'a>)>,
    mboxes: HashSet<(Name<'a>, Name<'a>)>,
    forwarders: HashSet<(Name<'a>, Name<'a>)>,
}

impl<'a> Site<'a> {
    fn load(db: &mut dyn Backend) -> Result<Site<'a>> {
        let low = |s: &str| Name::Owned(s.to_lowercase());
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
                .filter_map(|p| Some((low(&p.domain), Name::Owned(p.mbox_name.clone()?))))
                .collect(),
            forwarders: sql::forwarders(db, None)?
                .iter()
                .map(|f| (low(&f.domain), low(&f.local_part)))
                .collect(),
        })
    }

    fn take_domain(&mut self, d: &'a Domain) -> Result<()> {
        if self.aliases.contains_key(d.name.as_str()) {
            return Err(Error::conflict(format!(
                "{} is already a domain alias",
                d.name
            )));
        }
        if !self.domains.insert(Name::Borrowed(&d.name)) {
            return Err(Error::conflict(format!("domain {} already exists", d.name)));
        }
        Ok(())
    }

    fn take_alias(&mut self, a: &'a DomainAlias) -> Result<()> {
        self.need_domain(&a.domain)?;
        if self.domains.contains(a.alias.as_str()) {
            return Err(Error::conflict(format!(
                "{} is a domain, not an alias",
                a.alias
            )));
        }
        if self
            .aliases
            .insert(Name::Borrowed(&a.alias), Name::Borrowed(&a.domain))
            .is_some()
        {
            return Err(Error::conflict(format!("alias {} already exists", a.alias)));
        }
        Ok(())
    }

    fn take_popbox(&mut self, p: &'a Popbox) -> Result<()> {
        self.need_domain(&p.domain)?;
        check_hash(p.password_hash.as_deref())?;
        if !self
            .popboxes
            .insert((Name::Borrowed(&p.domain), Name::Borrowed(&p.local_part)))
        {
            return Err(Error::conflict(format!(
                "popbox {}@{} already exists",
                p.local_part, p.domain
            )));
        }
        // Two popboxes on one mbox would read each other's mail.
        let mbox = p.mbox_name.as_deref().unwrap_or_default();
        if !self
            .mboxes
            .insert((Name::Borrowed(&p.domain), Name::Borrowed(mbox)))
        {
            return Err(Error::conflict(format!(
                "mbox {mbox} is already used by another popbox of {}",
                p.domain
            )));
        }
        Ok(())
    }

    fn take_forwarder(&mut self, f: &'a Forwarder) -> Result<()> {
        self.need_domain(&f.domain)?;
        if !self
            .forwarders
            .insert((Name::Borrowed(&f.domain), Name::Borrowed(&f.local_part)))
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
        Some(h) => crate::password::limits::refuse_over_cost(h),
        None => Ok(()),
    }
}

/// Writes checked records (the checks ran in the same transaction): domains, then aliases, then
/// popboxes and forwarders, each table in multi-row INSERTs.
fn insert_all<'a>(
    db: &mut dyn Backend,
    records: impl Iterator<Item = &'a Record>,
) -> Result<ImportReport> {
    let mut by_table: [Vec<&Record>; 4] = Default::default();
    for record in records {
        by_table[table_of(record)].push(record);
    }
    let tables = [
        sql::DOMAIN_INSERT,
        sql::ALIAS_INSERT,
        sql::POPBOX_INSERT,
        sql::FORWARDER_INSERT,
    ];
    for (table, records) in tables.into_iter().zip(&by_table) {
        // Values are made a chunk at a time: a million popboxes are not copied twice at once.
        for chunk in records.chunks(sql::ROWS_PER_INSERT) {
            let rows: Vec<Vec<Value>> = chunk.iter().copied().map(values_of).collect();
            sql::insert_rows(db, table, &rows)?;
        }
    }
    let [domains, aliases, popboxes, forwarders] = by_table.map(|t| t.len());
    Ok(ImportReport {
        domains,
        aliases,
        popboxes,
        forwarders,
    })
}

/// Index into [`insert_all`]'s tables.
fn table_of(record: &Record) -> usize {
    match record {
        Record::Domain(_) => 0,
        Record::Alias(_) => 1,
        Record::Popbox(_) => 2,
        Record::Forwarder(_) => 3,
    }
}

/// A record's values, in the column order of its table's `*_INSERT`.
fn values_of(record: &Record) -> Vec<Value> {
    match record {
        Record::Domain(d) => vec![
            d.name.as_str().into(),
            d.unix_user.as_deref().into(),
            d.password_hash.as_deref().into(),
            d.path.as_deref().into(),
            d.max_popbox.into(),
        ],
        Record::Alias(a) => vec![a.domain.as_str().into(), a.alias.as_str().into()],
        Record::Popbox(p) => vec![
            p.domain.as_str().into(),
            p.local_part.as_str().into(),
            p.password_hash.as_deref().into(),
            p.mbox_name.as_deref().into(),
        ],
        Record::Forwarder(f) => vec![
            f.domain.as_str().into(),
            f.local_part.as_str().into(),
            f.remote_name.as_str().into(),
        ],
    }
}
