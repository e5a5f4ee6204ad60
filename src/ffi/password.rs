//! Password hashing and verification, with or without a handle.

use std::ffi::{c_char, CStr, CString};
use std::sync::Mutex;

use super::{
    bytes_arg, ffi_panic_boundary, handle_arg, opt_str_arg, owned_string, produce, str_arg,
    vmailsql, vmailsql_result, write_out, Failure,
};
use crate::config::DEFAULT_PASSWORD_MIN_LENGTH;
use crate::password::{self, Scheme};

/// Hashes a password with the handle's policy scheme (`password_scheme` in the configuration),
/// as the administration calls do. Returns `VMAILSQL_INVALID_INPUT` for an empty password, one
/// longer than 511 bytes or one that is not UTF-8. On success `*hash` receives the stored form
/// with its `{scheme}` prefix, to free with `vmailsql_string_free()`.
///
/// # Safety
/// `handle` is a live handle; `password` a NUL-terminated string; `hash` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_hash_password(
    handle: *const vmailsql,
    password: *const c_char,
    hash: *mut *mut c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(hash, "hash", || {
                owned_string(handle_arg(handle)?.hash_password(str_arg(password, "password")?)?)
            })
        }
    }
}

/// The handle's `password_min_length`: the fewest characters (not bytes) a new password may have
/// (default 8). Every call that hashes or stores a new password already enforces it; this lets a
/// front end (the control panel) say so before the user submits. On success `*min_length` is
/// written.
///
/// # Safety
/// `handle` is a live handle; `min_length` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_min_length(
    handle: *const vmailsql,
    min_length: *mut u32,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(min_length, "min_length", || {
                let min = handle_arg(handle)?.config().password_min_length;
                // The configuration caps it at MAX_PASSWORD_LEN (511).
                Ok(u32::try_from(min).unwrap_or(u32::MAX))
            })
        }
    }
}

/// Hashes a password with a named scheme, without a handle: "crypt" ({crypt}$6$, the default
/// when `scheme` is NULL), "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "YESCRYPT",
/// "CRYPT_MD5", "MD5" or "PLAINTEXT" (case-insensitive). Returns `VMAILSQL_INVALID_INPUT` for an
/// unknown scheme or an unusable password, including one shorter than 8 characters (the default
/// `password_min_length`: without a handle no configuration applies; use
/// `vmailsql_hash_password()` for a site's own minimum). On success `*hash` receives the stored
/// form, to free with `vmailsql_string_free()`.
///
/// Threads and fork(): needs no handle; safe anywhere.
///
/// # Safety
/// `scheme` is NULL or a NUL-terminated string; `password` a NUL-terminated string; `hash`
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_hash(
    scheme: *const c_char,
    password: *const c_char,
    hash: *mut *mut c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(hash, "hash", || {
                let (scheme, password) = (opt_str_arg(scheme, "scheme")?, str_arg(password, "password")?);
                let scheme = scheme.map_or(Ok(Scheme::default()), Scheme::parse)?;
                owned_string(password::hash_new(scheme, password, DEFAULT_PASSWORD_MIN_LENGTH)?)
            })
        }
    }
}

/// Verifies a password against a stored value (`{scheme}hash` or a bare hash, every scheme
/// tpop3d and Dovecot accept). Returns `VMAILSQL_OK` when it matches and
/// `VMAILSQL_AUTH_FAILED` when it does not, including for an empty, unknown or malformed stored
/// value. The comparison is constant-time. `stored` must be UTF-8; `password` is taken as
/// bytes (legacy sites may hold hashes of Latin-1 passwords).
///
/// A `{DIGEST-MD5}` value hashes the login name too: it gives `VMAILSQL_INVALID_INPUT` here
/// (not a wrong password); check it with `vmailsql_password_verify_user()`.
///
/// # Safety
/// `stored` and `password` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_verify(
    stored: *const c_char,
    password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (stored, password) =
            unsafe { (str_arg(stored, "stored")?, bytes_arg(password, "password")?) };
        if password::identify(stored).is_some_and(|s| s.needs_user) {
            return Err(Failure::new(
                vmailsql_result::VMAILSQL_INVALID_INPUT,
                "a DIGEST-MD5 hash includes the login name: use vmailsql_password_verify_user()",
            ));
        }
        matched(password::verify_bytes(stored, password))
    }
}

