//! The C ABI of libvmailsql (`include/vmailsql.h` is generated from this module by cbindgen).
//!
//! A thin layer over the public Rust API: nothing here knows SQL or password formats. The
//! conventions every function follows (result codes, out-parameters, ownership, last error,
//! panics, threads, `fork()`) are written once in `docs/c-api.md` and in the header's comments.
//!
//! Shared helpers (`ffi_panic_boundary!`, [`Failure`], the argument converters, the last-error
//! slot) are `pub(crate)` so that the Exim entry points in `exim.rs` can reuse them.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::{ErrorKind, Vmail};

mod admin;
mod audit;
mod auth;
mod exim;
mod out;

pub(crate) use out::{owned_string, produce, produce_opt};
mod password;
mod resolve;
mod throttle;

/// The outcome of every call that can fail.
///
/// The codes of the Rust `ErrorKind`s carry the same numbers (`ErrorKind::code`, tested);
/// `VMAILSQL_PANIC` and `VMAILSQL_NULL_ARGUMENT` exist only in C. After any code but
/// `VMAILSQL_OK`, `vmailsql_last_error()` describes what happened. New codes may be added in a
/// minor release, always with new numbers: treat an unknown code like `VMAILSQL_INTERNAL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vmailsql_result {
    /// Success; out-parameters have been written.
    VMAILSQL_OK = 0,
    /// The domain, address, popbox or record does not exist.
    VMAILSQL_NOT_FOUND = 1,
    /// Wrong password, APOP digest or session token (unknown users look the same).
    VMAILSQL_AUTH_FAILED = 2,
    /// The caller's input is malformed (including a string that is not UTF-8).
    VMAILSQL_INVALID_INPUT = 3,
    /// The change collides with an existing record.
    VMAILSQL_CONFLICT = 4,
    /// The change would exceed a limit such as the domain's `max_popbox`.
    VMAILSQL_LIMIT_EXCEEDED = 5,
    /// The database is down, slow or busy: try again later (defer, `-ERR [SYS/TEMP]`, exit 111).
    /// Never reported as `VMAILSQL_NOT_FOUND`.
    VMAILSQL_TEMPORARY = 6,
    /// A bug or an unexpected database answer.
    VMAILSQL_INTERNAL = 7,
    /// A panic inside the library was caught at the API boundary; the handle stays usable.
    VMAILSQL_PANIC = 8,
    /// A required pointer argument was NULL.
    VMAILSQL_NULL_ARGUMENT = 9,
    /// Stored data is unsafe to use (a mailbox path escaping the domain's path, a root or empty
    /// `unix_user`, a NUL byte in a value): the site must fix the row the message names; a
    /// daemon defers.
    VMAILSQL_UNSAFE_DATA = 10,
}

use vmailsql_result::*;

impl vmailsql_result {
    /// Every code, in numeric order.
    const ALL: [vmailsql_result; 11] = [
        VMAILSQL_OK,
        VMAILSQL_NOT_FOUND,
        VMAILSQL_AUTH_FAILED,
        VMAILSQL_INVALID_INPUT,
        VMAILSQL_CONFLICT,
        VMAILSQL_LIMIT_EXCEEDED,
        VMAILSQL_TEMPORARY,
        VMAILSQL_INTERNAL,
        VMAILSQL_PANIC,
        VMAILSQL_NULL_ARGUMENT,
        VMAILSQL_UNSAFE_DATA,
    ];

    /// The code for a Rust error kind: the one whose number `ErrorKind::code` gives.
    pub(crate) fn of_kind(kind: ErrorKind) -> vmailsql_result {
        Self::ALL
            .into_iter()
            .find(|r| *r as i32 == kind.code())
            .unwrap_or(VMAILSQL_INTERNAL)
    }

