//! The schema: creating it, completing a site's missing tables, telling which one a database
//! holds, and migrating the seed's prefix keys to the recommended schema. The schema texts
//! themselves are the backends' (`store::schema_text`); everything here runs through
//! [`Vmail::ddl`], never the read path's retry.

mod collation;
mod complete;
mod legacy;
mod migrate;

pub use migrate::{Collision, CollisionRule, MigrationReport};

use crate::error::{Error, Result};
use crate::store::{self, SchemaKind};
use crate::vmail::Vmail;

impl Vmail {
    /// Creates the tables: the recommended schema (full-length keys, indexes), or on MySQL the
    /// seed's legacy schema on request. Refuses a database that already holds vmail tables.
    ///
    /// # Errors
    /// `Conflict` when vmail tables already exist; `InvalidInput` for a legacy schema on SQLite.
    pub fn create_schema_of(&self, kind: SchemaKind) -> Result<()> {
        self.ddl(|db| {
            let existing = db.tables()?;
            if !existing.is_empty() {
                return Err(Error::conflict(format!(
                    "database already holds vmail tables: {}",
                    existing.join(", ")
                )));
            }
            db.execute_script(store::schema_text(db.kind(), kind)?)?;
            crate::audit::create_table(db).map(drop)
        })
    }

    /// Creates the recommended schema (see [`Vmail::create_schema_of`]).
    ///
    /// # Errors
    /// As [`Vmail::create_schema_of`].
    pub fn create_schema(&self) -> Result<()> {
        self.create_schema_of(SchemaKind::Recommended)
    }

    /// The names of the vmail tables present in the database.
    ///
    /// # Errors
    /// `Temporary` when the database cannot be reached.
    pub fn tables(&self) -> Result<Vec<String>> {
        self.read(|db| db.tables())
    }
}
