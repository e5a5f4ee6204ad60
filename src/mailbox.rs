//! A local mailbox, and the one rule that turns a stored popbox into one: resolution (Exim's
//! delivery) and authentication (the POP3 server opening the mbox) both build it here, so they
//! can never disagree about what is safe to deliver to or open.

use crate::address;
use crate::error::{Error, Result};

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

/// What the database holds for one popbox and its domain.
pub(crate) struct StoredMailbox<'a> {
    pub(crate) domain: &'a str,
    pub(crate) local_part: &'a str,
    pub(crate) domain_path: Option<&'a str>,
    pub(crate) unix_user: Option<&'a str>,
    /// `None` and `Some("")` alike mean the popbox has no mbox name.
    pub(crate) mbox_name: Option<&'a str>,
}

impl Mailbox {
    /// The checked mailbox of a stored popbox.
    ///
    /// # Errors
    /// `UnsafeData` naming the popbox when its domain has no or a root `unix_user`, no path, or
    /// an mbox name that would leave the domain's path.
    pub(crate) fn from_stored(row: &StoredMailbox<'_>) -> Result<Mailbox> {
        let name = format!("{}@{}", row.local_part, row.domain);
        address::check_unix_user(row.unix_user).map_err(|e| unsafe_stored(&name, e))?;
        let mbox = row.mbox_name.filter(|m| !m.is_empty());
        let path =
            address::mbox_path(row.domain_path, mbox).map_err(|e| unsafe_stored(&name, e))?;
        Ok(Mailbox {
            domain: row.domain.to_string(),
            local_part: row.local_part.to_string(),
            path,
            domain_path: row.domain_path.unwrap_or_default().to_string(),
            // tpop3d read a numeric unix_user with blanks around it as the number.
            unix_user: address::canonical_unix_user(row.unix_user.unwrap_or_default()).to_string(),
        })
    }
}

/// Bad values in the database are the site's fault, not the caller's: `UnsafeData`, so that
/// Exim and the POP3 server defer (nothing is delivered or opened) and the message names the
/// row.
pub(crate) fn unsafe_stored(row: &str, e: Error) -> Error {
    Error::unsafe_data(format!("unsafe data in the database for {row}: {e}"))
}
