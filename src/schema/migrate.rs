//! Site maintenance: which schema a database has, names that collide, and the migration from the
//! seed's prefix keys to the recommended schema.

use std::collections::BTreeMap;

use super::legacy;
use crate::error::{Error, Result};
use crate::store::SchemaKind;
use crate::vmail::Vmail;

/// Rows that share one key once names are compared the way a schema would compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The table (`domain`, `popbox`, `forwarder`, `domain_alias`).
    pub table: String,
    /// How they collide.
    pub rule: CollisionRule,
    /// The shared key.
    pub key: String,
    /// The colliding rows' names as stored.
    pub rows: Vec<String>,
}

/// How rows collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollisionRule {
    /// Full names, case folded: they cannot coexist under lower-cased keys.
    LowerCase,
    /// The seed's `domain_name(16), local_part(32)` prefix keys: they could not move back to a
    /// legacy site.
    LegacyPrefixKey,
    /// One name is both a domain and a domain alias (the domain wins).
    DomainAndAlias,
}

impl CollisionRule {
    /// `"lower-case"`, `"legacy prefix key"` or `"domain and alias"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollisionRule::LowerCase => "lower-case",
            CollisionRule::LegacyPrefixKey => "legacy prefix key",
            CollisionRule::DomainAndAlias => "domain and alias",
        }
    }
}

impl std::fmt::Display for CollisionRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Vmail::migrate_to_recommended`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema found before migrating (`None`: no vmail tables).
    pub found: Option<SchemaKind>,
    /// Rows that cannot be moved without losing one of them; any collision refuses the move.
    pub collisions: Vec<Collision>,
    /// True when the tables were migrated (never on a dry run).
    pub applied: bool,
}

impl Vmail {
    /// Which schema the database holds, or `None` when it has no vmail tables.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn schema_kind(&self) -> Result<Option<SchemaKind>> {
        self.read(legacy::schema_kind)
    }

    /// Rows that collide once lower-cased, and popboxes or forwarders that collide under the
    /// legacy 16/32-character prefix keys (they could not move back to a legacy site).
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn collisions(&self) -> Result<Vec<Collision>> {
        let mut found = Vec::new();
        let domains: Vec<String> = self.domains()?.into_iter().map(|d| d.name).collect();
        found.extend(collide("domain", CollisionRule::LowerCase, &domains, |n| {
            n.to_lowercase()
        }));
        let aliases: Vec<String> = self.aliases(None)?.into_iter().map(|a| a.alias).collect();
        found.extend(collide(
            "domain_alias",
            CollisionRule::LowerCase,
            &aliases,
            |n| n.to_lowercase(),
        ));
        let both: Vec<String> = domains.iter().chain(&aliases).cloned().collect();
        found.extend(collide(
            "domain/domain_alias",
            CollisionRule::DomainAndAlias,
            &both,
            |n| n.to_lowercase(),
        ));
        let popboxes: Vec<String> = self
            .popboxes(None)?
            .into_iter()
            .map(|p| format!("{}@{}", p.local_part, p.domain))
            .collect();
        let forwarders: Vec<String> = self
            .forwarders(None)?
            .into_iter()
            .map(|f| format!("{}@{}", f.local_part, f.domain))
            .collect();
        for (table, names) in [("popbox", &popboxes), ("forwarder", &forwarders)] {
            found.extend(collide(table, CollisionRule::LowerCase, names, |n| {
                n.to_lowercase()
            }));
            found.extend(collide(
                table,
                CollisionRule::LegacyPrefixKey,
                names,
                legacy_prefix_key,
            ));
        }
        Ok(found)
    }

    /// Moves a legacy (prefix-key) MySQL schema to the recommended one: full-length keys,
    /// utf8mb4, names lower-cased. Refuses, changing nothing, when any rows would collide; a dry
    /// run only reports. The old tables are kept as `legacy_*`.
    ///
    /// # Errors
    /// `InvalidInput` on SQLite; `Conflict` is not used: collisions are in the report.
    pub fn migrate_to_recommended(&self, dry_run: bool) -> Result<MigrationReport> {
        let found = self.schema_kind()?;
        let collisions = match found {
            Some(SchemaKind::Legacy) => self
                .collisions()?
                .into_iter()
                .filter(|c| c.rule == CollisionRule::LowerCase)
                .collect(),
            _ => Vec::new(),
        };
        let applied = found == Some(SchemaKind::Legacy) && collisions.is_empty() && !dry_run;
        if applied {
            self.ddl(|db| {
                legacy::to_recommended(db).map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("migration failed, legacy tables unchanged: {e}"),
                    )
                })?;
                crate::audit::migrated(db, self)
            })?;
        }
        Ok(MigrationReport {
            found,
            collisions,
            applied,
        })
    }
}

/// The seed's prefix key of `local@domain`: first 32 characters of the local part, first 16 of
/// the domain, compared case-insensitively as MySQL's default collation did.
fn legacy_prefix_key(name: &str) -> String {
    let (local, domain) = name.rsplit_once('@').unwrap_or((name, ""));
    let local: String = local.chars().take(32).collect();
    let domain: String = domain.chars().take(16).collect();
    format!("{}@{}…", local.to_lowercase(), domain.to_lowercase())
}

fn collide(
    table: &str,
    rule: CollisionRule,
    names: &[String],
    key: impl Fn(&str) -> String,
) -> Vec<Collision> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in names {
        groups.entry(key(name)).or_default().push(name.clone());
    }
    groups
        .into_iter()
        .filter(|(_, rows)| rows.len() > 1)
        .map(|(key, rows)| Collision {
            table: table.to_string(),
            rule,
            key,
            rows,
        })
        .collect()
}
