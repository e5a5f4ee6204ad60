//! Schema detection and the move from the seed's prefix keys to the recommended schema
//! (MySQL/MariaDB; SQLite databases are created recommended).
//!
//! The copy goes into new tables, and one atomic `RENAME TABLE` swaps them in, keeping the old
//! tables as `legacy_*`: a failure at any step leaves the site on its legacy tables, working.

use crate::error::{Error, Result};
use crate::store::{schema_text, Backend, SchemaKind, StoreKind, Value};

const TABLES: [&str; 5] = [
    "domain",
    "forwarder",
    "popbox",
    "domain_alias",
    "web_session",
];

/// Which schema the database holds: legacy when `popbox`'s primary key uses a prefix.
pub(crate) fn schema_kind(db: &mut dyn Backend) -> Result<Option<SchemaKind>> {
    let tables = db.tables()?;
    if tables.is_empty() {
        return Ok(None);
    }
    if db.kind() == StoreKind::Sqlite {
        return Ok(Some(SchemaKind::Recommended));
    }
    let rows = db.query(
        "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() \
         AND table_name IN ('popbox', 'forwarder') AND index_name = 'PRIMARY' \
         AND sub_part IS NOT NULL",
        &[],
    )?;
    let prefixed = rows
        .into_iter()
        .next()
        .and_then(|mut r| r.pop())
        .and_then(Value::int);
    Ok(Some(if prefixed.unwrap_or(0) > 0 {
        SchemaKind::Legacy
    } else {
        SchemaKind::Recommended
    }))
}

/// Copies the legacy tables into recommended ones (names lower-cased) and swaps them in.
/// The caller has checked for collisions.
pub(crate) fn to_recommended(db: &mut dyn Backend) -> Result<()> {
    if db.kind() != StoreKind::Mysql {
        return Err(Error::invalid(
            "only MySQL/MariaDB databases can hold the legacy schema",
        ));
    }
    let present = db.tables()?;
    for table in TABLES {
        db.execute_script(&format!("DROP TABLE IF EXISTS vmailsql_new_{table}"))?;
    }
    let mut schema = schema_text(StoreKind::Mysql, SchemaKind::Recommended)?.to_string();
    for table in TABLES {
        schema = schema.replace(
            &format!("CREATE TABLE {table} ("),
            &format!("CREATE TABLE vmailsql_new_{table} ("),
        );
    }
    db.execute_script(&schema)?;
    for (table, columns) in [
        (
            "domain",
            "LOWER(domain_name), unix_user, password_hash, path, max_popbox",
        ),
        (
            "forwarder",
            "LOWER(domain_name), LOWER(local_part), remote_name",
        ),
        (
            "popbox",
            "LOWER(domain_name), LOWER(local_part), password_hash, mbox_name",
        ),
        ("domain_alias", "LOWER(domain_name), LOWER(alias)"),
        ("web_session", "LOWER(domain_name), session_id, expires"),
    ] {
        if present.iter().any(|t| t == table) {
            db.execute_script(&format!(
                "INSERT INTO vmailsql_new_{table} SELECT {columns} FROM {table}"
            ))?;
        }
    }
    let renames: Vec<String> = TABLES
        .iter()
        .flat_map(|t| {
            let old = present
                .iter()
                .any(|p| p == t)
                .then(|| format!("{t} TO legacy_{t}"));
            old.into_iter().chain([format!("vmailsql_new_{t} TO {t}")])
        })
        .collect();
    db.execute_script(&format!("RENAME TABLE {}", renames.join(", ")))
}
