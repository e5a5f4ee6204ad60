//! Site maintenance: which schema a database has, names that collide, and the migration from the
//! seed's prefix keys to the recommended schema.

use std::collections::BTreeMap;

use super::{collation, legacy};
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
    /// Names the recommended MySQL schema's case-insensitive collation (`utf8mb4_general_ci`)
    /// takes as one key though they differ in more than case (`bär` and `bar`, a trailing
    /// space): they cannot coexist there either.
    Collation,
}

impl CollisionRule {
    /// `"lower-case"`, `"legacy prefix key"`, `"domain and alias"` or `"collation"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollisionRule::LowerCase => "lower-case",
            CollisionRule::LegacyPrefixKey => "legacy prefix key",
            CollisionRule::DomainAndAlias => "domain and alias",
            CollisionRule::Collation => "collation",
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
    /// Tables of a recommended MySQL schema whose name columns compare case-sensitively (made
    /// before the schema's names became case-insensitive): the migration gives them the
    /// recommended collation, so rows other tools wrote in capitals are found.
    pub case_sensitive: Vec<String>,
}

impl Vmail {
    /// Which schema the database holds, or `None` when it has no vmail tables.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn schema_kind(&self) -> Result<Option<SchemaKind>> {
        self.read(legacy::schema_kind)
    }

    /// Rows that collide once lower-cased, rows that MySQL's recommended collation takes as
    /// one name (see [`CollisionRule::Collation`]), and popboxes or forwarders that collide
    /// under the legacy 16/32-character prefix keys (they could not move back to a legacy site).
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
        // groups that differ only in case are reported above, as lower-case collisions
        let by_collation = self.read(collation::collisions)?;
        found.extend(by_collation.into_iter().filter(|c| {
            let first = c.rows.first().map(|r| r.to_lowercase());
            !c.rows.iter().all(|r| Some(r.to_lowercase()) == first)
        }));
        Ok(found)
    }

    /// The vmail tables whose name columns compare case-sensitively (a binary collation on
    /// MySQL), where a row another tool wrote in capitals is never found. `vmailctl migrate`
    /// converts those of a recommended schema; a legacy schema's go with its migration.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn case_sensitive_tables(&self) -> Result<Vec<String>> {
        self.read(collation::case_sensitive_tables)
    }

    /// Moves a legacy (prefix-key) MySQL schema to the recommended one: full-length keys,
    /// utf8mb4, names lower-cased and compared case-insensitively. On a recommended schema
    /// whose name columns still compare case-sensitively, gives them the case-insensitive
    /// collation. Refuses, changing nothing, when any rows would collide; a dry run only
    /// reports. The old tables are kept as `legacy_*`.
    ///
    /// # Errors
    /// `InvalidInput` on SQLite; `Conflict` is not used: collisions are in the report.
    pub fn migrate_to_recommended(&self, dry_run: bool) -> Result<MigrationReport> {
        let found = self.schema_kind()?;
        let case_sensitive = match found {
            Some(SchemaKind::Recommended) => self.case_sensitive_tables()?,
            _ => Vec::new(),
        };
        let collisions: Vec<Collision> = if found == Some(SchemaKind::Legacy)
            || !case_sensitive.is_empty()
        {
            self.collisions()?
                .into_iter()
                .filter(|c| matches!(c.rule, CollisionRule::LowerCase | CollisionRule::Collation))
                .collect()
        } else {
            Vec::new()
        };
        if found == Some(SchemaKind::Recommended) && !case_sensitive.is_empty() {
            let applied = collisions.is_empty() && !dry_run;
            if applied {
                self.ddl(|db| {
                    collation::to_case_insensitive(db, &case_sensitive)?;
                    crate::audit::names_made_case_insensitive(db, self, &case_sensitive)
                })?;
            }
            return Ok(MigrationReport {
                found,
                collisions,
                applied,
                case_sensitive,
            });
        }
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
            case_sensitive,
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
