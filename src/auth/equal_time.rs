//! The one password check behind every login path (POP3 password and APOP, the control panel's
//! domain sign-in, a user changing their own password), taking the same time whatever it finds.
//!
//! An unknown account, a NULL hash or an unrecognised value verifies a dummy hash in the policy
//! scheme instead, so it costs what a real verification costs. Every check then waits until it
//! has taken as long as the slowest kind of stored value this process has verified (scheme and
//! cost parameters, each timed as a moving average): a cheap `{md5}` row, a `{plaintext}` row and
//! an unknown user all look like the costliest scheme in use. A check of that costliest kind is
//! not padded at all: its own time is what the others are padded to, so the common case (hashes
//! in the policy scheme) costs the verification and nothing more. The wait sleeps most of the
//! way and spins the last fraction of a millisecond, as a sleep alone would overshoot by the
//! timer slack and make padded checks the slower ones. A process that checks only one
//! login (Dovecot's checkpassword) knows only the policy scheme and the row it read, so there an
//! account stored in a scheme costlier than the policy can still be told apart: choose the policy
//! scheme to be at least as costly as the site's stored hashes.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::password::{self, Scheme};

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The secret matches the stored value.
    Match,
    /// Wrong secret, unknown account, or a value that never verifies.
    Mismatch,
    /// The stored value asks for more work than a login may spend: nothing was computed.
    TooCostly,
}

/// What the client proved it knows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Secret<'a> {
    /// A password (bytes: tpop3d compared bytes), and who the account is: `{DIGEST-MD5}` hashes
    /// the name (`local_part@domain` as stored, or a domain's name) with the password.
    Password { user: &'a str, password: &'a [u8] },
    /// An APOP digest of the banner's timestamp and the cleartext (RFC 1939).
    Apop { timestamp: &'a str, digest: &'a str },
}

/// The most kinds of stored value whose cost is remembered (a site uses a handful).
const MAX_CLASSES: usize = 32;

/// Moving averages of verification time per cost class, shared by every handle of the process.
fn costs() -> &'static Mutex<Vec<(String, Duration)>> {
    static COSTS: OnceLock<Mutex<Vec<(String, Duration)>>> = OnceLock::new();
    COSTS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Records one measured verification; returns the time every check should now take, and
/// whether `class` is the costliest kind known (its checks are not padded).
fn record(class: Option<String>, took: Option<Duration>) -> (Duration, bool) {
    let mut costs = costs()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let (Some(class), Some(took)) = (&class, took) {
        let full = costs.len() >= MAX_CLASSES;
        match costs.iter_mut().find(|(c, _)| c == class) {
            // An eighth of each difference, both ways: the average follows the class's typical
            // time (what an unpadded check of the costliest kind takes), and one slow outlier
            // (a busy machine) moves it only a little.
            Some((_, avg)) if took > *avg => *avg += (took - *avg) / 8,
            Some((_, avg)) => *avg -= (*avg - took) / 8,
            None if !full => costs.push((class.clone(), took)),
            None => {}
        }
    }
    let target = costs.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let costliest =
        class.is_some_and(|class| costs.iter().any(|(c, d)| *c == class && *d == target));
    (target, costliest)
}

/// Returns at `deadline`: sleeps until shortly before it, then spins, so the padding ends within
/// microseconds of the target rather than a timer slack (about 50 us) after it.
fn wait_until(deadline: Instant) {
    const SPIN: Duration = Duration::from_micros(150);
    if let Some(rest) = deadline.checked_duration_since(Instant::now()) {
        if rest > SPIN {
            std::thread::sleep(rest - SPIN);
        }
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// True once the policy scheme's dummy verification has been timed in this process.
fn policy_timed(policy: Scheme) -> bool {
    let class = dummy_class(policy);
    let costs = costs()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    costs.iter().any(|(c, _)| Some(c) == class.as_ref())
}

/// One dummy hash per scheme, made on first need.
fn dummy_hash(policy: Scheme) -> &'static str {
    static HASHES: OnceLock<Mutex<Vec<(Scheme, &'static str)>>> = OnceLock::new();
    let hashes = HASHES.get_or_init(|| Mutex::new(Vec::new()));
    let mut hashes = hashes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, h)) = hashes.iter().find(|(s, _)| *s == policy) {
        return h;
    }
    // At most one leaked string per scheme: the enum is small.
    let made: &'static str = Box::leak(
        password::hash(policy, "vmailsql dummy password")
            .unwrap_or_default()
            .into_boxed_str(),
    );
    hashes.push((policy, made));
    made
}

fn dummy_class(policy: Scheme) -> Option<String> {
    password::cost_class(dummy_hash(policy))
}

/// Verifies the dummy hash of the policy scheme with whatever the client sent.
fn dummy_work(policy: Scheme, secret: Secret<'_>) -> Duration {
    let started = Instant::now();
    let bytes = match secret {
        Secret::Password { password, .. } => password,
        Secret::Apop { digest, .. } => digest.as_bytes(),
    };
    let _ = password::verify_bytes(dummy_hash(policy), bytes);
    started.elapsed()
}

/// Checks `secret` against `stored` (`None`: no such account, or a NULL hash) and returns only
/// after as long as the slowest check this process knows of, at least one policy-scheme
/// verification.
pub(crate) fn check(policy: Scheme, stored: Option<&str>, secret: Secret<'_>) -> Verdict {
    let started = Instant::now();
    let known = stored.and_then(|s| password::identify(s).map(|id| (s, id)));
    let (verdict, class, took) = match known {
        Some((s, id)) if !id.too_costly => {
            let matched = match secret {
                Secret::Password { user, password } => {
                    password::verify_bytes_user(s, user, password)
                }
                Secret::Apop { timestamp, digest } => password::verify_apop(s, timestamp, digest),
            };
            let verdict = if matched {
                Verdict::Match
            } else {
                Verdict::Mismatch
            };
            // APOP is one MD5 whatever the row: its class is APOP, not the row's scheme.
            let class = match secret {
                Secret::Password { .. } => password::cost_class(s),
                Secret::Apop { .. } => Some("APOP".to_string()),
            };
            (verdict, class, Some(started.elapsed()))
        }
        Some(_) => {
            let took = dummy_work(policy, secret);
            (Verdict::TooCostly, dummy_class(policy), Some(took))
        }
        None => {
            let took = dummy_work(policy, secret);
            (Verdict::Mismatch, dummy_class(policy), Some(took))
        }
    };
    let (mut target, mut costliest) = record(class, took);
    if !policy_timed(policy) {
        // The first cheap check of the process learns what the policy scheme costs.
        (target, _) = record(dummy_class(policy), Some(dummy_work(policy, secret)));
        costliest = false;
    }
    if !costliest {
        wait_until(started + target);
    }
    verdict
}