    /// The static, NUL-terminated description of a code: the kind's name for the codes of
    /// `ErrorKind`s.
    fn text(self) -> &'static CStr {
        match self {
            VMAILSQL_OK => c"ok",
            VMAILSQL_NOT_FOUND => c"not found",
            VMAILSQL_AUTH_FAILED => c"authentication failed",
            VMAILSQL_INVALID_INPUT => c"invalid input",
            VMAILSQL_CONFLICT => c"conflict",
            VMAILSQL_LIMIT_EXCEEDED => c"limit exceeded",
            VMAILSQL_TEMPORARY => c"temporarily unavailable",
            VMAILSQL_INTERNAL => c"internal error",
            VMAILSQL_PANIC => c"panic in libvmailsql",
            VMAILSQL_NULL_ARGUMENT => c"NULL argument",
            VMAILSQL_UNSAFE_DATA => c"unsafe stored data",
        }
    }
}

/// A failed call: its code and the message for `vmailsql_last_error()`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: vmailsql_result,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: vmailsql_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        Failure::new(vmailsql_result::of_kind(e.kind()), e.to_string())
    }
}

/// What the body of an exported function returns.
pub(crate) type FfiResult = Result<(), Failure>;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Forgets this thread's last error (done at the start of every call that returns a code).
pub(crate) fn clear_last_error() {
    // `try_with`: never panic, even while the thread is being torn down.
    let _ = LAST_ERROR.try_with(|slot| slot.borrow_mut().take());
}

/// Records this thread's last error; interior NULs are replaced so the message survives.
pub(crate) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(text));
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs the body of an exported function: clears the last error, catches panics, and turns the
/// body's `Result` into a code (recording the message of a failure).
pub(crate) fn boundary(body: impl FnOnce() -> FfiResult) -> vmailsql_result {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => VMAILSQL_OK,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.code
        }
        Err(payload) => {
            set_last_error(&format!(
                "panic in libvmailsql (a bug, please report it): {}",
                panic_message(payload.as_ref())
            ));
            VMAILSQL_PANIC
        }
    }
}

/// Runs a function that returns no code (frees, accessors of static data): panics are caught
/// and `fallback` returned; the last error is left alone.
pub(crate) fn quiet_boundary<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The panic boundary inside every exported function that returns a [`vmailsql_result`]: the
/// body is a block evaluating to [`FfiResult`]. Written as a macro inside the function body (as
/// rustls-ffi does) so that cbindgen sees an ordinary function.
macro_rules! ffi_panic_boundary {
    ($($body:tt)*) => {
        $crate::ffi::boundary(move || -> $crate::ffi::FfiResult { $($body)* })
    };
}
pub(crate) use ffi_panic_boundary;

/// A required input string: NULL gives `VMAILSQL_NULL_ARGUMENT`, bytes that are not UTF-8 give
/// `VMAILSQL_INVALID_INPUT`.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded to the caller.
    unsafe { opt_str_arg(ptr, name) }?
        .ok_or_else(|| Failure::new(VMAILSQL_NULL_ARGUMENT, format!("{name} is NULL")))
}

/// Several required input strings, checked in order, each as [`str_arg`] with its name.
///
/// # Safety
/// Each pointer is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_args<'a, const N: usize>(
    args: [(*const c_char, &str); N],
) -> Result<[&'a str; N], Failure> {
    let mut out = [""; N];
    for (slot, (ptr, name)) in out.iter_mut().zip(args) {
        // SAFETY: forwarded to the caller.
        *slot = unsafe { str_arg(ptr, name) }?;
    }
    Ok(out)
}

