//! `vmailctl alias add|delete|list`: domain aliases, second names for a domain.

use serde_json::{json, Value};
use vmailsql::Vmail;

use crate::cli::AliasCommand;
use crate::context::Context;
use crate::exit::Outcome;
use crate::output::{table, Report};

pub fn run(ctx: &Context, command: AliasCommand) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    match command {
        AliasCommand::Add { alias, domain } => {
            vmail.add_alias(&alias, &domain)?;
            let real = vmail.local_domain(&alias)?;
            let alias = stored(&alias);
            Ok(Report::changed(
                format!("{alias} is now an alias of {real}"),
                json!({ "alias": alias, "domain": real }),
            ))
        }
        AliasCommand::Delete { alias } => {
            vmail.delete_alias(&alias)?;
            let alias = stored(&alias);
            Ok(Report::changed(
                format!("alias {alias} deleted"),
                json!({ "alias": alias }),
            ))
        }
        AliasCommand::List { domain } => list(&vmail, domain.as_deref()),
    }
}

/// A name as the library stores it, for messages (the library has already checked it).
fn stored(name: &str) -> String {
    vmailsql::address::normalize_domain(name).unwrap_or_else(|_| name.to_string())
}

fn list(vmail: &Vmail, domain: Option<&str>) -> Outcome<Report> {
    if let Some(d) = domain {
        vmail.domain(d)?;
    }
    let aliases = vmail.aliases(domain)?;
    let rows: Vec<Vec<String>> = aliases
        .iter()
        .map(|a| vec![a.alias.clone(), a.domain.clone()])
        .collect();
    let json: Vec<Value> = aliases
        .iter()
        .map(|a| json!({ "alias": a.alias, "domain": a.domain }))
        .collect();
    let human = table(&["ALIAS", "DOMAIN"], &rows, "no aliases");
    Ok(Report::new(human, json.into()))
}
