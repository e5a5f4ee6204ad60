//! Address resolution and local-domain tests.

use std::ffi::c_char;

use super::out::{free, into_raw, library_owned, Arena};
use super::{
    ffi_panic_boundary, handle_arg, owned_string, produce, produce_opt, str_arg, vmailsql,
    vmailsql_result, Failure,
};
use crate::{Mailbox, Resolution, Rule};

/// Which of the seed's Exim routers decided a resolution.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum vmailsql_rule {
    /// A forwarder for the exact local part: redirect to `targets`.
    VMAILSQL_RULE_FORWARDER = 1,
    /// A popbox: deliver into `mbox_path` as `unix_user`.
    VMAILSQL_RULE_POPBOX = 2,
    /// The domain's `_default_` catch-all forwarder: redirect to `targets`.
    VMAILSQL_RULE_CATCH_ALL = 3,
}

/// A local mailbox: where its mail lives and who owns it.
///
/// Ownership: returned by the library, read-only for the caller, freed with
/// `vmailsql_mailbox_free()`; every string is owned by the struct and lives until then.
/// Threads: a struct may be read from any thread. ABI: fields are only ever appended; never
/// allocate, copy or embed this struct yourself.
#[repr(C)]
pub struct vmailsql_mailbox {
    /// The real domain (a domain alias is replaced by its target), lower-case.
    pub domain: *const c_char,
    /// The popbox's local part (the POP3 user name before the separator), lower-case.
    pub local_part: *const c_char,
    /// The mbox file: the domain path, "/", the popbox's `mbox_name`; checked never to escape
    /// the domain path.
    pub mbox_path: *const c_char,
    /// The domain's base path (`domain.path`).
    pub domain_path: *const c_char,
    /// The Unix user (name or decimal uid) owning the mailbox; never root or uid 0.
    pub unix_user: *const c_char,
}

/// Where mail for an address goes.
///
/// Ownership: returned by `vmailsql_resolve()` or `vmailsql_resolve_parts()`, read-only,
/// freed with `vmailsql_resolution_free()`; every pointer inside lives until then.
/// Threads: a struct may be read from any thread. ABI: fields are only ever appended; never
/// allocate, copy or embed this struct yourself.
#[repr(C)]
pub struct vmailsql_resolution {
    /// Which router decided.
    pub rule: vmailsql_rule,
    /// The real domain (a domain alias is replaced by its target), lower-case.
    pub domain: *const c_char,
    /// The local part that was looked up, lower-case.
    pub local_part: *const c_char,
    /// Number of forward targets (0 for `VMAILSQL_RULE_POPBOX`).
    pub target_count: usize,
    /// The forward targets, `target_count` addresses followed by a NULL pointer (for a popbox
    /// just the NULL).
    pub targets: *const *const c_char,
    /// For `VMAILSQL_RULE_POPBOX`: the mbox file; NULL otherwise.
    pub mbox_path: *const c_char,
    /// For `VMAILSQL_RULE_POPBOX`: the domain's base path; NULL otherwise.
    pub domain_path: *const c_char,
    /// For `VMAILSQL_RULE_POPBOX`: the Unix user owning the mailbox; NULL otherwise.
    pub unix_user: *const c_char,
}

library_owned!(
    vmailsql_mailbox => (),
    vmailsql_resolution => Vec<*const c_char>,
);

/// A mailbox for C, freed with `vmailsql_mailbox_free`.
pub(crate) fn mailbox_out(m: &Mailbox) -> Result<*mut vmailsql_mailbox, Failure> {
    let mut arena = Arena::default();
    let public = vmailsql_mailbox {
        domain: arena.str(&m.domain)?,
        local_part: arena.str(&m.local_part)?,
        mbox_path: arena.str(&m.path)?,
        domain_path: arena.str(&m.domain_path)?,
        unix_user: arena.str(&m.unix_user)?,
    };
    Ok(into_raw(public, arena, ()))
}

