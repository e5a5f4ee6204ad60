//! Checks of single rows and their neighbours: orphans, unsafe paths and users, shared mboxes,
//! limits, shadowed popboxes, targets that are not addresses.

use std::collections::HashMap;

use vmailsql::{address, CATCH_ALL};

use super::{Finding, Site};

/// `case_sensitive`: the tables whose name columns compare case-sensitively (a binary
/// collation), where a row that is not lower-case is never found by a lookup.
pub fn findings(site: &Site, case_sensitive: &[String]) -> Vec<Finding> {
    let mut found = orphans(site);
    found.extend(mixed_case(site, case_sensitive));
    found.extend(site.domains.iter().flat_map(|d| domain_safety(site, d)));
    found.extend(mailbox_safety(site));
    found.extend(shared_mboxes(site));
    found.extend(limits(site));
    found.extend(forwarder_rows(site));
    found
}

/// Rows of domains that do not exist: the daemons can never use them.
fn orphans(site: &Site) -> Vec<Finding> {
    let popboxes = site.popboxes.iter().map(|p| {
        let row = format!("popbox {}@{}", p.local_part, p.domain);
        (row, &p.domain)
    });
    let forwarders = site.forwarders.iter().map(|f| {
        let row = format!("forwarder {}@{}", f.local_part, f.domain);
        (row, &f.domain)
    });
    let aliases = site
        .aliases
        .iter()
        .map(|a| (format!("alias {}", a.alias), &a.domain));
    popboxes
        .chain(forwarders)
        .chain(aliases)
        .filter(|(_, domain)| site.domain(domain).is_none())
        .map(|(row, domain)| {
            Finding::problem(
                "missing-domain",
                format!("{row}: domain {domain} does not exist"),
            )
        })
        .collect()
}

/// A domain's path and Unix user: needed (and must be safe) once it has popboxes; a
/// forwarding-only domain may lack them, but a value that is there must still be valid.
fn domain_safety(site: &Site, d: &vmailsql::Domain) -> Vec<Finding> {
    let mut found = Vec::new();
    let has_mail = site
        .popboxes
        .iter()
        .any(|p| p.domain.eq_ignore_ascii_case(&d.name));
    if d.path.is_some() || has_mail {
        let checked = address::check_domain_path(d.path.as_deref().unwrap_or(""));
        if let Err(e) = checked {
            found.push(Finding::problem(
                "unsafe-path",
                format!("domain {}: {e}", d.name),
            ));
        }
    }
    if d.unix_user.is_some() || has_mail {
        if let Err(e) = address::check_unix_user(d.unix_user.as_deref()) {
            found.push(Finding::problem(
                "bad-unix-user",
                format!("domain {}: {e}", d.name),
            ));
        } else {
            found.extend(numeric_uid_findings(d));
        }
    }
    found
}

/// A numeric `unix_user` with blanks (read as the number, as tpop3d did) or without a passwd
/// entry (its popboxes cannot log in, as with tpop3d).
fn numeric_uid_findings(d: &vmailsql::Domain) -> Vec<Finding> {
    let user = d.unix_user.as_deref().unwrap_or_default();
    let canonical = address::canonical_unix_user(user);
    let mut found = Vec::new();
    if canonical != user {
        found.push(Finding::warning(
            "blank-unix-user",
            format!(
                "domain {}: unix_user {user:?} has blanks around uid {canonical}",
                d.name
            ),
        ));
    }
    match address::uid_has_passwd_entry(user) {
        Ok(Some(false)) => found.push(Finding::problem(
            "unknown-uid",
            format!(
                "domain {}: unix_user uid {canonical} has no passwd entry: its popboxes cannot log in",
                d.name
            ),
        )),
        Ok(_) => {}
        Err(e) => found.push(Finding::warning("unknown-uid", format!("domain {}: {e}", d.name))),
    }
    found
}

/// Each popbox's mailbox must stay inside its domain's path.
fn mailbox_safety(site: &Site) -> Vec<Finding> {
    site.popboxes
        .iter()
        .filter(|p| site.domain(&p.domain).is_some())
        .filter_map(|p| {
            let mbox = p.mbox_name.as_deref().unwrap_or("");
            address::check_mbox_name(mbox).err().map(|e| {
                Finding::problem(
                    "unsafe-path",
                    format!("popbox {}@{}: {e}", p.local_part, p.domain),
                )
            })
        })
        .collect()
}

