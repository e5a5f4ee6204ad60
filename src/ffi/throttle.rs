//! The sign-in throttle (`Vmail::count_signin_attempt` and friends) for C callers.

use std::time::Duration;

use super::{ffi_panic_boundary, handle_arg, produce, str_arg, vmailsql, vmailsql_result};

/// Counts one sign-in attempt against `subject` (e.g. `"domain:example.org"` or
/// `"client:192.0.2.1"`, at most 255 bytes) and writes its count within the current window of
/// `window_seconds` to `*attempts` (this attempt included; a new window starts at 1 once the
/// previous one has ended). Call it before checking the password; the count is kept in the
/// database, so every process sees it. `VMAILSQL_INVALID_INPUT` for a malformed subject or a
/// window of 0.
///
/// # Safety
/// `handle` is a live handle; `subject` a NUL-terminated string; `attempts` writable.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_count_signin_attempt(
    handle: *const vmailsql,
    subject: *const std::ffi::c_char,
    window_seconds: u32,
    attempts: *mut u32,
) -> vmailsql_result {
    ffi_panic_boundary! {
        let window = Duration::from_secs(u64::from(window_seconds));
        // SAFETY: per this function's contract.
        unsafe {
            produce(attempts, "attempts", || {
                let (vmail, subject) = (handle_arg(handle)?, str_arg(subject, "subject")?);
                Ok(vmail.count_signin_attempt(subject, window)?)
            })
        }
    }
}

/// Writes the attempts counted against `subject` within its current window of
/// `window_seconds` to `*attempts` (0 when none), without counting one.
///
/// # Safety
/// `handle` is a live handle; `subject` a NUL-terminated string; `attempts` writable.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_signin_attempts(
    handle: *const vmailsql,
    subject: *const std::ffi::c_char,
    window_seconds: u32,
    attempts: *mut u32,
) -> vmailsql_result {
    ffi_panic_boundary! {
        let window = Duration::from_secs(u64::from(window_seconds));
        // SAFETY: per this function's contract.
        unsafe {
            produce(attempts, "attempts", || {
                let (vmail, subject) = (handle_arg(handle)?, str_arg(subject, "subject")?);
                Ok(vmail.signin_attempts(subject, window)?)
            })
        }
    }
}

/// Forgets the attempts counted against `subject` (after a successful sign-in).
///
/// # Safety
/// `handle` is a live handle; `subject` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_clear_signin_attempts(
    handle: *const vmailsql,
    subject: *const std::ffi::c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, subject) = unsafe { (handle_arg(handle)?, str_arg(subject, "subject")?) };
        Ok(vmail.clear_signin_attempts(subject)?)
    }
}
