//! Counting failed sign-ins per subject (the control panel counts one per domain and one per
//! client address), in the database so that every CGI process sees the same counts.
//!
//! Counts live in fixed windows: the first failure of a series opens a window of the caller's
//! length, each later failure inside it adds one, and the first failure after it opens a new
//! window at 1. A lockout therefore ends at most one window after the series began, however
//! often a locked-out subject keeps trying. The caller counts an attempt *before* checking the
//! password ([`Vmail::count_signin_attempt`]) and clears the domain's count after a success, so
//! parallel guesses are counted one by one, never all checked against a stale zero.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};
use crate::store::{sql, Backend};
use crate::vmail::Vmail;

/// Longest subject (the column is `VARCHAR(255)`).
const MAX_SUBJECT: usize = 255;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn checked_subject(subject: &str) -> Result<&str> {
    if subject.is_empty() || subject.len() > MAX_SUBJECT || subject.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "a throttle subject is 1 to {MAX_SUBJECT} bytes without control characters"
        )));
    }
    Ok(subject)
}

fn window_seconds(window: Duration) -> Result<i64> {
    match i64::try_from(window.as_secs()) {
        Ok(s) if s > 0 => Ok(s),
        _ => Err(Error::invalid(
            "the throttle window must be at least one second",
        )),
    }
}

/// Adds one attempt to `subject`'s window (opening a new one when it has ended).
fn count_one(db: &mut dyn Backend, subject: &str, now: i64, window: i64) -> Result<()> {
    if sql::bump_signin_failures(db, subject, now, now - window)? > 0 {
        return Ok(());
    }
    match sql::insert_signin_failure(db, subject, now) {
        // Another process inserted it first: count on its row. (MySQL reports 0 changed rows
        // for an update that changed nothing; then the row is already as it should be.)
        Err(e) if e.kind() == ErrorKind::Conflict => {
            sql::bump_signin_failures(db, subject, now, now - window).map(drop)
        }
        other => other,
    }
}

impl Vmail {
    /// Counts one sign-in attempt against `subject` and returns its count within the current
    /// window of `window` (this attempt included). Call it before checking the password, and
    /// clear the count after a success with [`clear_signin_attempts`](Self::clear_signin_attempts).
    ///
    /// # Errors
    /// `InvalidInput` for an empty subject, one over 255 bytes or with control characters, or
    /// a window under one second; `Temporary` when the database is unreachable.
    pub fn count_signin_attempt(&self, subject: &str, window: Duration) -> Result<u32> {
        let window = window_seconds(window)?;
        let subject = checked_subject(subject)?;
        let now = now();
        self.write(|db| {
            count_one(db, subject, now, window)?;
            sql::signin_failures(db, subject, now - window)
        })
    }

    /// The attempts counted against `subject` in its current window of `window` (0 when none).
    ///
    /// # Errors
    /// As [`count_signin_attempt`](Self::count_signin_attempt).
    pub fn signin_attempts(&self, subject: &str, window: Duration) -> Result<u32> {
        let window = window_seconds(window)?;
        let subject = checked_subject(subject)?;
        let since = now() - window;
        self.read(|db| sql::signin_failures(db, subject, since))
    }

    /// Forgets the attempts counted against `subject` (after a successful sign-in).
    ///
    /// # Errors
    /// `InvalidInput` for a malformed subject; `Temporary` when the database is unreachable.
    pub fn clear_signin_attempts(&self, subject: &str) -> Result<()> {
        let subject = checked_subject(subject)?;
        self.write(|db| sql::clear_signin_failures(db, subject))
    }
}
