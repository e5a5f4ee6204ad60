//! The rows of the seed's tables, as the library reads and writes them. Below storage and
//! administration alike: `store` fills them, `admin`, `records` and the C ABI use them.

/// The local part of a domain's catch-all forwarder (the seed's `_default_`).
pub const CATCH_ALL: &str = "_default_";

/// A row of `domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The domain name, lower-case.
    pub name: String,
    /// Who owns the mailboxes (user name or uid).
    pub unix_user: Option<String>,
    /// The domain administrator's password hash, exactly as stored.
    pub password_hash: Option<String>,
    /// Base path of the domain's mailboxes.
    pub path: Option<String>,
    /// Most popboxes allowed; `None` means unlimited.
    pub max_popbox: Option<i64>,
}

/// A row of `popbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popbox {
    /// The domain, lower-case.
    pub domain: String,
    /// The local part (POP3 user name), lower-case.
    pub local_part: String,
    /// The password hash, exactly as stored.
    pub password_hash: Option<String>,
    /// The mbox file, relative to `domain.path`.
    pub mbox_name: Option<String>,
}

/// A row of `forwarder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarder {
    /// The domain, lower-case.
    pub domain: String,
    /// The local part forwarded, or [`CATCH_ALL`].
    pub local_part: String,
    /// Where mail goes: a comma-separated address list.
    pub remote_name: String,
}

/// A row of `domain_alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainAlias {
    /// The alias domain name.
    pub alias: String,
    /// The real domain it stands for.
    pub domain: String,
}
