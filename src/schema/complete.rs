//! Completing a schema that lacks some tables (a seed site often has no `web_session`).

use crate::error::Result;
use crate::store::{self, SchemaKind};
use crate::vmail::Vmail;

impl Vmail {
    /// Creates the tables of schema `kind` that the database lacks (a seed site often has no
    /// `web_session` table), and the audit table when missing (any schema, as `create_schema_of`
    /// makes it), leaving every existing table and row alone. Returns the names of the tables
    /// created.
    ///
    /// # Errors
    /// `InvalidInput` for a legacy schema on SQLite; `Temporary` when the database is unreachable.
    pub fn create_missing_tables(&self, kind: SchemaKind) -> Result<Vec<String>> {
        self.ddl(|db| {
            let existing = db.tables()?;
            let mut created = Vec::new();
            for statement in store::split_script(store::schema_text(db.kind(), kind)?) {
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
            if crate::audit::create_table(db)? {
                created.push(store::audit::TABLE.to_string());
            }
            Ok(created)
        })
    }
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
            let mut tables: Vec<String> =
                super::store::split_script(store::schema_text(store, kind).unwrap())
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
                    "signin_failure",
                    "web_session"
                ],
                "{store:?} {kind:?}"
            );
        }
    }
}
