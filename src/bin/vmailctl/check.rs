//! `vmailctl check`: a health report of the whole site.
//!
//! Problems are things that lose or misdirect mail, or that the daemons refuse (exit 1);
//! warnings are things an administrator should know but that work as they are (exit 0 unless
//! `--strict`).

mod hashes;
mod routes;
mod rows;

use serde_json::{json, Value};
use vmailsql::{Domain, DomainAlias, Forwarder, Popbox, ReplicaStatus, StoreKind, Vmail};

use crate::cli::CheckArgs;
use crate::context::Context;
use crate::exit::{Outcome, NOT_FOUND, OK};
use crate::names::count;
use crate::output::Report;
use crate::schema;

/// One thing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// True for a problem, false for a warning.
    pub problem: bool,
    /// Which check found it (stable, for scripts): "dead-target", "loop", ...
    pub check: &'static str,
    /// What it is about, in people's words.
    pub detail: String,
}

impl Finding {
    pub fn problem(check: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            problem: true,
            check,
            detail: detail.into(),
        }
    }

    pub fn warning(check: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            problem: false,
            check,
            detail: detail.into(),
        }
    }
}

/// Everything in the database, read once.
pub struct Site {
    pub domains: Vec<Domain>,
    pub aliases: Vec<DomainAlias>,
    pub popboxes: Vec<Popbox>,
    pub forwarders: Vec<Forwarder>,
}

impl Site {
    fn load(vmail: &Vmail) -> Outcome<Site> {
        Ok(Site {
            domains: vmail.domains()?,
            aliases: vmail.aliases(None)?,
            popboxes: vmail.popboxes(None)?,
            forwarders: vmail.forwarders(None)?,
        })
    }

    /// The domain row of a name, compared as the library compares names.
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The domain that mail for `domain` belongs to (itself, or an alias's target), when it
    /// is ours.
    pub fn real_domain(&self, domain: &str) -> Option<String> {
        match self.domain(domain) {
            Some(d) => Some(d.name.to_lowercase()),
            None => self
                .aliases
                .iter()
                .find(|a| a.alias.eq_ignore_ascii_case(domain))
                .map(|a| a.domain.to_lowercase()),
        }
    }
}

pub fn run(ctx: &Context, args: CheckArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let site = Site::load(&vmail)?;
    let mut findings = schema_findings(&vmail, &site)?;
    let case_sensitive = vmail.case_sensitive_tables()?;
    findings.extend(rows::findings(&site, &case_sensitive));
    let hashes = hashes::Census::take(&site);
    findings.extend(hashes.findings());
    findings.extend(collision_findings(&vmail)?);
    findings.extend(routes::findings(&vmail, &site)?);
    let replicas = vmail.check_replicas();
    findings.extend(replica_findings(&replicas));
    let problems = findings.iter().filter(|f| f.problem).count();
    let warnings = findings.len() - problems;
    let bad = problems > 0 || (args.strict && warnings > 0);
    let human = human(&vmail, &site, &hashes, &replicas, &findings)?;
    let json = json!({
        "ok": !bad,
        "summary": summary_json(&vmail, &site)?,
        "replicas": replicas.iter().map(|r| json!({
            "server": r.server,
            "lag_seconds": r.lag_seconds,
            "skipped_because": r.skipped_because,
        })).collect::<Vec<_>>(),
        "hashes": hashes.json(),
        "problems": findings_json(&findings, true),
        "warnings": findings_json(&findings, false),
    });
    Ok(Report::new(human, json).with_code(if bad { NOT_FOUND } else { OK }))
}

/// A legacy schema, and resolution queries that scan whole tables.
fn schema_findings(vmail: &Vmail, site: &Site) -> Outcome<Vec<Finding>> {
    let mut found = Vec::new();
    if vmail.schema_kind()? == Some(vmailsql::SchemaKind::Legacy) {
        found.push(Finding::warning(
            "legacy-schema",
            "the seed's schema with 16/32-character prefix keys: see `vmailctl migrate --dry-run`",
        ));
    }
    let case_sensitive = vmail.case_sensitive_tables()?;
    if !case_sensitive.is_empty() {
        found.push(Finding::warning(
            "case-sensitive-names",
            format!(
                "tables {} compare names case-sensitively, so rows other tools write in capitals \
                 are never found: `vmailctl migrate` makes them compare case-insensitively",
                case_sensitive.join(", ")
            ),
        ));
    }
    for t in vmail.table_engines()?.iter().filter(|t| !t.transactional) {
        found.push(Finding::problem(
            "no-transactions",
            format!(
                "table {} is {}, which has no transactions: changes that need them are refused \
                 (lookups work); `vmailctl migrate --innodb` converts it",
                t.table, t.engine
            ),
        ));
    }
    // MySQL's optimiser rightly scans tiny tables, so a scan only matters on a real-size site.
    let sized = site.popboxes.len() + site.forwarders.len() >= 1000;
    if vmail.store_kind() == StoreKind::Sqlite || sized {
        let probe = site
            .domains
            .first()
            .map_or("example.invalid", |d| d.name.as_str());
        let plan = vmail.explain_resolve(&format!("postmaster@{probe}"))?;
        let scans: Vec<&String> = plan
            .iter()
            .filter(|l| {
                l.starts_with("SCAN ") || l.contains("type=ALL") || l.contains("type=index ")
            })
            .collect();
        if !scans.is_empty() {
            found.push(Finding::warning(
                "table-scan",
                format!(
                    "address lookups read whole tables ({}); they slow down as the site grows",
                    scans
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ));
        }
    }
    Ok(found)
}

/// Names that collide once lower-cased (only one of them can be reached), and rows that could
/// not go back to a legacy schema's prefix keys.
fn collision_findings(vmail: &Vmail) -> Outcome<Vec<Finding>> {
    Ok(vmail
        .collisions()?
        .iter()
        .map(|c| {
            let line = schema::collision_line(c).trim().to_string();
            if c.rule == vmailsql::CollisionRule::LegacyPrefixKey {
                Finding::warning(
                    "prefix-collision",
                    format!("{line} (only matters on the legacy schema)"),
                )
            } else if c.rule == vmailsql::CollisionRule::Collation {
                // both rows work where they are; only the recommended schema's keys refuse them
                Finding::warning(
                    "collation-collision",
                    format!(
                        "{line} (blocks `vmailctl migrate`: one key in the recommended schema)"
                    ),
                )
            } else {
                Finding::problem("collision", line)
            }
        })
        .collect())
}

/// A read server that lookups skip works (they go elsewhere) but is not doing its job.
fn replica_findings(replicas: &[ReplicaStatus]) -> Vec<Finding> {
    replicas
        .iter()
        .filter_map(|r| {
            let why = r.skipped_because.as_ref()?;
            Some(Finding::warning(
                "replica-skipped",
                format!("lookups skip replica {}: {why}", r.server),
            ))
        })
        .collect()
}

/// `replicas: URL 0 s behind, URL skipped`.
fn replicas_text(replicas: &[ReplicaStatus]) -> String {
    let each: Vec<String> = replicas
        .iter()
        .map(|r| match (&r.skipped_because, r.lag_seconds) {
            (Some(_), _) => format!("{} skipped", r.server),
            (None, Some(lag)) => format!("{} {lag} s behind", r.server),
            (None, None) => format!("{} current", r.server),
        })
        .collect();
    format!("replicas: {}", each.join(", "))
}

fn summary_json(vmail: &Vmail, site: &Site) -> Outcome<Value> {
    Ok(json!({
        "store": store_name(vmail),
        "schema": schema_name(vmail)?,
        "engines": vmail
            .table_engines()?
            .into_iter()
            .map(|t| (t.table, Value::from(t.engine)))
            .collect::<serde_json::Map<String, Value>>(),
        "domains": site.domains.len(),
        "aliases": site.aliases.len(),
        "popboxes": site.popboxes.len(),
        "forwarders": site.forwarders.len(),
    }))
}

fn store_name(vmail: &Vmail) -> &'static str {
    match vmail.store_kind() {
        StoreKind::Mysql => "mysql",
        StoreKind::Sqlite => "sqlite",
    }
}

fn schema_name(vmail: &Vmail) -> Outcome<&'static str> {
    Ok(match vmail.schema_kind()? {
        Some(vmailsql::SchemaKind::Legacy) => "legacy",
        Some(vmailsql::SchemaKind::Recommended) => "recommended",
        None => "none",
    })
}

