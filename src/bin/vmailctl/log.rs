//! `vmailctl log`: reading the audit log (filters, --json), `log prune --older-than DURATION`,
//! and `log init`, which adds the audit table to an existing site.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use vmailsql::audit::{parse_duration, parse_utc};
use vmailsql::{AuditFilter, AuditRecord, ErrorKind};

use crate::context::Context;
use crate::exit::{Failure, Outcome};
use crate::output::{or_dash, table, Report};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: Option<LogCommand>,
    /// Only this domain's records
    #[arg(long)]
    pub domain: Option<String>,
    /// Only records at or after this time: YYYY-MM-DD[THH:MM[:SS]] (UTC), or an age like 7d
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records before this time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this action: created, changed, deleted, signed-in, sign-in-failed, imported, ...
    #[arg(long)]
    pub action: Option<String>,
    /// Only this actor, exactly (unix:root, domain:example.org, ...)
    #[arg(long)]
    pub actor: Option<String>,
    /// Only the newest N records
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Delete the records older than DURATION (e.g. 365d, 12w, 48h)
    Prune {
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
    /// Create the audit table on an existing site (init and migrate create it themselves)
    Init,
}

pub fn run(ctx: &Context, args: LogArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match args.command {
        Some(LogCommand::Init) => {
            let created = vmail.create_audit_table()?;
            let message = if created {
                "created the audit_log table: changes are recorded from now on"
            } else {
                "the audit_log table exists already; nothing to do"
            };
            Ok(Report::changed(message, json!({ "created": created })))
        }
        Some(LogCommand::Prune { older_than }) => {
            let secs = parse_duration(&older_than).ok_or_else(|| {
                Failure::usage(format!(
                    "--older-than {older_than:?}: give a number with s, m, h, d or w (e.g. 365d)"
                ))
            })?;
            let count = vmail.prune_audit_log(Duration::from_secs(secs.unsigned_abs()))?;
            Ok(Report::changed(
                format!("deleted {count} audit record(s) older than {older_than}"),
                json!({ "deleted": count }),
            ))
        }
        None => {
            let filter = AuditFilter {
                domain: args.domain,
                since: args
                    .since
                    .as_deref()
                    .map(|t| time(t, "--since"))
                    .transpose()?,
                until: args
                    .until
                    .as_deref()
                    .map(|t| time(t, "--until"))
                    .transpose()?,
                action: args.action,
                actor: args.actor,
                limit: args.limit,
            };
            let records = vmail.audit_log(&filter)?;
            let rows: Vec<Vec<String>> = records.iter().map(row).collect();
            let human = table(
                &[
                    "WHEN", "ACTOR", "FROM", "OBJECT", "NAME", "ACTION", "BEFORE", "AFTER",
                    "OUTCOME",
                ],
                &rows,
                "no audit records",
            );
            Ok(Report::new(
                human,
                records.iter().map(record_json).collect::<Value>(),
            ))
        }
    }
}

/// An absolute UTC time, or an age (`7d`) counted back from now.
fn time(text: &str, option: &str) -> Outcome<i64> {
    if let Some(t) = parse_utc(text) {
        return Ok(t);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    parse_duration(text).map(|age| now - age).ok_or_else(|| {
        Failure::of_kind(
            ErrorKind::InvalidInput,
            format!("{option} {text:?}: give YYYY-MM-DD[THH:MM[:SS]] (UTC) or an age like 7d"),
        )
    })
}

fn row(r: &AuditRecord) -> Vec<String> {
    vec![
        r.when(),
        r.actor.clone(),
        r.origin.clone(),
        r.object.clone(),
        r.name.clone(),
        r.action.clone(),
        or_dash(r.before.as_deref()),
        or_dash(r.after.as_deref()),
        r.outcome.clone(),
    ]
}

fn record_json(r: &AuditRecord) -> Value {
    json!({
        "id": r.id,
        "at": r.when(),
        "actor": r.actor,
        "origin": r.origin,
        "domain": r.domain,
        "object": r.object,
        "name": r.name,
        "action": r.action,
        "before": r.before,
        "after": r.after,
        "outcome": r.outcome,
    })
}
