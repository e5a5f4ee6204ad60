//! `vmailctl domain add|show|change|passwd|delete|list`.

use serde_json::{json, Value};
use vmailsql::{Domain, DomainChange, NewDomain, Vmail, CATCH_ALL};

use crate::cli::DomainCommand;
use crate::context::Context;
use crate::exit::{Failure, Outcome};
use crate::names::{count, hash_json, hash_label};
use crate::output::{or_dash, table, Report};
use crate::secret::{self, Ask};

pub fn run(ctx: &Context, command: DomainCommand) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match command {
        DomainCommand::Add {
            name,
            path,
            unix_user,
            max_popbox,
            ask_password,
            password_stdin,
        } => {
            let mut new = NewDomain::new(&name, &path, &unix_user);
            new.max_popbox = max_popbox;
            if ask_password || password_stdin {
                let what = format!("the administrator of {name}");
                new.password = Some(secret::read_from(password_stdin, &what, Ask::Twice)?);
            }
            vmail.add_domain(&new)?;
            let domain = vmail.domain(&name)?;
            Ok(Report::changed(
                format!("domain {} added", domain.name),
                json!({ "domain": domain_json(&domain) }),
            ))
        }
        DomainCommand::Show { name } => show(&vmail, &name),
        DomainCommand::Change {
            name,
            path,
            unix_user,
            max_popbox,
            unlimited,
        } => {
            let change = DomainChange {
                path,
                unix_user,
                max_popbox: if unlimited {
                    Some(None)
                } else {
                    max_popbox.map(Some)
                },
            };
            vmail.change_domain(&name, &change)?;
            let domain = vmail.domain(&name)?;
            Ok(Report::changed(
                format!("domain {} changed", domain.name),
                json!({ "domain": domain_json(&domain) }),
            ))
        }
        DomainCommand::Passwd { name, source } => {
            vmail.domain(&name)?;
            let what = format!("the administrator of {name}");
            let password = secret::read(&source, &what, Ask::Twice)?;
            vmail.set_domain_password(&name, &password)?;
            Ok(Report::changed(
                format!("administrator password of {name} set"),
                json!({ "domain": name }),
            ))
        }
        DomainCommand::Delete { name, yes } => delete(&vmail, &name, yes),
        DomainCommand::List => list(&vmail),
    }
}

fn domain_json(d: &Domain) -> Value {
    json!({
        "name": d.name,
        "path": d.path,
        "unix_user": d.unix_user,
        "max_popbox": d.max_popbox,
        "admin_password": hash_json(d.password_hash.as_deref()),
    })
}

/// What hangs off a domain.
struct Contents {
    popboxes: usize,
    forwarders: usize,
    aliases: Vec<String>,
    catch_all: Option<String>,
}

fn contents(vmail: &Vmail, name: &str) -> Outcome<Contents> {
    let forwarders = vmail.forwarders(Some(name))?;
    Ok(Contents {
        popboxes: vmail.popboxes(Some(name))?.len(),
        forwarders: forwarders
            .iter()
            .filter(|f| f.local_part != CATCH_ALL)
            .count(),
        aliases: vmail
            .aliases(Some(name))?
            .into_iter()
            .map(|a| a.alias)
            .collect(),
        catch_all: forwarders
            .into_iter()
            .find(|f| f.local_part == CATCH_ALL)
            .map(|f| f.remote_name),
    })
}

fn show(vmail: &Vmail, name: &str) -> Outcome<Report> {
    let d = vmail.domain(name)?;
    let c = contents(vmail, &d.name)?;
    let limit = d
        .max_popbox
        .map_or("unlimited".to_string(), |m| format!("limit {m}"));
    let rows = [
        ("domain", d.name.clone()),
        ("path", or_dash(d.path.as_deref())),
        ("unix user", or_dash(d.unix_user.as_deref())),
        ("popboxes", format!("{} ({limit})", c.popboxes)),
        ("forwarders", c.forwarders.to_string()),
        ("catch-all", or_dash(c.catch_all.as_deref())),
        ("aliases", or_dash(Some(&c.aliases.join(", ")))),
        ("admin password", hash_label(d.password_hash.as_deref())),
    ];
    let human: Vec<String> = rows.iter().map(|(k, v)| format!("{k:<15} {v}")).collect();
    let mut json = domain_json(&d);
    json["popboxes"] = c.popboxes.into();
    json["forwarders"] = c.forwarders.into();
    json["catch_all"] = c.catch_all.into();
    json["aliases"] = c.aliases.into();
    Ok(Report::new(human.join("\n"), json))
}

/// Deleting a domain takes everything in it: a domain still in use needs `--yes`.
fn delete(vmail: &Vmail, name: &str, yes: bool) -> Outcome<Report> {
    let d = vmail.domain(name)?;
    let c = contents(vmail, &d.name)?;
    let forwarders = c.forwarders + usize::from(c.catch_all.is_some());
    let in_use = c.popboxes + forwarders + c.aliases.len() > 0;
    let held = format!(
        "{}, {} and {}",
        count(c.popboxes, "popbox"),
        count(forwarders, "forwarder"),
        count(c.aliases.len(), "alias")
    );
    if in_use && !yes {
        return Err(Failure::conflict(format!(
            "domain {} still has {held}; add --yes to delete them with it (nothing was deleted)",
            d.name
        )));
    }
    vmail.delete_domain(&d.name)?;
    Ok(Report::changed(
        format!(
            "domain {} deleted with {held} (mbox files are left on disk)",
            d.name
        ),
        json!({ "domain": d.name, "popboxes": c.popboxes, "forwarders": forwarders,
                "aliases": c.aliases }),
    ))
}

fn list(vmail: &Vmail) -> Outcome<Report> {
    let domains = vmail.domains()?;
    let popboxes = vmail.popboxes(None)?;
    let aliases = vmail.aliases(None)?;
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for d in &domains {
        let boxes = popboxes.iter().filter(|p| p.domain == d.name).count();
        let names: Vec<&str> = aliases
            .iter()
            .filter(|a| a.domain == d.name)
            .map(|a| a.alias.as_str())
            .collect();
        let limit = d.max_popbox.map_or("-".to_string(), |m| m.to_string());
        rows.push(vec![
            d.name.clone(),
            or_dash(d.unix_user.as_deref()),
            or_dash(d.path.as_deref()),
            format!("{boxes}/{limit}"),
            or_dash(Some(&names.join(","))),
        ]);
        let mut entry = domain_json(d);
        entry["popboxes"] = boxes.into();
        entry["aliases"] = names.into();
        json.push(entry);
    }
    let headers = ["DOMAIN", "USER", "PATH", "POPBOXES", "ALIASES"];
    Ok(Report::new(
        table(&headers, &rows, "no domains"),
        json.into(),
    ))
}