/// A required input byte string (a password, which may predate UTF-8): NULL is
/// `VMAILSQL_NULL_ARGUMENT`; the bytes are taken as they are.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the returned slice.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            VMAILSQL_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// An optional input string: NULL gives `None`; otherwise as [`str_arg`].
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map(Some).map_err(|e| {
        Failure::new(
            VMAILSQL_INVALID_INPUT,
            format!(
                "{name} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Checks that an out-parameter is usable before any work is done.
pub(crate) fn out_arg<T>(ptr: *mut T, name: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        Err(Failure::new(
            VMAILSQL_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ))
    } else {
        Ok(())
    }
}

/// Writes an out-parameter that [`out_arg`] checked, or does nothing for an optional NULL one.
///
/// # Safety
/// `ptr` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { ptr.write(value) };
    }
}

/// An open vmailsql handle: configuration plus one lazily opened database connection.
///
/// Ownership: created by `vmailsql_open()` or `vmailsql_open_url()`, freed by
/// `vmailsql_free()`.
///
/// Threads: a handle may be used from several threads at once; calls on one handle are
/// serialised on its single connection. `vmailsql_free()` must not race with other calls on
/// the same handle.
///
/// fork(): a handle survives `fork()`. The child's first call opens a new connection and never
/// touches (reads, writes or closes) the parent's, so parent and children may keep using their
/// copies. Do not fork while another thread of the process is inside a call on the handle.
pub struct vmailsql {
    vmail: Vmail,
}

out::library_owned!(vmailsql => ());

/// The handle behind a pointer argument.
///
/// # Safety
/// `ptr` is NULL or a live handle from `vmailsql_open*`.
pub(crate) unsafe fn handle_arg<'a>(ptr: *const vmailsql) -> Result<&'a Vmail, Failure> {
    // SAFETY: a live handle by the caller's contract.
    unsafe { out::borrow(ptr, "handle") }.map(|h| &h.vmail)
}

/// A new handle for C, freed with `vmailsql_free()`.
fn new_handle(vmail: Vmail) -> *mut vmailsql {
    out::into_raw(vmailsql { vmail }, out::Arena::default(), ())
}

/// Opens a handle from a configuration file.
///
/// `config_path` NULL means `$VMAILSQL_CONFIG`, else `/etc/vmailsql.conf`. Does not connect to
/// the database yet (the first call that needs it does), so a database that is down is reported
/// later as `VMAILSQL_TEMPORARY`. Returns `VMAILSQL_NOT_FOUND` when the file does not exist and
/// `VMAILSQL_INVALID_INPUT` for a syntax error or a file holding a password that others may
/// read. On success `*out` receives a handle to free with `vmailsql_free()`; otherwise `*out` is
/// left untouched.
///
/// # Safety
/// `config_path` is NULL or a NUL-terminated string; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_open(
    config_path: *const c_char,
    out: *mut *mut vmailsql,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(out, "out", || {
                let path = opt_str_arg(config_path, "config_path")?;
                Ok(new_handle(Vmail::open_config(path.map(Path::new))?))
            })
        }
    }
}

/// Opens a handle on one database URL with default settings: `mysql://user:pass@host/db`,
/// `mysql://user@localhost/db?socket=/path`, `sqlite:///abs/path.db` or `sqlite::memory:`.
///
/// Does not connect yet. Returns `VMAILSQL_INVALID_INPUT` for an unsupported URL. On success
/// `*out` receives a handle to free with `vmailsql_free()`; otherwise `*out` is left untouched.
///
/// # Safety
/// `url` is a NUL-terminated string; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_open_url(
    url: *const c_char,
    out: *mut *mut vmailsql,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe { produce(out, "out", || Ok(new_handle(Vmail::open_url(str_arg(url, "url")?)?))) }
    }
}

/// Sends this handle's lookups to the primary (`database`) from now on, never to the
/// configured `replicas`: for administration tools, which must see what was just written.
/// A handle does this by itself once it has made a change. Returns `VMAILSQL_OK`.
///
/// # Safety
/// `handle` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_read_from_primary(handle: *const vmailsql) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle)? };
        vmail.read_from_primary();
        Ok(())
    }
}

/// Closes a handle and its database connection. `vmailsql_free(NULL)` does nothing.
///
/// In a forked child, freeing an inherited handle never closes the parent's connection.
///
/// # Safety
/// `handle` is NULL or a handle from `vmailsql_open*` not yet freed, and no other thread is
/// using it.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_free(handle: *mut vmailsql) {
    // SAFETY: per this function's contract.
    unsafe { out::free(handle) }
}

