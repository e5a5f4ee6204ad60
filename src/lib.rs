//! vmailsql: virtual-domain mail from one SQL database, the drop-in successor of vmail-sql.
//!
//! One implementation of the three things a vmail-sql site does with its database:
//! **resolve** an address the way the seed's Exim routers did (forwarder, then popbox, then the
//! `_default_` catch-all), **authenticate** POP3 users the way tpop3d's `auth-mysql` did (and the
//! domain administrator of the control panel), and **administer** domains, popboxes, forwarders,
//! domain aliases and web sessions, on the same schema and with every stored password still
//! verifying.
//!
//! ```
//! use vmailsql::{Vmail, NewDomain, Resolution};
//!
//! # fn main() -> vmailsql::Result<()> {
//! let vmail = Vmail::open_url("sqlite::memory:")?;
//! vmail.create_schema()?;
//! vmail.add_domain(&NewDomain::new("example.org", "/var/spool/mail/example.org", "vmail"))?;
//! vmail.add_popbox("example.org", "alice", "alice-s3cret", None)?;
//! vmail.add_forwarder("example.org", "info", "alice@example.org, bob@elsewhere.example")?;
//!
//! match vmail.resolve("Alice@Example.ORG")? {
//!     Resolution::Mailbox(m) => assert_eq!(m.path, "/var/spool/mail/example.org/alice"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! let mailbox = vmail.authenticate("alice@example.org", "alice-s3cret")?;
//! assert_eq!(mailbox.unix_user, "vmail");
//! # Ok(()) }
//! ```
//!
//! The C ABI (`src/ffi/`, header `include/vmailsql.h`) is a thin layer over this API.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod address;
mod admin;
pub mod audit;
mod auth;
pub mod config;
mod domain_cache;
mod engines;
mod error;
// The C ABI: the only module allowed `unsafe`, and it uses only the public API above.
#[allow(unsafe_code)]
mod ffi;
mod mailbox;
pub mod password;
mod records;
mod resolve;
mod rows;
mod schema;
mod session;
mod store;
mod throttle;
mod vmail;

pub use admin::{DomainChange, NewDomain};
pub use audit::{AuditFilter, AuditRecord};
pub use config::{AuditMode, Config};
pub use engines::TableEngine;
pub use error::{Error, ErrorKind, Result};
pub use mailbox::Mailbox;
pub use records::{ImportProblem, ImportReport, Record};
pub use resolve::{Resolution, Rule};
pub use rows::{Domain, DomainAlias, Forwarder, Popbox, CATCH_ALL};
pub use schema::{Collision, CollisionRule, MigrationReport};
pub use store::{ReplicaStatus, SchemaKind, StoreKind};
pub use vmail::Vmail;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
