//! Exit statuses and the one error type of the tool.
//!
//! Codes follow sysexits(3) where one fits (75 EX_TEMPFAIL, 70 EX_SOFTWARE), so cron jobs and
//! scripts can tell "try again later" from "fix the input".

use std::fmt;

use vmailsql::ErrorKind;

/// Success.
pub const OK: u8 = 0;
/// Not found, rejected, or a report that found problems.
pub const NOT_FOUND: u8 = 1;
/// Usage error or invalid input.
pub const USAGE: u8 = 2;
/// Conflict with existing data, or a limit.
pub const CONFLICT: u8 = 3;
/// Unsafe data found in the database: a row the daemons refuse to use (EX_DATAERR).
pub const UNSAFE_DATA: u8 = 65;
/// A bug or an unexpected database answer (EX_SOFTWARE).
pub const INTERNAL: u8 = 70;
/// Database down or busy: try again later (EX_TEMPFAIL).
pub const TEMPFAIL: u8 = 75;

/// Every exit status and what it means: the one table `vmailctl --help` prints and
/// docs/vmailctl.md carries (a test compares them).
pub const STATUSES: [(u8, &str); 7] = [
    (OK, "success; `resolve`: every address is delivered or forwarded; `check`: no problems"),
    (NOT_FOUND, "not found; rejected (wrong password, unknown address, domain not local); `check` found problems"),
    (USAGE, "usage error or invalid input (a bad name, path, user, hash, file line)"),
    (CONFLICT, "conflict (already exists, still in use, name collisions refusing a migration) or a limit (`max_popbox`)"),
    (UNSAFE_DATA, "unsafe data in the database (EX_DATAERR): a row the daemons refuse to use, named in the message"),
    (INTERNAL, "internal error (EX_SOFTWARE): a bug or an unexpected database answer"),
    (TEMPFAIL, "temporarily unavailable (EX_TEMPFAIL): the database is down or busy; try again later"),
];

/// The exit-status part of `vmailctl --help`, from [`STATUSES`].
pub fn help_text() -> String {
    let mut text = String::from("Exit status:\n");
    for (code, meaning) in STATUSES {
        text += &format!("  {code:>2}  {}\n", meaning.replace('`', ""));
    }
    text
}

/// The exit status for a library error kind.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound | ErrorKind::AuthFailed => NOT_FOUND,
        ErrorKind::InvalidInput => USAGE,
        ErrorKind::Conflict | ErrorKind::LimitExceeded => CONFLICT,
        ErrorKind::Temporary => TEMPFAIL,
        ErrorKind::UnsafeData => UNSAFE_DATA,
        _ => INTERNAL,
    }
}

/// How bad a status is, for commands that report the worst of several results: an internal
/// error outranks a temporary failure, which outranks any definite answer.
pub fn severity(code: u8) -> u8 {
    match code {
        OK => 0,
        NOT_FOUND => 1,
        USAGE => 2,
        CONFLICT => 3,
        TEMPFAIL => 4,
        UNSAFE_DATA => 5,
        _ => 6,
    }
}

/// The worse of two statuses.
pub fn worst(a: u8, b: u8) -> u8 {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub code: u8,
    /// A short stable name for scripts ("not found", "usage", ...).
    pub kind: &'static str,
    /// One line for people.
    pub message: String,
    /// Each thing found wrong, when there are several (an import's bad lines).
    pub problems: Vec<String>,
}

impl Failure {
    /// A usage error or invalid input found by the tool itself.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: USAGE,
            kind: "usage",
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// The change would collide with what exists, or leave it inconsistent.
    pub fn conflict(message: impl Into<String>) -> Failure {
        Failure::of_kind(ErrorKind::Conflict, message)
    }

    /// A failure of a given library kind, worded by the tool.
    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            code: for_kind(kind),
            kind: kind.as_str(),
            message: message.into(),
            problems: Vec::new(),
        }
    }
}

impl From<vmailsql::Error> for Failure {
    fn from(e: vmailsql::Error) -> Failure {
        let message = match e.kind() {
            // Say what it means for the admin, not only what the driver said.
            ErrorKind::Temporary => format!("temporarily unavailable, try again later: {e}"),
            _ => e.to_string(),
        };
        Failure::of_kind(e.kind(), message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What every command returns.
pub type Outcome<T> = Result<T, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_documented_codes() {
        assert_eq!(for_kind(ErrorKind::NotFound), 1);
        assert_eq!(for_kind(ErrorKind::AuthFailed), 1);
        assert_eq!(for_kind(ErrorKind::InvalidInput), 2);
        assert_eq!(for_kind(ErrorKind::Conflict), 3);
        assert_eq!(for_kind(ErrorKind::LimitExceeded), 3);
        assert_eq!(for_kind(ErrorKind::Temporary), 75);
        assert_eq!(for_kind(ErrorKind::Internal), 70);
        assert_eq!(for_kind(ErrorKind::UnsafeData), 65);
    }

    #[test]
    fn every_kind_has_a_documented_status() {
        for &kind in ErrorKind::ALL {
            let code = for_kind(kind);
            assert!(STATUSES.iter().any(|(c, _)| *c == code), "{kind:?}");
        }
    }

    #[test]
    fn the_manual_lists_exactly_the_statuses() {
        let manual = include_str!("../../../docs/vmailctl.md");
        let section = manual
            .split("## Exit status")
            .nth(1)
            .expect("an Exit status section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let rows: Vec<&str> = section
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| status"))
            .collect();
        let expected: Vec<String> = STATUSES
            .iter()
            .map(|(c, m)| format!("| {c} | {m} |"))
            .collect();
        assert_eq!(
            rows, expected,
            "docs/vmailctl.md's exit status table differs from exit.rs STATUSES"
        );
    }

    #[test]
    fn worst_prefers_failures_of_the_system_over_answers() {
        assert_eq!(worst(OK, NOT_FOUND), NOT_FOUND);
        assert_eq!(worst(TEMPFAIL, NOT_FOUND), TEMPFAIL);
        assert_eq!(worst(TEMPFAIL, INTERNAL), INTERNAL);
        assert_eq!(worst(CONFLICT, USAGE), CONFLICT);
    }
}
