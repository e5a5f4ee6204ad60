//! `vmailctl init` and `vmailctl migrate`: creating and upgrading the tables.

use serde_json::{json, Value};
use vmailsql::{Collision, ErrorKind, SchemaKind, Vmail};

use crate::cli::{InitArgs, MigrateArgs};
use crate::context::Context;
use crate::exit::{Failure, Outcome, CONFLICT};
use crate::output::Report;

fn kind_name(kind: Option<SchemaKind>) -> &'static str {
    match kind {
        Some(SchemaKind::Legacy) => "legacy",
        Some(SchemaKind::Recommended) => "recommended",
        None => "none",
    }
}

/// Creates the schema on an empty database. `--force` never drops or alters anything: it only
/// adds the tables that are missing (a seed site often never created `web_session`).
pub fn init(ctx: &Context, args: InitArgs) -> Outcome<Report> {
    let vmail = ctx.any_vmail()?;
    let existing = vmail.tables()?;
    if existing.is_empty() {
        let kind = if args.legacy {
            SchemaKind::Legacy
        } else {
            SchemaKind::Recommended
        };
        vmail.create_schema_of(kind)?;
        let tables = vmail.tables()?;
        return Ok(Report::changed(
            format!(
                "created the {} schema: {}",
                kind_name(Some(kind)),
                tables.join(", ")
            ),
            json!({ "schema": kind_name(Some(kind)), "created": tables }),
        ));
    }
    if !args.force {
        return Err(Failure::conflict(format!(
            "the database already holds vmail tables ({}); nothing was changed. \
                 `vmailctl init --force` only adds missing tables; `vmailctl migrate` upgrades \
                 a legacy schema",
            existing.join(", ")
        )));
    }
    complete(&vmail, &existing, args.legacy)
}

/// The missing tables, in the schema the existing ones follow unless `--legacy` says otherwise.
fn complete(vmail: &Vmail, existing: &[String], legacy: bool) -> Outcome<Report> {
    let kind = if legacy {
        SchemaKind::Legacy
    } else {
        vmail.schema_kind()?.unwrap_or(SchemaKind::Recommended)
    };
    let created = vmail.create_missing_tables(kind)?;
    let human = if created.is_empty() {
        "every vmail table exists already; nothing to do".to_string()
    } else {
        format!(
            "created the missing {} tables: {} (existing tables untouched: {})",
            kind_name(Some(kind)),
            created.join(", "),
            existing.join(", ")
        )
    };
    let json = json!({ "schema": kind_name(Some(kind)), "created": created, "kept": existing });
    Ok(Report::changed(human, json))
}

/// Moves a legacy schema to the recommended one; refuses (exit 3) while any rows collide.
pub fn migrate(ctx: &Context, args: MigrateArgs) -> Outcome<Report> {
    let vmail = ctx.any_vmail()?;
    if args.innodb {
        return innodb(&vmail, args.dry_run);
    }
    let mut report = migrate_schema(&vmail, &args)?;
    if report.code == crate::exit::OK {
        audit_table(&vmail, args.dry_run, &mut report)?;
    }
    // the recommended schema's tables are InnoDB; tables that are not get converted too
    if report.code == crate::exit::OK && vmail.schema_kind()?.is_some() {
        let converted = vmail.convert_to_innodb(args.dry_run)?;
        if !converted.is_empty() {
            let verb = if args.dry_run {
                "would convert"
            } else {
                "converted"
            };
            report.human = format!(
                "{}\n{verb} to InnoDB: {}",
                report.human,
                converted.join(", ")
            );
        }
        if let Value::Object(fields) = &mut report.json {
            fields.insert("innodb".into(), json!(converted));
        }
    }
    Ok(report)
}

/// A site on the recommended schema that predates the audit log gets its table from `migrate`
/// too (a legacy site's migration creates it itself).
fn audit_table(vmail: &Vmail, dry_run: bool, report: &mut Report) -> Outcome<()> {
    let missing = !vmail.audit_table_exists()?;
    if missing && !dry_run {
        vmail.create_audit_table()?;
    }
    if missing {
        let verb = if dry_run { "would create" } else { "created" };
        report.human = format!("{}\n{verb} the audit_log table", report.human);
    }
    if let Value::Object(fields) = &mut report.json {
        fields.insert("audit_table_created".into(), json!(missing && !dry_run));
    }
    Ok(())
}

/// `vmailctl migrate --innodb`: tables without transactions become InnoDB, nothing else changes.
fn innodb(vmail: &Vmail, dry_run: bool) -> Outcome<Report> {
    let tables = vmail.convert_to_innodb(dry_run)?;
    let json = json!({ "dry_run": dry_run, "innodb": tables });
    let human = match (tables.is_empty(), dry_run) {
        (true, _) => "every vmail table has transactions already; nothing to do".to_string(),
        (false, true) => format!("would convert to InnoDB: {}", tables.join(", ")),
        (false, false) => format!("converted to InnoDB: {}", tables.join(", ")),
    };
    Ok(Report::new(human, json))
}

fn migrate_schema(vmail: &Vmail, args: &MigrateArgs) -> Outcome<Report> {
    let report = vmail.migrate_to_recommended(args.dry_run)?;
    let json = json!({
        "found": kind_name(report.found),
        "dry_run": args.dry_run,
        "applied": report.applied,
        "collisions": report.collisions.iter().map(collision_json).collect::<Vec<_>>(),
        "case_sensitive": report.case_sensitive,
    });
    let human = match report.found {
        None => {
            return Err(Failure::of_kind(
                ErrorKind::NotFound,
                "the database has no vmail tables: run `vmailctl init`",
            ))
        }
        Some(SchemaKind::Recommended) if report.case_sensitive.is_empty() => {
            "the schema is already the recommended one; nothing to migrate".to_string()
        }
        _ if !report.collisions.is_empty() => {
            let mut lines = vec![format!(
                "{}: {} collision(s) under the recommended schema's keys; fix or delete these rows first:",
                if args.dry_run {
                    "migration would be refused"
                } else {
                    "migration refused, nothing changed"
                },
                report.collisions.len()
            )];
            lines.extend(report.collisions.iter().map(collision_line));
            return Ok(Report::new(lines.join("\n"), json).with_code(CONFLICT));
        }
        Some(SchemaKind::Recommended) if args.dry_run => format!(
            "recommended schema whose names compare case-sensitively (tables {}), no collisions: \
             `vmailctl migrate` would make them case-insensitive, so rows other tools wrote in \
             capitals are found",
            report.case_sensitive.join(", ")
        ),
        Some(SchemaKind::Recommended) => format!(
            "names now compare case-insensitively in tables {}",
            report.case_sensitive.join(", ")
        ),
        Some(SchemaKind::Legacy) if args.dry_run => {
            "legacy schema found, no collisions: `vmailctl migrate` would move it to the \
             recommended schema (full-length keys, names lower-cased, old tables kept as legacy_*)"
                .to_string()
        }
        Some(SchemaKind::Legacy) => {
            "migrated to the recommended schema; the old tables are kept as legacy_*".to_string()
        }
    };
    Ok(Report::new(human, json))
}

pub fn collision_json(c: &Collision) -> Value {
    json!({ "table": c.table, "rule": c.rule.as_str(), "key": c.key, "rows": c.rows })
}

pub fn collision_line(c: &Collision) -> String {
    format!(
        "  {} ({}): {} share {}",
        c.table,
        c.rule,
        c.rows.join(", "),
        c.key
    )
}