/// Two popboxes writing one mbox file read each other's mail.
fn shared_mboxes(site: &Site) -> Vec<Finding> {
    let mut by_file: HashMap<(String, &str), Vec<String>> = HashMap::new();
    for p in &site.popboxes {
        if let Some(mbox) = p.mbox_name.as_deref() {
            let key = (p.domain.to_lowercase(), mbox);
            by_file
                .entry(key)
                .or_default()
                .push(format!("{}@{}", p.local_part, p.domain));
        }
    }
    let mut found: Vec<Finding> = by_file
        .into_iter()
        .filter(|(_, boxes)| boxes.len() > 1)
        .map(|((domain, mbox), boxes)| {
            Finding::problem(
                "shared-mbox",
                format!(
                    "{} all deliver to mbox {mbox} of {domain}",
                    boxes.join(", ")
                ),
            )
        })
        .collect();
    found.sort_by(|a, b| a.detail.cmp(&b.detail));
    found
}

/// More popboxes than the limit: allowed (the limit may have been lowered) but worth knowing.
fn limits(site: &Site) -> Vec<Finding> {
    site.domains
        .iter()
        .filter_map(|d| {
            let max = d.max_popbox?;
            let held = site
                .popboxes
                .iter()
                .filter(|p| p.domain.eq_ignore_ascii_case(&d.name))
                .count();
            (i64::try_from(held).unwrap_or(i64::MAX) > max).then(|| {
                Finding::warning(
                    "over-limit",
                    format!("domain {} has {held} popboxes, max_popbox {max}", d.name),
                )
            })
        })
        .collect()
}

/// Targets Exim would refuse (files, pipes, not addresses), and popboxes no mail reaches.
fn forwarder_rows(site: &Site) -> Vec<Finding> {
    let mut found = Vec::new();
    for f in &site.forwarders {
        let name = format!("{}@{}", f.local_part, f.domain);
        if let Err(e) = address::normalize_remote_list(&f.remote_name) {
            found.push(Finding::problem(
                "bad-target",
                format!("forwarder {name}: {e}"),
            ));
        }
        let shadows = f.local_part != CATCH_ALL
            && site.popboxes.iter().any(|p| {
                p.domain.eq_ignore_ascii_case(&f.domain)
                    && p.local_part.eq_ignore_ascii_case(&f.local_part)
            });
        if shadows {
            found.push(Finding::warning(
                "shadowed-popbox",
                format!("popbox {name} receives no mail: the forwarder of the same name takes it"),
            ));
        }
    }
    found
}

/// Rows written by other tools with capitals in tables that compare names case-sensitively:
/// the library looks names up lower-cased, so they are never found. Where names compare
/// case-insensitively (SQLite, the legacy schema, the recommended MySQL schema) such rows
/// resolve, log in and delete like lower-case ones, and need no finding.
fn mixed_case(site: &Site, case_sensitive: &[String]) -> Vec<Finding> {
    let exact = |table: &str| case_sensitive.iter().any(|t| t == table);
    let domain_ok = |d: &str| d == d.to_lowercase();
    let address_ok = |l: &str, d: &str| l == l.to_ascii_lowercase() && domain_ok(d);
    let mut names: Vec<String> = Vec::new();
    if exact("domain") {
        names.extend(
            site.domains
                .iter()
                .filter(|d| !domain_ok(&d.name))
                .map(|d| format!("domain {}", d.name)),
        );
    }
    if exact("domain_alias") {
        names.extend(
            site.aliases
                .iter()
                .filter(|a| !domain_ok(&a.alias) || !domain_ok(&a.domain))
                .map(|a| format!("alias {} of {}", a.alias, a.domain)),
        );
    }
    if exact("popbox") {
        names.extend(
            site.popboxes
                .iter()
                .filter(|p| !address_ok(&p.local_part, &p.domain))
                .map(|p| format!("popbox {}@{}", p.local_part, p.domain)),
        );
    }
    if exact("forwarder") {
        names.extend(
            site.forwarders
                .iter()
                .filter(|f| !address_ok(&f.local_part, &f.domain))
                .map(|f| format!("forwarder {}@{}", f.local_part, f.domain)),
        );
    }
    names
        .into_iter()
        .map(|name| {
            Finding::problem(
                "mixed-case",
                format!(
                    "{name}: not lower-case in a table that compares names case-sensitively, \
                     so lookups never find it; `vmailctl migrate` makes the names compare \
                     case-insensitively"
                ),
            )
        })
        .collect()
}
