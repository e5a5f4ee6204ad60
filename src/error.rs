//! The one error type of the library.
//!
//! `Error` is opaque: callers branch on [`Error::kind`], which maps one to one onto the C result
//! codes, and show [`Error`]'s `Display` text to people. Messages never contain passwords.

use std::fmt;

/// What went wrong, in terms a mail daemon can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The domain, address, popbox or record does not exist.
    NotFound,
    /// The password (or APOP digest, or session token) did not match.
    AuthFailed,
    /// The input is malformed, or stored data is unsafe to use (a path that escapes its domain).
    InvalidInput,
    /// The change collides with an existing record.
    Conflict,
    /// The change would exceed a limit such as `domain.max_popbox`.
    LimitExceeded,
    /// The database is down, slow or busy: try again later (Exim defers, POP3 says `-ERR [SYS/TEMP]`).
    Temporary,
    /// A bug or an unexpected database answer.
    Internal,
}

impl ErrorKind {
    /// A short, stable, lower-case name, as printed by tools and used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AuthFailed => "authentication failed",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Temporary => "temporarily unavailable",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from any vmailsql operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Builds an error of `kind` with a human-readable message (never include a password).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True when trying again later may succeed (database down or busy).
    pub fn is_temporary(&self) -> bool {
        self.kind == ErrorKind::Temporary
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn auth_failed() -> Error {
        Error::new(ErrorKind::AuthFailed, "authentication failed")
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    pub(crate) fn temporary(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Temporary, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
