//! Address resolution with the seed's Exim semantics (legacy contract §2): exact forwarder, then
//! popbox, then the `_default_` catch-all; a domain alias behaves as its target.

use std::time::Instant;

use crate::address::{self, parse_remote_list};
use crate::error::{Error, Result};
use crate::mailbox::{unsafe_stored, Mailbox, StoredMailbox};
use crate::store::sql::{self, CatchAll, RouteRow};
use crate::vmail::Vmail;

/// Which of the seed's routers decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A forwarder for the exact local part (it shadows a popbox of the same name).
    Forwarder,
    /// A popbox: local delivery.
    Popbox,
    /// The domain's `_default_` forwarder, used only when neither of the above exists.
    CatchAll,
}

impl Rule {
    /// `"forwarder"`, `"popbox"` or `"catch-all"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Forwarder => "forwarder",
            Rule::Popbox => "popbox",
            Rule::CatchAll => "catch-all",
        }
    }
}

/// Where mail for an address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Redirect to other addresses.
    Forward {
        /// The real domain, lower-case.
        domain: String,
        /// The local part that was looked up, lower-case.
        local_part: String,
        /// The target addresses (a forwarder's `remote_name` is an address list).
        targets: Vec<String>,
        /// Which router: [`Rule::Forwarder`] or [`Rule::CatchAll`].
        rule: Rule,
    },
    /// Deliver into a local mbox.
    Mailbox(Mailbox),
}

impl Resolution {
    /// Which router decided.
    pub fn rule(&self) -> Rule {
        match self {
            Resolution::Forward { rule, .. } => *rule,
            Resolution::Mailbox(_) => Rule::Popbox,
        }
    }
}

impl Vmail {
    /// Resolves `local@domain` exactly as the seed's routers did, in one database round trip.
    ///
    /// # Errors
    /// `NotFound` for a domain that is not local or a local part nothing answers for;
    /// `InvalidInput` for a malformed address; `UnsafeData` for stored data that would give an
    /// unsafe mailbox (a path escaping `domain.path`, no or a root `unix_user`) or a forward
    /// target that is a pipe, a file or an `:include:`; `Temporary`
    /// when the database is unreachable.
    pub fn resolve(&self, address: &str) -> Result<Resolution> {
        let (local_part, domain) = address::split_address(address)?;
        self.resolve_parts(&local_part, &domain)
    }

    /// As [`Vmail::resolve`], with the local part and domain given separately (as Exim has them).
    ///
    /// # Errors
    /// As [`Vmail::resolve`].
    pub fn resolve_parts(&self, local_part: &str, domain: &str) -> Result<Resolution> {
        let local_part = address::normalize_lookup_local_part(local_part)?;
        let domain = address::normalize_domain(domain)?;
        let not_local = || Error::not_found(format!("{domain} is not a local domain"));
        let mut store = self.lock();
        if let Some(route) = store.domains.take_route(&domain, &local_part) {
            drop(store);
            return decide(route, local_part);
        }
        let route = match store.domains.get(&domain) {
            // The domain was read a moment ago: only the forwarder and the popbox are left.
            Some(Some(row)) => {
                let route = store.read(|db| sql::route_in(db, &row, &local_part))?;
                let route = route.ok_or_else(not_local)?;
                if row.catch_all == CatchAll::Unread {
                    store
                        .domains
                        .learn_catch_all(&domain, &route.domain.catch_all);
                }
                route
            }
            Some(None) => return Err(not_local()),
            None => {
                let read_at = Instant::now();
                let route = store.read(|db| sql::route(db, &domain, &local_part))?;
                let row = route.as_ref().map(|r| r.domain.clone());
                store.domains.put(&domain, row, read_at);
                route.ok_or_else(not_local)?
            }
        };
        drop(store);
        decide(route, local_part)
    }

