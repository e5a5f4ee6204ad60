//! POP3 and control-panel authentication, and user-database lookups.

use std::ffi::c_char;

use super::resolve::{mailbox_out, vmailsql_mailbox};
use super::{
    bytes_arg, ffi_panic_boundary, handle_arg, out_arg, owned_string, produce, produce_opt,
    str_arg, str_args, vmailsql, vmailsql_result, write_out,
};

/// Checks a POP3 login and its password, by tpop3d's rules: the login splits at the first
/// configured separator (`@%!:` by default) into local part and domain; exactly one popbox must
/// match and its stored hash must verify.
///
/// Returns `VMAILSQL_AUTH_FAILED` for an unknown user, a wrong password or a malformed login,
/// all alike (and taking the same time); `VMAILSQL_TEMPORARY` when the database cannot be
/// reached (never `VMAILSQL_AUTH_FAILED` then); `VMAILSQL_INVALID_INPUT` when the login is not
/// UTF-8; `VMAILSQL_INTERNAL` when the popbox's stored path or Unix user is unsafe. The password
/// is taken as bytes, not checked for UTF-8: tpop3d compared bytes, so hashes of Latin-1
/// passwords keep verifying. With `upgrade_on_login` configured, a weak stored hash is rewritten
/// in the policy scheme after a successful login (only for a UTF-8 password). On success, if `mailbox` is not NULL, `*mailbox` receives the mailbox, to
/// free with `vmailsql_mailbox_free()`.
///
/// # Safety
/// `handle` is a live handle; `login` and `password` NUL-terminated strings; `mailbox` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_authenticate(
    handle: *const vmailsql,
    login: *const c_char,
    password: *const c_char,
    mailbox: *mut *mut vmailsql_mailbox,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, login, password) = unsafe {
            (handle_arg(handle)?, str_arg(login, "login")?, bytes_arg(password, "password")?)
        };
        let found = vmail.authenticate_bytes(login, password)?;
        // SAFETY: NULL (skipped) or writable by contract.
        unsafe { produce_opt(mailbox, || mailbox_out(&found)) }
    }
}

/// Checks an APOP login (RFC 1939): `digest` is the hex MD5 (either case) of `timestamp` (the
/// server banner's `<...>` string, brackets included) followed by the cleartext password. Only
/// popboxes stored as `{plaintext}` can use APOP. Results and `mailbox` as
/// `vmailsql_authenticate()`.
///
/// # Safety
/// `handle` is a live handle; `login`, `timestamp` and `digest` NUL-terminated strings;
/// `mailbox` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_authenticate_apop(
    handle: *const vmailsql,
    login: *const c_char,
    timestamp: *const c_char,
    digest: *const c_char,
    mailbox: *mut *mut vmailsql_mailbox,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [login, timestamp, digest] = unsafe { str_args([(login, "login"), (timestamp, "timestamp"), (digest, "digest")]) }?;
        let found = vmail.authenticate_apop(login, timestamp, digest)?;
        // SAFETY: NULL (skipped) or writable by contract.
        unsafe { produce_opt(mailbox, || mailbox_out(&found)) }
    }
}

/// The mailbox and cleartext password of a `{plaintext}` popbox, for a server that computes
/// APOP itself (Dovecot's credentials lookup).
///
/// Returns `VMAILSQL_AUTH_FAILED` when the user is unknown or its password is not stored in
/// plaintext; otherwise as `vmailsql_authenticate()`. On success `*mailbox` receives the
/// mailbox (free with `vmailsql_mailbox_free()`) and `*password` the cleartext (free with
/// `vmailsql_string_free()`, which wipes it).
///
/// # Safety
/// `handle` is a live handle; `login` a NUL-terminated string; `mailbox` and `password` valid
/// for writes.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_plaintext_credentials(
    handle: *const vmailsql,
    login: *const c_char,
    mailbox: *mut *mut vmailsql_mailbox,
    password: *mut *mut c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        out_arg(mailbox, "mailbox")?;
        out_arg(password, "password")?;
        // SAFETY: per this function's contract.
        let (vmail, login) = unsafe { (handle_arg(handle)?, str_arg(login, "login")?) };
        let (found, clear) = vmail.plaintext_credentials(login)?;
        let clear = owned_string(clear)?;
        match mailbox_out(&found) {
            Ok(m) => {
                // SAFETY: both checked non-NULL above.
                unsafe {
                    write_out(mailbox, m);
                    write_out(password, clear);
                }
                Ok(())
            }
            Err(e) => {
                // SAFETY: `clear` came from owned_string and was not handed out.
                unsafe { super::vmailsql_string_free(clear) };
                Err(e)
            }
        }
    }
}

/// The mailbox of a POP3 login without checking a password (a user-database lookup, as for
/// Dovecot's userdb). Returns `VMAILSQL_NOT_FOUND` for an unknown user; otherwise as
/// `vmailsql_authenticate()`. On success `*mailbox` receives the mailbox, to free with
/// `vmailsql_mailbox_free()`.
///
/// # Safety
/// `handle` is a live handle; `login` a NUL-terminated string; `mailbox` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_lookup_mailbox(
    handle: *const vmailsql,
    login: *const c_char,
    mailbox: *mut *mut vmailsql_mailbox,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(mailbox, "mailbox", || {
                mailbox_out(&handle_arg(handle)?.mailbox(str_arg(login, "login")?)?)
            })
        }
    }
}

/// Checks a domain administrator's password (`domain.password_hash`), as the control panel's
/// sign-in does. Returns `VMAILSQL_AUTH_FAILED` for an unknown domain or a wrong password
/// alike, `VMAILSQL_TEMPORARY` when the database cannot be reached.
///
/// # Safety
/// `handle` is a live handle; `domain` and `password` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_authenticate_domain(
    handle: *const vmailsql,
    domain: *const c_char,
    password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, password] = unsafe { str_args([(domain, "domain"), (password, "password")]) }?;
        Ok(vmail.authenticate_domain(domain, password)?)
    }
}