/// As `vmailsql_password_verify()`, knowing the login: `user` is the name `{DIGEST-MD5}` hashed
/// (`doveadm pw -s DIGEST-MD5 -u USER`, `name@realm`); every other scheme ignores it. The
/// library's own login calls pass the popbox's `local_part@domain` as stored.
///
/// # Safety
/// `stored`, `user` and `password` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_verify_user(
    stored: *const c_char,
    user: *const c_char,
    password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (stored, user, password) = unsafe {
            (str_arg(stored, "stored")?, str_arg(user, "user")?, bytes_arg(password, "password")?)
        };
        matched(password::verify_bytes_user(stored, user, password))
    }
}

/// The answer of the verify calls: a mismatch is `VMAILSQL_AUTH_FAILED`.
fn matched(ok: bool) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            vmailsql_result::VMAILSQL_AUTH_FAILED,
            "password does not match",
        ))
    }
}

/// Verifies an APOP digest (RFC 1939) against a stored value: only `{plaintext}` values can
/// match. Returns `VMAILSQL_OK` or `VMAILSQL_AUTH_FAILED`.
///
/// # Safety
/// `stored`, `timestamp` and `digest` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_verify_apop(
    stored: *const c_char,
    timestamp: *const c_char,
    digest: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (stored, timestamp, digest) = unsafe {
            (
                str_arg(stored, "stored")?,
                str_arg(timestamp, "timestamp")?,
                str_arg(digest, "digest")?,
            )
        };
        if password::verify_apop(stored, timestamp, digest) {
            Ok(())
        } else {
            Err(Failure::new(vmailsql_result::VMAILSQL_AUTH_FAILED, "APOP digest does not match"))
        }
    }
}

/// The static C copy of a scheme's display name (the set of names is small and fixed).
fn static_name(name: &'static str) -> &'static CStr {
    static NAMES: Mutex<Vec<(&'static str, &'static CStr)>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = names.iter().find(|(n, _)| *n == name) {
        return c;
    }
    let c: &'static CStr = Box::leak(
        CString::new(name)
            .unwrap_or_else(|_| CString::from(c"unknown"))
            .into_boxed_c_str(),
    );
    names.push((name, c));
    c
}

/// Identifies a stored password value. Returns `VMAILSQL_INVALID_INPUT` when it is not
/// recognised (it would never verify). On success each non-NULL out-parameter is written:
/// `*name` a static display name such as "MD5 (hex)" or "SHA-512-crypt" (never free it),
/// `*weak` whether a password policy should replace it (unsalted digests, DES, MD5-crypt, old
/// MySQL, SHA1, plaintext), `*plaintext` whether it is a cleartext (the only kind APOP can use).
///
/// # Safety
/// `stored` is a NUL-terminated string; each out-parameter NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_password_identify(
    stored: *const c_char,
    name: *mut *const c_char,
    weak: *mut bool,
    plaintext: *mut bool,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let stored = unsafe { str_arg(stored, "stored")? };
        let found = password::identify(stored).ok_or_else(|| {
            Failure::new(
                vmailsql_result::VMAILSQL_INVALID_INPUT,
                "not a password hash this library recognises",
            )
        })?;
        // SAFETY: each is NULL (skipped) or writable by contract.
        unsafe {
            write_out(name, static_name(found.name).as_ptr());
            write_out(weak, found.weak);
            write_out(plaintext, found.plaintext);
        }
        Ok(())
    }
}
