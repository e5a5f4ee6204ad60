//! `vmailctl popbox add|show|passwd|delete|list`.

use serde_json::{json, Value};
use vmailsql::{address, password, Popbox, Vmail};

use crate::cli::PopboxCommand;
use crate::context::Context;
use crate::exit::{Failure, Outcome};
use crate::names::{hash_json, hash_label, split};
use crate::output::{or_dash, table, Report};
use crate::secret::{self, Ask};

pub fn run(ctx: &Context, command: PopboxCommand) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match command {
        PopboxCommand::Add {
            address,
            mbox,
            hashed,
            hash_stdin,
            source,
        } => {
            let (local, domain) = split(&address)?;
            if hashed || hash_stdin {
                let stdin = hash_stdin || source.password_stdin;
                let hash = secret::read_from(stdin, &format!("{address} (hash)"), Ask::Once)?;
                add_hashed(&vmail, local, domain, hash, mbox)?;
            } else {
                let password = secret::read(&source, &address, Ask::Twice)?;
                vmail.add_popbox(domain, local, &password, mbox.as_deref())?;
            }
            let p = vmail.popbox(domain, local)?;
            let json = popbox_json(&vmail, &p)?;
            let mailbox = json["mailbox"].as_str().unwrap_or("-").to_string();
            let message = format!("popbox {} added, mailbox {mailbox}", name(&p));
            Ok(Report::changed(message, json!({ "popbox": json })))
        }
        PopboxCommand::Show { address } => {
            let (local, domain) = split(&address)?;
            show(&vmail, &vmail.popbox(domain, local)?)
        }
        PopboxCommand::Passwd {
            address,
            hashed,
            source,
        } => {
            let (local, domain) = split(&address)?;
            let p = vmail.popbox(domain, local)?;
            if hashed {
                let hash = secret::read(&source, &format!("{} (hash)", name(&p)), Ask::Once)?;
                warn_if_weak(&hash);
                vmail.set_popbox_hash(domain, local, &hash)?;
            } else {
                let password = secret::read(&source, &name(&p), Ask::Twice)?;
                vmail.set_popbox_password(domain, local, &password)?;
            }
            Ok(Report::changed(
                format!("password of {} set", name(&p)),
                json!({ "popbox": name(&p) }),
            ))
        }
        PopboxCommand::Delete { address } => {
            let (local, domain) = split(&address)?;
            let p = vmail.popbox(domain, local)?;
            vmail.delete_popbox(domain, local)?;
            Ok(Report::changed(
                format!(
                    "popbox {} deleted (its mbox file is left on disk)",
                    name(&p)
                ),
                json!({ "popbox": name(&p) }),
            ))
        }
        PopboxCommand::List { domain } => list(&vmail, domain.as_deref()),
    }
}

/// Imports a ready-made hash: it is stored exactly as given, so it must be one that verifies.
fn add_hashed(
    vmail: &Vmail,
    local: &str,
    domain: &str,
    hash: String,
    mbox: Option<String>,
) -> Outcome<()> {
    if password::identify(&hash).is_none() {
        return Err(Failure::usage(
            "not a password hash vmailsql can verify (expected e.g. {crypt}$6$..., {md5}<32 hex>, \
             {SHA512-CRYPT}...); nothing was added",
        ));
    }
    warn_if_weak(&hash);
    vmail.add_popbox_record(&Popbox {
        domain: domain.to_string(),
        local_part: local.to_string(),
        password_hash: Some(hash),
        mbox_name: mbox,
    })?;
    Ok(())
}

/// Weak ready-made hashes are accepted (sites migrate with what they have) but named.
fn warn_if_weak(hash: &str) {
    if let Some(scheme) = password::identify(hash).filter(|s| s.weak) {
        eprintln!(
            "vmailctl: warning: the hash uses {}, a weak scheme; set upgrade_on_login",
            scheme.name
        );
    }
}

fn name(p: &Popbox) -> String {
    format!("{}@{}", p.local_part, p.domain)
}

/// A popbox with its mailbox path (null when the stored data would make it unsafe) and whether
/// a forwarder of the same name takes its mail.
fn popbox_json(vmail: &Vmail, p: &Popbox) -> Outcome<Value> {
    let domain_path = vmail.domain(&p.domain).ok().and_then(|d| d.path);
    let mailbox = address::mbox_path(domain_path.as_deref(), p.mbox_name.as_deref()).ok();
    let shadowed = vmail.forwarder(&p.domain, &p.local_part).is_ok();
    Ok(json!({
        "address": name(p),
        "domain": p.domain,
        "local_part": p.local_part,
        "mbox_name": p.mbox_name,
        "mailbox": mailbox,
        "password": hash_json(p.password_hash.as_deref()),
        "shadowed_by_forwarder": shadowed,
    }))
}

fn show(vmail: &Vmail, p: &Popbox) -> Outcome<Report> {
    let json = popbox_json(vmail, p)?;
    let mut lines = vec![
        format!("{:<10} {}", "popbox", name(p)),
        format!(
            "{:<10} {}",
            "mailbox",
            json["mailbox"]
                .as_str()
                .unwrap_or("- (unsafe or missing path)")
        ),
        format!(
            "{:<10} {}",
            "password",
            hash_label(p.password_hash.as_deref())
        ),
    ];
    if json["shadowed_by_forwarder"] == true {
        lines.push("note: a forwarder of the same name takes all its mail".to_string());
    }
    Ok(Report::new(lines.join("\n"), json))
}

fn list(vmail: &Vmail, domain: Option<&str>) -> Outcome<Report> {
    if let Some(d) = domain {
        vmail.domain(d)?;
    }
    let popboxes = vmail.popboxes(domain)?;
    let rows: Vec<Vec<String>> = popboxes
        .iter()
        .map(|p| {
            vec![
                name(p),
                or_dash(p.mbox_name.as_deref()),
                hash_label(p.password_hash.as_deref()),
            ]
        })
        .collect();
    let json: Vec<Value> = popboxes
        .iter()
        .map(|p| {
            json!({
                "address": name(p),
                "domain": p.domain,
                "local_part": p.local_part,
                "mbox_name": p.mbox_name,
                "password": hash_json(p.password_hash.as_deref()),
            })
        })
        .collect();
    let human = table(&["POPBOX", "MBOX", "PASSWORD"], &rows, "no popboxes");
    Ok(Report::new(human, json.into()))
}
