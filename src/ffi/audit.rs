//! The audit log: naming who acts through a handle, and reading the records.

use std::ffi::c_char;

use super::out::{c_list, free, library_owned, list, Arena, FromRow};
use super::{
    ffi_panic_boundary, handle_arg, opt_str_arg, produce, str_arg, vmailsql, vmailsql_result,
    Failure,
};
use crate::{AuditFilter, AuditRecord};

/// One audit record. Never holds a password or a password hash.
///
/// Ownership: returned by the library inside a `vmailsql_audit_list`, read-only, freed with
/// its list; strings are owned by the list. ABI: fields are only ever appended.
#[repr(C)]
pub struct vmailsql_audit_record {
    /// Increasing with every record.
    pub id: i64,
    /// When, in seconds since 1970-01-01 UTC.
    pub at: i64,
    /// The same time as `YYYY-MM-DDTHH:MM:SSZ`.
    pub when: *const c_char,
    /// Who: `unix:<user>`, `domain:<name>`, or what `vmailsql_set_actor()` named.
    pub actor: *const c_char,
    /// From where: `local`, or a client address.
    pub origin: *const c_char,
    /// The domain concerned (empty for site-wide records such as an import).
    pub domain: *const c_char,
    /// What: `domain`, `popbox`, `forwarder`, `catch-all`, `alias`, `password`, `session`, ...
    pub object: *const c_char,
    /// Which one, e.g. `alice@example.org`.
    pub name: *const c_char,
    /// `created`, `changed`, `deleted`, `signed-in`, `sign-in-failed`, `imported`, ...
    pub action: *const c_char,
    /// The values before the change, or NULL.
    pub before: *const c_char,
    /// The values after the change, or NULL.
    pub after: *const c_char,
    /// `ok`, or `failed` (a refused sign-in).
    pub outcome: *const c_char,
}

/// A list of audit records, oldest first; as `vmailsql_domain_list`, freed with
/// `vmailsql_audit_list_free()`.
#[repr(C)]
pub struct vmailsql_audit_list {
    /// Number of items.
    pub count: usize,
    /// The items.
    pub items: *const vmailsql_audit_record,
}

library_owned!(vmailsql_audit_record => ());
c_list!(vmailsql_audit_list of vmailsql_audit_record);

impl FromRow<AuditRecord> for vmailsql_audit_record {
    fn from_row(arena: &mut Arena, r: &AuditRecord) -> Result<Self, Failure> {
        Ok(vmailsql_audit_record {
            id: r.id,
            at: r.at,
            when: arena.str(&r.when())?,
            actor: arena.str(&r.actor)?,
            origin: arena.str(&r.origin)?,
            domain: arena.str(&r.domain)?,
            object: arena.str(&r.object)?,
            name: arena.str(&r.name)?,
            action: arena.str(&r.action)?,
            before: arena.opt(r.before.as_deref())?,
            after: arena.opt(r.after.as_deref())?,
            outcome: arena.str(&r.outcome)?,
        })
    }
}

/// Names who makes this handle's changes in the audit log (default `unix:<user>` of the
/// process), and from where (`origin` NULL: `local`; the control panel gives the client
/// address). Returns `VMAILSQL_INVALID_INPUT` for an empty string, one over 255 bytes, or one
/// with control characters.
///
/// # Safety
/// `handle` is a live handle; `actor` a NUL-terminated string; `origin` NULL or one.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_set_actor(
    handle: *const vmailsql,
    actor: *const c_char,
    origin: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, actor, origin) = unsafe {
            (handle_arg(handle)?, str_arg(actor, "actor")?, opt_str_arg(origin, "origin")?)
        };
        Ok(vmail.set_actor(actor, origin)?)
    }
}

/// Creates the audit table when the database lacks it (any schema, the legacy one included).
///
/// # Safety
/// `handle` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_create_audit_table(handle: *const vmailsql) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe { handle_arg(handle)? }.create_audit_table()?;
        Ok(())
    }
}

/// Audit records, oldest first: of one domain (`domain` not NULL), at or after `since` and
/// before `until` (seconds since the epoch; a negative value does not filter), of one `action`
/// and one `actor` (NULL: any), the newest `limit` of them (0: all). Returns
/// `VMAILSQL_NOT_FOUND` when the database has no audit table. On success `*records` receives a
/// list to free with `vmailsql_audit_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `action`, `actor` NULL or NUL-terminated strings;
/// `records` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_audit_log(
    handle: *const vmailsql,
    domain: *const c_char,
    since: i64,
    until: i64,
    action: *const c_char,
    actor: *const c_char,
    limit: u32,
    records: *mut *mut vmailsql_audit_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(records, "records", || {
                let vmail = handle_arg(handle)?;
                let filter = AuditFilter {
                    domain: opt_str_arg(domain, "domain")?.map(str::to_string),
                    since: (since >= 0).then_some(since),
                    until: (until >= 0).then_some(until),
                    action: opt_str_arg(action, "action")?.map(str::to_string),
                    actor: opt_str_arg(actor, "actor")?.map(str::to_string),
                    limit: (limit > 0).then_some(limit),
                };
                list(&vmail.audit_log(&filter)?)
            })
        }
    }
}

/// Frees an audit list and its items. `vmailsql_audit_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from `vmailsql_audit_log()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_audit_list_free(list: *mut vmailsql_audit_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}