/// `, tables InnoDB` or `, tables domain MyISAM, popbox InnoDB, ...` (MySQL only).
fn engines_text(vmail: &Vmail) -> Outcome<String> {
    let engines = vmail.table_engines()?;
    let Some(first) = engines.first() else {
        return Ok(String::new());
    };
    if engines.iter().all(|t| t.engine == first.engine) {
        return Ok(format!(", tables {}", first.engine));
    }
    let each: Vec<String> = engines
        .iter()
        .map(|t| format!("{} {}", t.table, t.engine))
        .collect();
    Ok(format!(", tables {}", each.join(", ")))
}

fn findings_json(findings: &[Finding], problems: bool) -> Value {
    findings
        .iter()
        .filter(|f| f.problem == problems)
        .map(|f| json!({ "check": f.check, "detail": f.detail }))
        .collect::<Vec<_>>()
        .into()
}

fn human(
    vmail: &Vmail,
    site: &Site,
    hashes: &hashes::Census,
    replicas: &[ReplicaStatus],
    findings: &[Finding],
) -> Outcome<String> {
    let mut out = vec![format!(
        "{}, {}, {}, {} ({} schema on {}{})",
        count(site.domains.len(), "domain"),
        count(site.aliases.len(), "alias"),
        count(site.popboxes.len(), "popbox"),
        count(site.forwarders.len(), "forwarder"),
        schema_name(vmail)?,
        store_name(vmail),
        engines_text(vmail)?
    )];
    if !replicas.is_empty() {
        out.push(replicas_text(replicas));
    }
    out.push(String::new());
    out.push(hashes.table());
    for (problem, title) in [(true, "problems:"), (false, "warnings:")] {
        let listed: Vec<String> = findings
            .iter()
            .filter(|f| f.problem == problem)
            .map(|f| format!("  {:<17} {}", f.check, f.detail))
            .collect();
        if !listed.is_empty() {
            out.push(String::new());
            out.push(title.to_string());
            out.extend(listed);
        }
    }
    let problems = findings.iter().filter(|f| f.problem).count();
    out.push(String::new());
    out.push(match (problems, findings.len() - problems) {
        (0, 0) => "no problems found".to_string(),
        (p, w) => format!("{}, {}", count(p, "problem"), count(w, "warning")),
    });
    Ok(out.join("\n"))
}
