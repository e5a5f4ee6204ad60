//! The collation of the name columns on MySQL/MariaDB. The recommended schema compares names
//! case-insensitively (`utf8mb4_general_ci`), as SQLite's `NOCASE` does, so that rows other
//! tools wrote in capitals are found by the library's lower-cased lookups and cannot sit beside
//! their lower-case twins. Recommended schemas created before that compare names as bytes;
//! `vmailctl migrate` converts them. The library checks the names of the rows it reads itself
//! (`store::sql::names_match`), so the collation only has to find the candidates.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::store::{Backend, StoreKind, Value};

use super::migrate::{Collision, CollisionRule};

/// The collation of the recommended schema's name columns.
pub(crate) const NAME_COLLATION: &str = "utf8mb4_general_ci";

/// The name columns of each table (all `VARCHAR(255) NOT NULL` in the recommended schema).
const NAME_COLUMNS: [(&str, &[&str]); 5] = [
    ("domain", &["domain_name"]),
    ("forwarder", &["domain_name", "local_part"]),
    ("popbox", &["domain_name", "local_part"]),
    ("domain_alias", &["domain_name", "alias"]),
    ("web_session", &["domain_name"]),
];

/// Whether a MySQL collation tells capitals from small letters.
fn case_sensitive(collation: &str) -> bool {
    let c = collation.to_ascii_lowercase();
    c == "binary" || c.ends_with("_bin") || c.ends_with("_cs")
}

/// The vmail tables whose name columns compare case-sensitively (a binary collation), so a row
/// another tool wrote in capitals is never found. Always empty on SQLite (`NOCASE`).
pub(crate) fn case_sensitive_tables(db: &mut dyn Backend) -> Result<Vec<String>> {
    if db.kind() != StoreKind::Mysql {
        return Ok(Vec::new());
    }
    let rows = db.query(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns \
         WHERE table_schema = DATABASE() \
         AND table_name IN ('domain', 'forwarder', 'popbox', 'domain_alias', 'web_session') \
         ORDER BY table_name",
        &[],
    )?;
    let mut tables: Vec<String> = Vec::new();
    for row in rows {
        let mut it = row.into_iter().map(Value::text);
        let (Some(Some(table)), Some(Some(column)), Some(Some(collation))) =
            (it.next(), it.next(), it.next())
        else {
            continue;
        };
        let is_name = NAME_COLUMNS
            .iter()
            .any(|(t, cols)| t.eq_ignore_ascii_case(&table) && cols.contains(&column.as_str()));
        if is_name && case_sensitive(&collation) && !tables.contains(&table) {
            tables.push(table);
        }
    }
    Ok(tables)
}

/// Gives the name columns of the recommended schema's `tables` the case-insensitive collation.
/// One `ALTER TABLE` per table: each is converted whole or (a duplicate key) left as it was,
/// and a second run carries on where the first stopped.
pub(crate) fn to_case_insensitive(db: &mut dyn Backend, tables: &[String]) -> Result<()> {
    for (table, columns) in NAME_COLUMNS {
        if !tables.iter().any(|t| t == table) {
            continue;
        }
        let modify: Vec<String> = columns
            .iter()
            .map(|c| {
                format!(
                    "MODIFY {c} VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {NAME_COLLATION} NOT NULL"
                )
            })
            .collect();
        db.execute_script(&format!("ALTER TABLE {table} {}", modify.join(", ")))?;
    }
    Ok(())
}

/// Rows whose names the recommended schema's collation takes as one key once lower-cased (the
/// migration's copy lower-cases them): besides case, `utf8mb4_general_ci` equates `ä` with `a`
/// and ignores trailing spaces, so a legacy or binary site may hold rows that would break the
/// new unique keys. The database groups them itself, so the report and the migration agree.
/// MySQL only (SQLite's keys are already `NOCASE`).
pub(crate) fn collisions(db: &mut dyn Backend) -> Result<Vec<Collision>> {
    if db.kind() != StoreKind::Mysql {
        return Ok(Vec::new());
    }
    let present = db.tables()?;
    let mut found = Vec::new();
    for (table, columns, shown) in [
        ("domain", &["domain_name"][..], "domain_name"),
        ("domain_alias", &["alias"][..], "alias"),
        (
            "popbox",
            &["local_part", "domain_name"][..],
            "CONCAT(local_part, '@', domain_name)",
        ),
        (
            "forwarder",
            &["local_part", "domain_name"][..],
            "CONCAT(local_part, '@', domain_name)",
        ),
    ] {
        if !present.iter().any(|t| t == table) {
            continue;
        }
        let keys: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!("CONVERT(LOWER({c}) USING utf8mb4) COLLATE {NAME_COLLATION} AS k{i}")
            })
            .collect();
        let group: Vec<String> = (0..columns.len()).map(|i| format!("k{i}")).collect();
        let key = group
            .iter()
            .map(|k| format!("MIN({k})"))
            .collect::<Vec<_>>()
            .join(", '@', ");
        let same = group
            .iter()
            .map(|k| format!("a.{k} = g.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let rows = format!(
            "SELECT {}, CONVERT({shown} USING utf8mb4) AS name FROM {table}",
            keys.join(", ")
        );
        // each row of a group that holds more than one, with the group's key; hex, so that the
        // text comes back as stored whatever the connection's character set
        let sql = format!(
            "SELECT HEX(g.k), HEX(a.name) FROM ({rows}) a JOIN \
             (SELECT {groups}, CONCAT({key}) AS k FROM ({rows}) b GROUP BY {groups} \
              HAVING COUNT(*) > 1) g ON {same} ORDER BY g.k",
            groups = group.join(", ")
        );
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in db.query(&sql, &[])? {
            let mut it = row.into_iter().map(|v| v.text().map(|h| unhex(&h)));
            if let (Some(Some(key)), Some(Some(name))) = (it.next(), it.next()) {
                groups.entry(key).or_default().push(name);
            }
        }
        found.extend(groups.into_iter().map(|(key, mut rows)| {
            // the collation finds them equal, so their order is the database's whim
            rows.sort();
            Collision {
                table: table.to_string(),
                rule: CollisionRule::Collation,
                key,
                rows,
            }
        }));
    }
    Ok(found)
}

/// The text of MySQL's `HEX()` of a UTF-8 string.
fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_case_sensitive_collations() {
        for c in ["utf8mb4_bin", "latin1_bin", "binary", "utf8mb4_0900_as_cs"] {
            assert!(case_sensitive(c), "{c}");
        }
        for c in [
            "utf8mb4_general_ci",
            "latin1_swedish_ci",
            "utf8mb4_uca1400_ai_ci",
        ] {
            assert!(!case_sensitive(c), "{c}");
        }
    }

    #[test]
    fn reads_hex_back() {
        assert_eq!(unhex("626FC3B6"), "boö");
        assert_eq!(unhex(""), "");
    }
}
