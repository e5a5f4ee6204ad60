//! Whole-site export and atomic import, with hashes kept exactly as stored.

use crate::address::{self, normalize_domain};
use crate::admin::{check_max_popbox, checked_forwarder, Domain, DomainAlias, Forwarder, Popbox};
use crate::error::{Error, Result};
use crate::store::{sql, Backend};
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

impl Vmail {
    /// Every domain, alias, popbox and forwarder, in an order that [`Vmail::import`] accepts.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn export(&self) -> Result<Vec<Record>> {
        self.read(|db| {
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

    /// Validates every record first, then writes them all in one transaction: all or nothing.
    /// Existing rows are never overwritten (a duplicate fails the whole import).
    ///
    /// # Errors
    /// `InvalidInput` naming the first bad record (counted from 1); `Conflict` when a record
    /// already exists; `Temporary` when the database is unreachable.
    pub fn import(&self, records: &[Record]) -> Result<ImportReport> {
        let checked = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                self.checked_record(r)
                    .map_err(|e| Error::new(e.kind(), format!("record {}: {e}", i + 1)))
            })
            .collect::<Result<Vec<Record>>>()?;
        self.write(|db| {
            let mut report = ImportReport::default();
            for (i, record) in checked.iter().enumerate() {
                insert(db, record, &mut report)
                    .map_err(|e| Error::new(e.kind(), format!("record {}: {e}", i + 1)))?;
            }
            Ok(report)
        })
    }

    fn checked_record(&self, record: &Record) -> Result<Record> {
        Ok(match record {
            Record::Domain(d) => {
                if let Some(path) = &d.path {
                    address::check_domain_path(path)?;
                }
                if d.unix_user.is_some() {
                    address::check_unix_user(d.unix_user.as_deref())?;
                }
                check_max_popbox(d.max_popbox)?;
                Record::Domain(Domain {
                    name: normalize_domain(&d.name)?,
                    ..d.clone()
                })
            }
            Record::Alias(a) => Record::Alias(DomainAlias {
                alias: normalize_domain(&a.alias)?,
                domain: normalize_domain(&a.domain)?,
            }),
            Record::Popbox(p) => Record::Popbox(self.checked_popbox(p)?),
            Record::Forwarder(f) => {
                Record::Forwarder(checked_forwarder(&f.domain, &f.local_part, &f.remote_name)?)
            }
        })
    }
}

fn insert(db: &mut dyn Backend, record: &Record, report: &mut ImportReport) -> Result<()> {
    let domain_exists = |db: &mut dyn Backend, name: &str| -> Result<()> {
        sql::domain(db, name, false)?
            .map(drop)
            .ok_or_else(|| Error::not_found(format!("no such domain {name} (list domains first)")))
    };
    match record {
        Record::Domain(d) => {
            if sql::alias(db, &d.name)?.is_some() {
                return Err(Error::conflict(format!(
                    "{} is already a domain alias",
                    d.name
                )));
            }
            sql::insert_domain(db, d)?;
            report.domains += 1;
        }
        Record::Alias(a) => {
            domain_exists(db, &a.domain)?;
            if sql::domain(db, &a.alias, false)?.is_some() {
                return Err(Error::conflict(format!(
                    "{} is a domain, not an alias",
                    a.alias
                )));
            }
            sql::insert_alias(db, a)?;
            report.aliases += 1;
        }
        Record::Popbox(p) => {
            domain_exists(db, &p.domain)?;
            sql::insert_popbox(db, p)?;
            report.popboxes += 1;
        }
        Record::Forwarder(f) => {
            domain_exists(db, &f.domain)?;
            sql::insert_forwarder(db, f)?;
            report.forwarders += 1;
        }
    }
    Ok(())
}
