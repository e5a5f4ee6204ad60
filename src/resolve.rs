//! Address resolution with the seed's Exim semantics (legacy contract §2): exact forwarder, then
//! popbox, then the `_default_` catch-all; a domain alias behaves as its target.

use crate::address::{self, mbox_path, parse_remote_list};
use crate::error::{Error, Result};
use crate::store::sql::{self, RouteRow};
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

/// A local mailbox: where to deliver, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The real domain (an alias is replaced by its target), lower-case.
    pub domain: String,
    /// The popbox's local part, lower-case.
    pub local_part: String,
    /// The mbox file: `domain.path + "/" + popbox.mbox_name`, checked to stay inside the path.
    pub path: String,
    /// The domain's base path (`domain.path`).
    pub domain_path: String,
    /// The Unix user (name or numeric uid) that owns the mailbox; never root.
    pub unix_user: String,
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
    /// `InvalidInput` for a malformed address; `Internal` for stored data that would give an
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
        let route = self
            .read(|db| sql::route(db, &domain, &local_part))?
            .ok_or_else(|| Error::not_found(format!("{domain} is not a local domain")))?;
        decide(route, local_part)
    }

    /// The real domain behind a local domain name (itself, or an alias's target).
    ///
    /// # Errors
    /// `NotFound` when the domain is not local; `InvalidInput` for a malformed name;
    /// `Temporary` when the database is unreachable.
    pub fn local_domain(&self, domain: &str) -> Result<String> {
        let domain = address::normalize_domain(domain)?;
        self.read(|db| sql::local_domain(db, &domain))?
            .ok_or_else(|| Error::not_found(format!("{domain} is not a local domain")))
    }
}

/// Bad values in the database are the site's fault, not the caller's: `Internal`, so that Exim
/// and the POP3 server defer (nothing is delivered or opened) and the message names the row.
pub(crate) fn unsafe_stored(e: Error) -> Error {
    Error::internal(format!("unsafe data in the database: {e}"))
}

/// The targets of a stored forwarder, each checked: one pipe, file or `:include:` written by
/// another tool refuses the whole row (the address defers) and the message names the row.
fn stored_targets(remote: &str, local_part: &str, domain: &str) -> Result<Vec<String>> {
    let targets = parse_remote_list(remote);
    for target in &targets {
        address::check_stored_target(target).map_err(|e| {
            unsafe_stored(Error::invalid(format!(
                "forwarder {local_part}@{domain}: {e}"
            )))
        })?;
    }
    Ok(targets)
}

fn decide(route: RouteRow, local_part: String) -> Result<Resolution> {
    let forward = |remote: &str, rule| -> Result<Resolution> {
        let row = if rule == Rule::CatchAll {
            crate::admin::CATCH_ALL
        } else {
            &local_part
        };
        Ok(Resolution::Forward {
            domain: route.domain.clone(),
            local_part: local_part.clone(),
            targets: stored_targets(remote, row, &route.domain)?,
            rule,
        })
    };
    if let Some(remote) = &route.forwarder {
        return forward(remote, Rule::Forwarder);
    }
    if let Some(mbox_name) = &route.mbox_name {
        let mbox = (!mbox_name.is_empty()).then_some(mbox_name.as_str());
        address::check_unix_user(route.unix_user.as_deref()).map_err(unsafe_stored)?;
        let path = mbox_path(route.path.as_deref(), mbox).map_err(unsafe_stored)?;
        return Ok(Resolution::Mailbox(Mailbox {
            domain: route.domain.clone(),
            local_part,
            path,
            domain_path: route.path.clone().unwrap_or_default(),
            unix_user: route.unix_user.clone().unwrap_or_default(),
        }));
    }
    if let Some(remote) = &route.catch_all {
        return forward(remote, Rule::CatchAll);
    }
    Err(Error::not_found(format!(
        "no forwarder, popbox or catch-all for {local_part}@{}",
        route.domain
    )))
}
