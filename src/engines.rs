//! Storage engines of the vmail tables (MySQL/MariaDB): a 2002 site's tables are often MyISAM,
//! which has no transactions. Lookups work on any engine; changes of several statements are
//! refused there (see `store::refuse_without_transactions`) until the tables are InnoDB.

use crate::error::Result;
use crate::vmail::Vmail;

/// The engine of one vmail table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEngine {
    /// The table (`domain`, `popbox`, ...).
    pub table: String,
    /// The engine as the server names it (`InnoDB`, `MyISAM`, `Aria`, ...).
    pub engine: String,
    /// Whether the engine has transactions (and so row locks and rollback).
    pub transactional: bool,
}

impl Vmail {
    /// The engine of every vmail table; empty on SQLite, whose tables are all transactional.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn table_engines(&self) -> Result<Vec<TableEngine>> {
        let engines = self.read(|db| db.table_engines())?;
        Ok(engines
            .into_iter()
            .map(|(table, engine, transactional)| TableEngine {
                table,
                engine,
                transactional,
            })
            .collect())
    }

    /// Converts every vmail table without transactions to InnoDB (`ALTER TABLE ... ENGINE =
    /// InnoDB`: the server copies the table and swaps it in; rows, columns and keys stay, so a
    /// legacy schema stays legacy). Returns the tables converted; with `dry_run`, the tables
    /// that would be.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable; the server's error when a table cannot be
    /// converted (the tables converted before it stay converted, each one whole).
    pub fn convert_to_innodb(&self, dry_run: bool) -> Result<Vec<String>> {
        let pending: Vec<String> = self
            .table_engines()?
            .into_iter()
            .filter(|t| !t.transactional)
            .map(|t| t.table)
            .collect();
        if !dry_run {
            for table in &pending {
                self.ddl(|db| db.execute_script(&format!("ALTER TABLE {table} ENGINE = InnoDB")))?;
            }
        }
        Ok(pending)
    }
}