    /// The real domain behind a local domain name (itself, or an alias's target).
    ///
    /// The domain row and its catch-all are kept for the next resolutions in that domain, for
    /// at most [`Config::domain_cache_max_age`](crate::Config::domain_cache_max_age).
    ///
    /// # Errors
    /// `NotFound` when the domain is not local; `InvalidInput` for a malformed name;
    /// `Temporary` when the database is unreachable.
    pub fn local_domain(&self, domain: &str) -> Result<String> {
        self.local_domain_reading(domain, None)
    }

    /// As [`Vmail::local_domain`], asked just before `local_part@domain` is resolved (Exim tests
    /// its domain list in the router that precedes the lookup). A domain not yet known is read
    /// in one statement together with that address's route, and the next
    /// [`Vmail::resolve_parts`] of the same address uses it instead of asking again: routing an
    /// address in a new domain costs one query, not two. The route is used once, and only
    /// within `domain_cache_max_age` (`0`: never kept). A local part that cannot exist is
    /// ignored: only the domain is asked about.
    ///
    /// # Errors
    /// As [`Vmail::local_domain`].
    pub fn local_domain_for(&self, local_part: &str, domain: &str) -> Result<String> {
        let local_part = address::normalize_lookup_local_part(local_part).ok();
        self.local_domain_reading(domain, local_part.as_deref())
    }

    /// The real domain behind `domain`; when the database must be asked and `local_part` is
    /// given, that address's route is read in the same statement and kept for its resolution.
    fn local_domain_reading(&self, domain: &str, local_part: Option<&str>) -> Result<String> {
        let domain = address::normalize_domain(domain)?;
        let mut store = self.lock();
        let row = match store.domains.get(&domain) {
            Some(row) => row,
            None => {
                let read_at = Instant::now();
                let row = match local_part {
                    None => store.read(|db| sql::local_domain(db, &domain))?,
                    Some(local_part) => {
                        let route = store.read(|db| sql::route(db, &domain, local_part))?;
                        route.map(|route| {
                            let row = route.domain.clone();
                            store
                                .domains
                                .keep_route(&domain, local_part, route, read_at);
                            row
                        })
                    }
                };
                store.domains.put(&domain, row.clone(), read_at);
                row
            }
        };
        row.map(|r| r.domain)
            .ok_or_else(|| Error::not_found(format!("{domain} is not a local domain")))
    }
}

/// The targets of a stored forwarder, each checked: one pipe, file or `:include:` written by
/// another tool refuses the whole row (the address defers) and the message names the row.
fn stored_targets(remote: &str, local_part: &str, domain: &str) -> Result<Vec<String>> {
    let targets = parse_remote_list(remote);
    for target in &targets {
        address::check_stored_target(target)
            .map_err(|e| unsafe_stored(&format!("forwarder {local_part}@{domain}"), e))?;
    }
    Ok(targets)
}

fn decide(route: RouteRow, local_part: String) -> Result<Resolution> {
    let RouteRow {
        domain: row,
        forwarder,
        mbox_name,
    } = route;
    let forward = |remote: &str, rule| -> Result<Resolution> {
        let name = if rule == Rule::CatchAll {
            crate::rows::CATCH_ALL
        } else {
            &local_part
        };
        Ok(Resolution::Forward {
            domain: row.domain.clone(),
            local_part: local_part.clone(),
            targets: stored_targets(remote, name, &row.domain)?,
            rule,
        })
    };
    if let Some(remote) = &forwarder {
        return forward(remote, Rule::Forwarder);
    }
    if mbox_name.is_some() {
        return Ok(Resolution::Mailbox(Mailbox::from_stored(&StoredMailbox {
            domain: &row.domain,
            local_part: &local_part,
            domain_path: row.path.as_deref(),
            unix_user: row.unix_user.as_deref(),
            mbox_name: mbox_name.as_deref(),
        })?));
    }
    // Never `Unread` here: the probes read the catch-all whenever no forwarder or popbox answers.
    if let CatchAll::Forward(remote) = &row.catch_all {
        return forward(remote, Rule::CatchAll);
    }
    Err(Error::not_found(format!(
        "no forwarder, popbox or catch-all for {local_part}@{}",
        row.domain
    )))
}