/// Frees a string returned by the library (a password hash, a cleartext, a token, a domain
/// name). Its bytes are overwritten before the memory is released. `vmailsql_string_free(NULL)`
/// does nothing. Never pass a string from `vmailsql_version()`, `vmailsql_result_str()`,
/// `vmailsql_last_error()` or a field of a returned struct.
///
/// # Safety
/// `s` is NULL or a string returned through a `char **` out-parameter of this library, not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_string_free(s: *mut c_char) {
    quiet_boundary((), || {
        if s.is_null() {
            return;
        }
        // SAFETY: from CString::into_raw in this library, by the caller's contract.
        let owned = unsafe { CString::from_raw(s) };
        let mut bytes = owned.into_bytes_with_nul();
        for b in bytes.iter_mut() {
            // SAFETY: a valid, exclusive byte; volatile so the wipe is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    })
}

/// The message of the last failed call on this thread, or "" when the last call succeeded.
///
/// Every function that returns a `vmailsql_result` clears the message when it starts. The
/// pointer stays valid until the next such call on the same thread; never free it. Messages
/// never contain passwords.
///
/// Threads: the message is per thread. fork(): the child starts with the forking thread's
/// message.
#[no_mangle]
pub extern "C" fn vmailsql_last_error() -> *const c_char {
    quiet_boundary(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map(|s| s.as_ptr()))
            .ok()
            .flatten()
            .unwrap_or(c"".as_ptr())
    })
}

/// A static description of a result code ("not found", "temporarily unavailable", ...);
/// "unknown result code" for a value that is not one. Never free it.
#[no_mangle]
pub extern "C" fn vmailsql_result_str(code: c_int) -> *const c_char {
    vmailsql_result::ALL
        .iter()
        .find(|r| **r as c_int == code)
        .map_or(c"unknown result code", |r| r.text())
        .as_ptr()
}

/// The library's version, e.g. "0.1.0" (the same as `VMAILSQL_VERSION` in the header the
/// program was compiled with, unless a newer compatible library is installed). Never free it.
#[no_mangle]
pub extern "C" fn vmailsql_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version contains a NUL byte"),
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_its_own_code_with_its_number_and_name() {
        let mut seen = std::collections::HashSet::new();
        for &kind in ErrorKind::ALL {
            let code = vmailsql_result::of_kind(kind);
            assert_eq!(code as i32, kind.code(), "{kind:?}");
            assert!(seen.insert(code as i32), "{kind:?} shares its code");
            assert_ne!(code, VMAILSQL_OK);
            // The C text of a kind's code is the Rust name of the kind.
            assert_eq!(code.text().to_str().unwrap(), kind.as_str());
        }
        // Every C code is a kind's, or one of the two that exist only in C.
        for code in vmailsql_result::ALL {
            let of_a_kind = ErrorKind::ALL.iter().any(|k| k.code() == code as i32);
            assert!(
                of_a_kind || matches!(code, VMAILSQL_OK | VMAILSQL_PANIC | VMAILSQL_NULL_ARGUMENT),
                "{code:?} has no ErrorKind"
            );
        }
        assert!(vmailsql_result::ALL
            .windows(2)
            .all(|w| w[0] as i32 + 1 == w[1] as i32));
    }

    #[test]
    fn boundary_catches_panics_and_records_messages() {
        let code = boundary(|| panic!("boom"));
        assert_eq!(code, VMAILSQL_PANIC);
        // SAFETY: a pointer from vmailsql_last_error, read before the next call.
        let message = unsafe { CStr::from_ptr(vmailsql_last_error()) };
        assert!(message.to_str().unwrap().contains("boom"));
        assert_eq!(boundary(|| Ok(())), VMAILSQL_OK);
        // SAFETY: as above.
        assert_eq!(
            unsafe { CStr::from_ptr(vmailsql_last_error()) }.to_bytes(),
            b""
        );
    }

    #[test]
    fn invalid_utf8_is_invalid_input() {
        let bad = c"caf\xe9";
        // SAFETY: a valid C string.
        let err = unsafe { str_arg(bad.as_ptr(), "login") }.unwrap_err();
        assert_eq!(err.code, VMAILSQL_INVALID_INPUT);
        assert!(err.message.contains("login"));
        // SAFETY: NULL is allowed.
        let err = unsafe { str_arg(std::ptr::null(), "login") }.unwrap_err();
        assert_eq!(err.code, VMAILSQL_NULL_ARGUMENT);
    }
}