fn resolution_out(r: &Resolution) -> Result<*mut vmailsql_resolution, Failure> {
    let mut arena = Arena::default();
    let rule = match r.rule() {
        Rule::Forwarder => vmailsql_rule::VMAILSQL_RULE_FORWARDER,
        Rule::Popbox => vmailsql_rule::VMAILSQL_RULE_POPBOX,
        Rule::CatchAll => vmailsql_rule::VMAILSQL_RULE_CATCH_ALL,
    };
    let public = match r {
        Resolution::Forward {
            domain,
            local_part,
            targets,
            ..
        } => {
            let array = arena.array(targets.iter().map(String::as_str))?;
            let public = vmailsql_resolution {
                rule,
                domain: arena.str(domain)?,
                local_part: arena.str(local_part)?,
                target_count: targets.len(),
                targets: array.as_ptr(),
                mbox_path: std::ptr::null(),
                domain_path: std::ptr::null(),
                unix_user: std::ptr::null(),
            };
            return Ok(into_raw(public, arena, array));
        }
        Resolution::Mailbox(m) => vmailsql_resolution {
            rule,
            domain: arena.str(&m.domain)?,
            local_part: arena.str(&m.local_part)?,
            target_count: 0,
            targets: std::ptr::null(),
            mbox_path: arena.str(&m.path)?,
            domain_path: arena.str(&m.domain_path)?,
            unix_user: arena.str(&m.unix_user)?,
        },
    };
    let array = vec![std::ptr::null()];
    let public = vmailsql_resolution {
        targets: array.as_ptr(),
        ..public
    };
    Ok(into_raw(public, arena, array))
}

/// Resolves an address (`local@domain`, split at the last `@`) exactly as the seed's Exim
/// routers did: a forwarder for the exact local part, else a popbox, else the `_default_`
/// catch-all. A domain alias behaves as its target. Case does not matter.
///
/// Returns `VMAILSQL_NOT_FOUND` when the domain is not local or nothing answers for the local
/// part, `VMAILSQL_INVALID_INPUT` for a malformed address or stored data that would give an
/// unsafe mailbox, `VMAILSQL_TEMPORARY` when the database cannot be reached. On success `*out`
/// receives a resolution to free with `vmailsql_resolution_free()`.
///
/// # Safety
/// `handle` is a live handle; `address` a NUL-terminated string; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_resolve(
    handle: *const vmailsql,
    address: *const c_char,
    out: *mut *mut vmailsql_resolution,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(out, "out", || {
                let (vmail, address) = (handle_arg(handle)?, str_arg(address, "address")?);
                resolution_out(&vmail.resolve(address)?)
            })
        }
    }
}

/// As `vmailsql_resolve()`, with the local part and the domain given separately (as Exim has
/// them in `$local_part` and `$domain`).
///
/// # Safety
/// `handle` is a live handle; `local_part` and `domain` NUL-terminated strings; `out` valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_resolve_parts(
    handle: *const vmailsql,
    local_part: *const c_char,
    domain: *const c_char,
    out: *mut *mut vmailsql_resolution,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(out, "out", || {
                let (vmail, local, domain) = (handle_arg(handle)?, str_arg(local_part, "local_part")?, str_arg(domain, "domain")?);
                resolution_out(&vmail.resolve_parts(local, domain)?)
            })
        }
    }
}

/// Frees a resolution. `vmailsql_resolution_free(NULL)` does nothing.
///
/// # Safety
/// `resolution` is NULL or came from `vmailsql_resolve*()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_resolution_free(resolution: *mut vmailsql_resolution) {
    // SAFETY: per this function's contract.
    unsafe { free(resolution) }
}

/// Frees a mailbox. `vmailsql_mailbox_free(NULL)` does nothing.
///
/// # Safety
/// `mailbox` is NULL or came from this library and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_mailbox_free(mailbox: *mut vmailsql_mailbox) {
    // SAFETY: per this function's contract.
    unsafe { free(mailbox) }
}

/// Tests whether a domain is local (a domain, or an alias of one).
///
/// Returns `VMAILSQL_OK` when it is, `VMAILSQL_NOT_FOUND` when it is not,
/// `VMAILSQL_INVALID_INPUT` for a malformed name, `VMAILSQL_TEMPORARY` when the database
/// cannot be reached. On success, if `real_domain` is not NULL, `*real_domain` receives the
/// real domain (the name itself, lower-case, or the alias's target), to free with
/// `vmailsql_string_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain` a NUL-terminated string; `real_domain` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_local_domain(
    handle: *const vmailsql,
    domain: *const c_char,
    real_domain: *mut *mut c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, domain) = unsafe { (handle_arg(handle)?, str_arg(domain, "domain")?) };
        let real = vmail.local_domain(domain)?;
        // SAFETY: NULL (skipped) or writable by contract.
        unsafe { produce_opt(real_domain, || owned_string(real)) }
    }
}
