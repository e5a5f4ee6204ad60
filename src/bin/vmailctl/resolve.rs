//! `vmailctl resolve ADDRESS...`: what Exim does with each address, and which rule decides.

use serde_json::{json, Value};
use vmailsql::{address, Error, ErrorKind, Resolution, Rule, Vmail};

use crate::cli::ResolveArgs;
use crate::context::Context;
use crate::exit::{self, Outcome, OK};
use crate::output::Report;

pub fn run(ctx: &Context, args: ResolveArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let mut code = OK;
    let mut human = Vec::new();
    let mut json = Vec::new();
    for addr in &args.addresses {
        let verdict = verdict(&vmail, addr);
        code = exit::worst(code, verdict.code);
        human.push(format!("{addr}: {}", verdict.text));
        let mut entry = json!({ "address": addr });
        if let (Some(out), Value::Object(more)) = (entry.as_object_mut(), verdict.json) {
            out.extend(more);
        }
        entry["exit_code"] = verdict.code.into();
        json.push(entry);
    }
    Ok(Report::new(human.join("\n"), json.into()).with_code(code))
}

/// One address's answer.
struct Verdict {
    text: String,
    json: Value,
    code: u8,
}

fn verdict(vmail: &Vmail, addr: &str) -> Verdict {
    let domain = match address::split_address(addr) {
        Ok((_, domain)) => domain,
        Err(e) => return failed(&e, "invalid", "Exim rejects the address as malformed"),
    };
    // Asked separately so that "not a local domain" and "unknown user" are told apart.
    let real = match vmail.local_domain(&domain) {
        Ok(real) => real,
        Err(e) if e.kind() == ErrorKind::NotFound => return not_local(&domain),
        Err(e) => return failed(&e, "error", "Exim defers or fails the delivery"),
    };
    let via = (real != domain).then(|| format!(" (via alias {domain} of {real})"));
    match vmail.resolve(addr) {
        Ok(resolution) => delivered(vmail, &resolution, via.unwrap_or_default(), &domain),
        Err(e) if e.kind() == ErrorKind::NotFound => unknown(&real, &domain, via),
        Err(e) => failed(&e, "unsafe", "vmailsql refuses to deliver there"),
    }
}

fn not_local(domain: &str) -> Verdict {
    Verdict {
        text: format!(
            "not a local domain: Exim routes it elsewhere ({domain} is neither a domain nor an \
             alias here)"
        ),
        json: json!({ "result": "not-local", "action": "route elsewhere", "domain": domain }),
        code: exit::NOT_FOUND,
    }
}

fn unknown(real: &str, asked: &str, via: Option<String>) -> Verdict {
    Verdict {
        text: format!(
            "unknown: no forwarder, popbox or catch-all{}; Exim rejects it (550 unknown user)",
            via.unwrap_or_default()
        ),
        json: json!({ "result": "unknown", "action": "reject", "domain": real,
                      "via_alias": (real != asked).then_some(asked) }),
        code: exit::NOT_FOUND,
    }
}

fn delivered(vmail: &Vmail, resolution: &Resolution, via: String, asked: &str) -> Verdict {
    let rule = resolution.rule();
    let (text, mut json) = match resolution {
        Resolution::Mailbox(m) => (
            format!("popbox{via}: deliver to {} as user {}", m.path, m.unix_user),
            json!({ "result": rule.as_str(), "action": "deliver", "domain": m.domain,
                    "local_part": m.local_part, "mailbox": m.path, "unix_user": m.unix_user }),
        ),
        Resolution::Forward {
            domain,
            local_part,
            targets,
            ..
        } => {
            let mut text = format!("{}{via}: redirect to {}", rule.as_str(), targets.join(", "));
            let shadows = rule == Rule::Forwarder && vmail.popbox(domain, local_part).is_ok();
            if shadows {
                text.push_str(&format!(" (the popbox {local_part}@{domain} gets nothing)"));
            }
            let json = json!({ "result": rule.as_str(), "action": "redirect", "domain": domain,
                               "local_part": local_part, "targets": targets,
                               "shadows_popbox": shadows });
            (text, json)
        }
    };
    let real = json["domain"].as_str().unwrap_or_default().to_string();
    json["via_alias"] = (real != asked).then_some(asked).into();
    Verdict {
        text,
        json,
        code: OK,
    }
}

/// An address the library could not answer for: malformed, unsafe stored data, or a database
/// that is down (Exim then defers and retries).
fn failed(e: &Error, result: &str, consequence: &str) -> Verdict {
    let (result, consequence) = match e.kind() {
        ErrorKind::Temporary => ("temporary", "Exim defers it and tries again later"),
        _ => (result, consequence),
    };
    Verdict {
        text: format!("{result}: {e}; {consequence}"),
        json: json!({ "result": result, "message": e.to_string(), "kind": e.kind().as_str() }),
        code: exit::for_kind(e.kind()),
    }
}
