//! Whole-site export and atomic import, with hashes kept exactly as stored.

mod site;

use std::borrow::{Borrow, Cow};

use crate::address;
use crate::admin::{check_max_popbox, checked_forwarder};
use crate::audit::{self, Entry, InputDigest};
use crate::error::{Error, Result};
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox};
use crate::store::{sql, Backend, Value};
use crate::vmail::Vmail;
use site::Site;

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
    /// The record's position among the records given to the check (0-based).
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
        self.import_from(|| Ok(records.iter().map(Ok)))
    }

    /// [`Vmail::import`] for records too many to hold at once: `source` starts the records
    /// again from the first each time it is called, and must give the same records every time
    /// (a file that nobody else writes to). They are read three times: twice to check them
    /// (domains first, since the others need them), holding only a 16-byte key per name, and
    /// once to write them in multi-row INSERTs, every row inside the one transaction. MyISAM
    /// tables have no transactions: there the checks all run before the first row is written.
    ///
    /// # Errors
    /// As [`Vmail::import`]; an error that `source` gives stops the import, nothing written.
    pub fn import_from<S, I, R>(&self, source: S) -> Result<ImportReport>
    where
        S: Fn() -> Result<I>,
        I: Iterator<Item = Result<R>>,
        R: Borrow<Record>,
    {
        let digest_wanted = audit::likely(self);
        self.write(|db| {
            let checked = self.check_all(db, &source, digest_wanted)?;
            if let Some(p) = checked.problems.into_iter().min_by_key(|p| p.index) {
                let e = p.error;
                return Err(Error::new(e.kind(), format!("record {}: {e}", p.index + 1)));
            }
            let report = self.insert_all(db, source()?)?;
            // The audit table may have appeared since `likely` said no.
            if audit::enabled(db, self)? {
                let digest = match checked.digest {
                    Some(d) => d,
                    None => self.digest_of(source()?)?,
                };
                audit::record(db, self, Entry::imported(&report, digest))?;
            }
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
        self.check_import_from(|| Ok(records.iter().map(Ok)))
    }

    /// [`Vmail::check_import`] for a `source` of records as [`Vmail::import_from`] takes,
    /// read twice.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable; an error that `source` gives.
    pub fn check_import_from<S, I, R>(&self, source: S) -> Result<Vec<ImportProblem>>
    where
        S: Fn() -> Result<I>,
        I: Iterator<Item = Result<R>>,
        R: Borrow<Record>,
    {
        let mut problems = self.read(|db| Ok(self.check_all(db, &source, false)?.problems))?;
        problems.sort_by_key(|p| p.index);
        Ok(problems)
    }

    /// Checks every record against the database as it is now and against the records before
    /// it: domains in a first pass, which also checks each record's values and takes the
    /// digest, then the aliases, popboxes and forwarders, which need only the domains.
    fn check_all<S, I, R>(&self, db: &mut dyn Backend, source: &S, digest: bool) -> Result<Checked>
    where
        S: Fn() -> Result<I>,
        I: Iterator<Item = Result<R>>,
        R: Borrow<Record>,
    {
        let mut site = Site::load(db)?;
        let mut digest = digest.then(InputDigest::default);
        let mut problems = Vec::new();
        for (index, record) in source()?.enumerate() {
            let outcome = self.checked_record(record?.borrow()).and_then(|r| {
                if let Some(d) = digest.as_mut() {
                    d.record(&r);
                }
                match &*r {
                    Record::Domain(d) => site.take_domain(d),
                    _ => Ok(()),
                }
            });
            if let Err(error) = outcome {
                problems.push(ImportProblem { index, error });
            }
        }
        for (index, record) in source()?.enumerate() {
            let outcome = match self.checked_record(record?.borrow()).as_deref() {
                Err(_) | Ok(Record::Domain(_)) => continue,
                Ok(Record::Alias(a)) => site.take_alias(a),
                Ok(Record::Popbox(p)) => site.take_popbox(p),
                Ok(Record::Forwarder(f)) => site.take_forwarder(f),
            };
            if let Err(error) = outcome {
                problems.push(ImportProblem { index, error });
            }
        }
        Ok(Checked { problems, digest })
    }

    /// Writes checked records (the checks ran in the same transaction), each table in
    /// multi-row INSERTs of [`sql::ROWS_PER_INSERT`] rows, so only that many are held at once.
    fn insert_all<R: Borrow<Record>>(
        &self,
        db: &mut dyn Backend,
        records: impl Iterator<Item = Result<R>>,
    ) -> Result<ImportReport> {
        let mut pending: [Vec<Vec<Value>>; 4] = Default::default();
        let mut written = [0; 4];
        for record in records {
            let record = record?;
            let record = self.checked_record(record.borrow())?;
            let table = table_of(&record);
            pending[table].push(values_of(&record));
            if pending[table].len() == sql::ROWS_PER_INSERT {
                sql::insert_rows(db, TABLES[table], &pending[table])?;
                written[table] += pending[table].len();
                pending[table].clear();
            }
        }
        for (table, rows) in pending.iter().enumerate() {
            sql::insert_rows(db, TABLES[table], rows)?;
            written[table] += rows.len();
        }
        let [domains, aliases, popboxes, forwarders] = written;
        Ok(ImportReport {
            domains,
            aliases,
            popboxes,
            forwarders,
        })
    }

    /// The audit digest of the records, for when the check did not take it.
    fn digest_of<R: Borrow<Record>>(
        &self,
        records: impl Iterator<Item = Result<R>>,
    ) -> Result<InputDigest> {
        let mut digest = InputDigest::default();
        for record in records {
            let record = record?;
            digest.record(&*self.checked_record(record.borrow())?);
        }
        Ok(digest)
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

/// What checking an import found: its problems, and the digest when it was asked for.
struct Checked {
    problems: Vec<ImportProblem>,
    digest: Option<InputDigest>,
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

/// The tables an import writes, in the order of [`table_of`].
const TABLES: [(&str, &[&str]); 4] = [
    sql::DOMAIN_INSERT,
    sql::ALIAS_INSERT,
    sql::POPBOX_INSERT,
    sql::FORWARDER_INSERT,
];

/// Index into [`TABLES`].
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
