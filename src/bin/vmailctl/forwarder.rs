//! `vmailctl forwarder ...` and `vmailctl catchall ...`: both are rows of the `forwarder`
//! table, the catch-all being the one whose local part is `_default_`.

use serde_json::{json, Value};
use vmailsql::{address, ErrorKind, Forwarder, Vmail, CATCH_ALL};

use crate::cli::{CatchallCommand, ForwarderCommand};
use crate::context::Context;
use crate::exit::{Failure, Outcome};
use crate::names::{split, target_list};
use crate::output::{table, Report};

pub fn run(ctx: &Context, command: ForwarderCommand) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match command {
        ForwarderCommand::Add { address, targets } => {
            let (local, domain) = split(&address)?;
            vmail.add_forwarder(domain, local, &target_list(&targets))?;
            changed(&vmail, domain, local, "added")
        }
        ForwarderCommand::Show { address } => {
            let (local, domain) = split(&address)?;
            let f = vmail.forwarder(domain, local)?;
            let mut json = forwarder_json(&f);
            let shadows =
                f.local_part != CATCH_ALL && vmail.popbox(&f.domain, &f.local_part).is_ok();
            json["shadows_popbox"] = shadows.into();
            let mut human = format!("{} -> {}", name(&f), f.remote_name);
            if shadows {
                human.push_str("\nnote: it takes all mail of the popbox of the same name");
            }
            Ok(Report::new(human, json))
        }
        ForwarderCommand::Change { address, targets } => {
            let (local, domain) = split(&address)?;
            vmail.change_forwarder(domain, local, &target_list(&targets))?;
            changed(&vmail, domain, local, "changed")
        }
        ForwarderCommand::Delete { address } => {
            let (local, domain) = split(&address)?;
            let f = vmail.forwarder(domain, local)?;
            vmail.delete_forwarder(domain, local)?;
            Ok(Report::changed(
                format!("forwarder {} deleted", name(&f)),
                json!({ "forwarder": name(&f) }),
            ))
        }
        ForwarderCommand::List { domain } => list(&vmail, domain.as_deref()),
    }
}

pub fn run_catchall(ctx: &Context, command: CatchallCommand) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match command {
        CatchallCommand::Set { domain, targets } => {
            vmail.set_catch_all(&domain, &target_list(&targets))?;
            let f = catch_all(&vmail, &domain)?;
            Ok(Report::changed(
                format!("catch-all of {} set: {}", f.domain, f.remote_name),
                json!({ "catch_all": forwarder_json(&f) }),
            ))
        }
        CatchallCommand::Show { domain } => {
            let f = catch_all(&vmail, &domain)?;
            let human = format!("{}: {}", f.domain, f.remote_name);
            Ok(Report::new(human, forwarder_json(&f)))
        }
        CatchallCommand::Delete { domain } => {
            let f = catch_all(&vmail, &domain)?;
            vmail.delete_forwarder(&f.domain, CATCH_ALL)?;
            Ok(Report::changed(
                format!("catch-all of {} deleted", f.domain),
                json!({ "domain": f.domain }),
            ))
        }
    }
}

/// A domain's catch-all, telling a missing domain from a domain without one.
fn catch_all(vmail: &Vmail, domain: &str) -> Outcome<Forwarder> {
    let d = vmail.domain(domain)?;
    vmail
        .forwarder(&d.name, CATCH_ALL)
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => {
                Failure::of_kind(ErrorKind::NotFound, format!("{} has no catch-all", d.name))
            }
            _ => e.into(),
        })
}

fn changed(vmail: &Vmail, domain: &str, local: &str, how: &str) -> Outcome<Report> {
    let f = vmail.forwarder(domain, local)?;
    Ok(Report::changed(
        format!("forwarder {} {how}: {}", name(&f), f.remote_name),
        json!({ "forwarder": forwarder_json(&f) }),
    ))
}

fn name(f: &Forwarder) -> String {
    format!("{}@{}", f.local_part, f.domain)
}

fn forwarder_json(f: &Forwarder) -> Value {
    json!({
        "address": name(f),
        "domain": f.domain,
        "local_part": f.local_part,
        "catch_all": f.local_part == CATCH_ALL,
        "targets": address::parse_remote_list(&f.remote_name),
    })
}

fn list(vmail: &Vmail, domain: Option<&str>) -> Outcome<Report> {
    if let Some(d) = domain {
        vmail.domain(d)?;
    }
    let forwarders = vmail.forwarders(domain)?;
    let rows: Vec<Vec<String>> = forwarders
        .iter()
        .map(|f| {
            let shown = if f.local_part == CATCH_ALL {
                format!("*@{} (catch-all)", f.domain)
            } else {
                name(f)
            };
            vec![shown, f.remote_name.clone()]
        })
        .collect();
    let json: Vec<Value> = forwarders.iter().map(forwarder_json).collect();
    let human = table(&["FORWARDER", "TARGETS"], &rows, "no forwarders");
    Ok(Report::new(human, json.into()))
}
