//! The one error type of the library.
//!
//! `Error` is opaque: callers branch on [`Error::kind`], which maps one to one onto the C result
//! codes, and show [`Error`]'s `Display` text to people. Messages never contain passwords.

use std::fmt;

/// Declares [`ErrorKind`] from one table: each kind's C code, its short name, what it means and
/// what a mail daemon does about it. The C enum (`src/ffi/`), the header, the README and
/// `docs/c-api.md` tables and vmailctl's exit statuses are generated from or tested against this
/// table, so none of them can drift.
macro_rules! error_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident = $code:literal, $name:literal, $meaning:literal, $action:literal;
    )*) => {
        /// What went wrong, in terms a mail daemon can act on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in the order of their C codes.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// A short, stable, lower-case name, as printed by tools and used in JSON output.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorKind::$kind => $name,)* }
            }

            /// The number of the C result code (`VMAILSQL_...` in `vmailsql.h`).
            pub fn code(self) -> i32 {
                match self { $(ErrorKind::$kind => $code,)* }
            }

            /// One line on what the kind means, as the documentation tables print it.
            pub fn meaning(self) -> &'static str {
                match self { $(ErrorKind::$kind => $meaning,)* }
            }

            /// What a mail daemon does on this kind, as the documentation tables print it.
            pub fn daemon_action(self) -> &'static str {
                match self { $(ErrorKind::$kind => $action,)* }
            }
        }
    };
}

error_kinds! {
    /// The domain, address, popbox or record does not exist.
    NotFound = 1, "not found",
        "no such domain, address, popbox or record", "bounce / unknown user";
    /// The password (or APOP digest, or session token) did not match; unknown logins alike.
    AuthFailed = 2, "authentication failed",
        "wrong password, digest or token; unknown login alike", "reject the login";
    /// The caller's input is malformed (including a string that is not UTF-8).
    InvalidInput = 3, "invalid input",
        "malformed input, or a string that is not UTF-8", "refuse";
    /// The change collides with an existing record.
    Conflict = 4, "conflict", "the change collides with an existing record", "";
    /// The change would exceed a limit such as `domain.max_popbox`.
    LimitExceeded = 5, "limit exceeded", "e.g. the domain's `max_popbox`", "";
    /// The database is down, slow or busy: try again later (Exim defers, POP3 says
    /// `-ERR [SYS/TEMP]`). Never reported as not found.
    Temporary = 6, "temporarily unavailable",
        "database down, slow or busy; never reported as not found",
        "defer, `-ERR [SYS/TEMP]`, exit 111";
    /// A bug or an unexpected database answer.
    Internal = 7, "internal error", "a bug, or an unexpected database answer", "defer";
    /// Data in the database is unsafe to use: a mailbox path escaping `domain.path`, a root or
    /// empty `unix_user`, a forwarder target that is a file or a pipe, a NUL byte in a value.
    /// The site's fault, not the caller's: daemons defer, and the message names the row.
    UnsafeData = 10, "unsafe stored data",
        "stored data unsafe to use (a path escaping `domain.path`, a root or empty `unix_user`, a NUL byte); the message names the row",
        "defer, tell the administrator";
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

    /// True when a mail daemon must defer rather than answer: the database is unavailable, the
    /// stored data is unsafe, or something unexpected happened. Never a reason to bounce.
    pub fn must_defer(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Temporary | ErrorKind::Internal | ErrorKind::UnsafeData
        )
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

    /// Unsafe data in the database: the site's fault, so daemons defer and nothing is delivered
    /// or opened; `what` names the row and the problem.
    pub(crate) fn unsafe_data(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::UnsafeData, what)
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
