//! Administration: schema, domains, popboxes, forwarders, domain aliases, control-panel
//! sessions.

use std::ffi::c_char;

use super::out::{c_list, free, into_raw, library_owned, list, one, Arena, FromRow};
use super::{
    ffi_panic_boundary, handle_arg, opt_str_arg, owned_string, produce, produce_opt, str_arg,
    str_args, vmailsql, vmailsql_result, Failure,
};
use crate::{Domain, DomainAlias, DomainChange, Forwarder, NewDomain, Popbox, SchemaKind};

// These two reach the header through cbindgen.toml's `after_includes`, parenthesised
// (`x -VMAILSQL_UNLIMITED` must not expand to `x --1`); cbindgen drops the parentheses.
/// `max_popbox` value meaning "no limit" (input and output).
/// cbindgen:ignore
pub const VMAILSQL_UNLIMITED: i64 = -1;
/// `max_popbox` value for `vmailsql_change_domain()` meaning "leave the limit as it is".
/// cbindgen:ignore
pub const VMAILSQL_KEEP: i64 = -2;

/// A row of `domain`.
///
/// Ownership: returned by the library, read-only, freed with `vmailsql_domain_free()` (or with
/// its list); strings are owned by the struct. A NULL string is an SQL NULL. ABI: fields are
/// only ever appended; never allocate, copy or embed this struct yourself.
#[repr(C)]
pub struct vmailsql_domain {
    /// The domain name, lower-case.
    pub name: *const c_char,
    /// The Unix user (name or uid) owning the domain's mailboxes, or NULL.
    pub unix_user: *const c_char,
    /// The domain administrator's password hash exactly as stored, or NULL.
    pub password_hash: *const c_char,
    /// The base path of the domain's mailboxes, or NULL.
    pub path: *const c_char,
    /// Most popboxes allowed, or `VMAILSQL_UNLIMITED` when `has_max_popbox` is false.
    pub max_popbox: i64,
    /// Whether the domain has a popbox limit.
    pub has_max_popbox: bool,
}

/// A row of `popbox`. Ownership and ABI as `vmailsql_domain`; freed with
/// `vmailsql_popbox_free()` or with its list.
#[repr(C)]
pub struct vmailsql_popbox {
    /// The domain, lower-case.
    pub domain: *const c_char,
    /// The local part (POP3 user name), lower-case.
    pub local_part: *const c_char,
    /// The password hash exactly as stored, or NULL.
    pub password_hash: *const c_char,
    /// The mbox file relative to the domain path, or NULL.
    pub mbox_name: *const c_char,
}

/// A row of `forwarder`. Ownership and ABI as `vmailsql_domain`; freed with
/// `vmailsql_forwarder_free()` or with its list.
#[repr(C)]
pub struct vmailsql_forwarder {
    /// The domain, lower-case.
    pub domain: *const c_char,
    /// The local part forwarded, or "_default_" for the catch-all.
    pub local_part: *const c_char,
    /// Where mail goes: a comma-separated address list.
    pub remote_name: *const c_char,
}

/// A row of `domain_alias`. Ownership and ABI as `vmailsql_domain`; freed with its list.
#[repr(C)]
pub struct vmailsql_alias {
    /// The alias domain name.
    pub alias: *const c_char,
    /// The real domain it stands for.
    pub domain: *const c_char,
}

/// A list of domains: `items[0]` to `items[count - 1]`; `items` is NULL when `count` is 0.
/// Ownership: read-only, freed with `vmailsql_domain_list_free()`, which frees the items too.
/// Threads: may be read from any thread.
#[repr(C)]
pub struct vmailsql_domain_list {
    /// Number of items.
    pub count: usize,
    /// The items.
    pub items: *const vmailsql_domain,
}

/// A list of popboxes; as `vmailsql_domain_list`, freed with `vmailsql_popbox_list_free()`.
#[repr(C)]
pub struct vmailsql_popbox_list {
    /// Number of items.
    pub count: usize,
    /// The items.
    pub items: *const vmailsql_popbox,
}

/// A list of forwarders; as `vmailsql_domain_list`, freed with
/// `vmailsql_forwarder_list_free()`.
#[repr(C)]
pub struct vmailsql_forwarder_list {
    /// Number of items.
    pub count: usize,
    /// The items.
    pub items: *const vmailsql_forwarder,
}

/// A list of domain aliases; as `vmailsql_domain_list`, freed with
/// `vmailsql_alias_list_free()`.
#[repr(C)]
pub struct vmailsql_alias_list {
    /// Number of items.
    pub count: usize,
    /// The items.
    pub items: *const vmailsql_alias,
}

/// A list of strings: `items[0]` to `items[count - 1]`, then a NULL pointer. Ownership:
/// read-only, freed with `vmailsql_string_list_free()`.
#[repr(C)]
pub struct vmailsql_string_list {
    /// Number of strings.
    pub count: usize,
    /// The strings, NULL-terminated.
    pub items: *const *const c_char,
}

library_owned!(
    vmailsql_domain => (),
    vmailsql_popbox => (),
    vmailsql_forwarder => (),
    vmailsql_alias => (),
    vmailsql_string_list => Vec<*const c_char>,
);
c_list!(
    vmailsql_domain_list of vmailsql_domain,
    vmailsql_popbox_list of vmailsql_popbox,
    vmailsql_forwarder_list of vmailsql_forwarder,
    vmailsql_alias_list of vmailsql_alias,
);

impl FromRow<Domain> for vmailsql_domain {
    fn from_row(arena: &mut Arena, d: &Domain) -> Result<Self, Failure> {
        Ok(vmailsql_domain {
            name: arena.str(&d.name)?,
            unix_user: arena.opt(d.unix_user.as_deref())?,
            password_hash: arena.opt(d.password_hash.as_deref())?,
            path: arena.opt(d.path.as_deref())?,
            max_popbox: d.max_popbox.unwrap_or(VMAILSQL_UNLIMITED),
            has_max_popbox: d.max_popbox.is_some(),
        })
    }
}

impl FromRow<Popbox> for vmailsql_popbox {
    fn from_row(arena: &mut Arena, p: &Popbox) -> Result<Self, Failure> {
        Ok(vmailsql_popbox {
            domain: arena.str(&p.domain)?,
            local_part: arena.str(&p.local_part)?,
            password_hash: arena.opt(p.password_hash.as_deref())?,
            mbox_name: arena.opt(p.mbox_name.as_deref())?,
        })
    }
}

impl FromRow<Forwarder> for vmailsql_forwarder {
    fn from_row(arena: &mut Arena, f: &Forwarder) -> Result<Self, Failure> {
        Ok(vmailsql_forwarder {
            domain: arena.str(&f.domain)?,
            local_part: arena.str(&f.local_part)?,
            remote_name: arena.str(&f.remote_name)?,
        })
    }
}

impl FromRow<DomainAlias> for vmailsql_alias {
    fn from_row(arena: &mut Arena, a: &DomainAlias) -> Result<Self, Failure> {
        Ok(vmailsql_alias {
            alias: arena.str(&a.alias)?,
            domain: arena.str(&a.domain)?,
        })
    }
}

/// A `max_popbox` argument: `VMAILSQL_UNLIMITED` or a limit from 0 up.
fn limit_arg(max_popbox: i64) -> Result<Option<i64>, Failure> {
    match max_popbox {
        VMAILSQL_UNLIMITED => Ok(None),
        n if n >= 0 => Ok(Some(n)),
        n => Err(Failure::new(
            vmailsql_result::VMAILSQL_INVALID_INPUT,
            format!("max_popbox {n} is neither a limit nor VMAILSQL_UNLIMITED"),
        )),
    }
}

// ---- schema ----

/// Creates the recommended schema (the seed's tables and columns with full-length keys and
/// lookup indexes). Returns `VMAILSQL_CONFLICT` when the database already holds vmail tables,
/// `VMAILSQL_TEMPORARY` when it cannot be reached.
///
/// # Safety
/// `handle` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_create_schema(handle: *const vmailsql) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe { handle_arg(handle)? }.create_schema()?;
        Ok(())
    }
}

/// Creates the seed's legacy schema exactly (MySQL/MariaDB only, with its 16/32-character
/// prefix keys), for tests and sites that must keep it. Returns `VMAILSQL_INVALID_INPUT` on
/// SQLite; otherwise as `vmailsql_create_schema()`.
///
/// # Safety
/// `handle` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_create_schema_legacy(handle: *const vmailsql) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe { handle_arg(handle)? }.create_schema_of(SchemaKind::Legacy)?;
        Ok(())
    }
}

/// The names of the vmail tables present in the database. On success `*tables` receives a list
/// to free with `vmailsql_string_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `tables` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_tables(
    handle: *const vmailsql,
    tables: *mut *mut vmailsql_string_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(tables, "tables", || {
                let names = handle_arg(handle)?.tables()?;
                let mut arena = Arena::default();
                let array = arena.array(names.iter().map(String::as_str))?;
                let public = vmailsql_string_list { count: names.len(), items: array.as_ptr() };
                Ok(into_raw(public, arena, array))
            })
        }
    }
}

/// Frees a string list. `vmailsql_string_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from this library and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_string_list_free(list: *mut vmailsql_string_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}

// ---- domains ----

/// Adds a domain. `path` is the absolute base path of its mailboxes, `unix_user` the user (name
/// or uid, never root) owning them, `password` the administrator's password (hashed with the
/// policy scheme) or NULL for none, `max_popbox` a limit or `VMAILSQL_UNLIMITED`.
///
/// Returns `VMAILSQL_INVALID_INPUT` for a bad name, path, user or limit, `VMAILSQL_CONFLICT`
/// when the name is already a domain or a domain alias.
///
/// # Safety
/// `handle` is a live handle; `name`, `path`, `unix_user` NUL-terminated strings; `password`
/// NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_add_domain(
    handle: *const vmailsql,
    name: *const c_char,
    path: *const c_char,
    unix_user: *const c_char,
    password: *const c_char,
    max_popbox: i64,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, name, path, unix_user, password) = unsafe {
            (
                handle_arg(handle)?,
                str_arg(name, "name")?,
                str_arg(path, "path")?,
                str_arg(unix_user, "unix_user")?,
                opt_str_arg(password, "password")?,
            )
        };
        let mut new = NewDomain::new(name, path, unix_user);
        new.password = password.map(str::to_string);
        new.max_popbox = limit_arg(max_popbox)?;
        Ok(vmail.add_domain(&new)?)
    }
}

/// One domain. Returns `VMAILSQL_NOT_FOUND` when it does not exist. On success `*domain`
/// receives the row, to free with `vmailsql_domain_free()`.
///
/// # Safety
/// `handle` is a live handle; `name` a NUL-terminated string; `domain` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_get_domain(
    handle: *const vmailsql,
    name: *const c_char,
    domain: *mut *mut vmailsql_domain,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(domain, "domain", || {
                let (vmail, name) = (handle_arg(handle)?, str_arg(name, "name")?);
                one(&vmail.domain(name)?)
            })
        }
    }
}

/// Frees a domain row. `vmailsql_domain_free(NULL)` does nothing.
///
/// # Safety
/// `domain` is NULL or came from `vmailsql_get_domain()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_domain_free(domain: *mut vmailsql_domain) {
    // SAFETY: per this function's contract.
    unsafe { free(domain) }
}

/// All domains, by name. On success `*domains` receives a list to free with
/// `vmailsql_domain_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `domains` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_list_domains(
    handle: *const vmailsql,
    domains: *mut *mut vmailsql_domain_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(domains, "domains", || {
                let rows = handle_arg(handle)?.domains()?;
                list(&rows)
            })
        }
    }
}

/// Frees a domain list and its items. `vmailsql_domain_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from `vmailsql_list_domains()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_domain_list_free(list: *mut vmailsql_domain_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}

/// Changes a domain's path, owner or popbox limit: a NULL `path` or `unix_user` keeps the
/// current value; `max_popbox` is a new limit, `VMAILSQL_UNLIMITED` to remove the limit or
/// `VMAILSQL_KEEP` to leave it. Returns `VMAILSQL_NOT_FOUND` or `VMAILSQL_INVALID_INPUT`.
///
/// # Safety
/// `handle` is a live handle; `name` a NUL-terminated string; `path` and `unix_user` NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_change_domain(
    handle: *const vmailsql,
    name: *const c_char,
    path: *const c_char,
    unix_user: *const c_char,
    max_popbox: i64,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, name, path, unix_user) = unsafe {
            (
                handle_arg(handle)?,
                str_arg(name, "name")?,
                opt_str_arg(path, "path")?,
                opt_str_arg(unix_user, "unix_user")?,
            )
        };
        let change = DomainChange {
            path: path.map(str::to_string),
            unix_user: unix_user.map(str::to_string),
            max_popbox: if max_popbox == VMAILSQL_KEEP { None } else { Some(limit_arg(max_popbox)?) },
        };
        Ok(vmail.change_domain(name, &change)?)
    }
}

/// Sets the domain administrator's password (hashed with the policy scheme) and ends the
/// domain's control-panel session. Returns `VMAILSQL_NOT_FOUND` for an unknown domain.
///
/// # Safety
/// `handle` is a live handle; `name` and `password` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_set_domain_password(
    handle: *const vmailsql,
    name: *const c_char,
    password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [name, password] = unsafe { str_args([(name, "name"), (password, "password")]) }?;
        Ok(vmail.set_domain_password(name, password)?)
    }
}

/// Deletes a domain with all its popboxes, forwarders, aliases and session, atomically
/// (mailbox files stay on disk). Returns `VMAILSQL_NOT_FOUND` for an unknown domain.
///
/// # Safety
/// `handle` is a live handle; `name` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_delete_domain(
    handle: *const vmailsql,
    name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, name) = unsafe { (handle_arg(handle)?, str_arg(name, "name")?) };
        Ok(vmail.delete_domain(name)?)
    }
}

// ---- popboxes ----

/// Adds a popbox with a password hashed in the policy scheme; `mbox_name` NULL means the local
/// part. Respects the domain's `max_popbox`, also under concurrent additions.
///
/// Returns `VMAILSQL_NOT_FOUND` for a missing domain, `VMAILSQL_LIMIT_EXCEEDED` at the limit,
/// `VMAILSQL_CONFLICT` when the popbox or its mbox exists, `VMAILSQL_INVALID_INPUT` for bad
/// names or an unusable password.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part`, `password` NUL-terminated strings;
/// `mbox_name` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_add_popbox(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    password: *const c_char,
    mbox_name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, domain, local, password, mbox) = unsafe {
            (
                handle_arg(handle)?,
                str_arg(domain, "domain")?,
                str_arg(local_part, "local_part")?,
                str_arg(password, "password")?,
                opt_str_arg(mbox_name, "mbox_name")?,
            )
        };
        Ok(vmail.add_popbox(domain, local, password, mbox)?)
    }
}

/// Adds a popbox whose password hash is already made, kept exactly as given (imports);
/// `password_hash` NULL stores an SQL NULL (nobody can log in). Otherwise as
/// `vmailsql_add_popbox()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part` NUL-terminated strings; `password_hash`
/// and `mbox_name` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_add_popbox_record(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    password_hash: *const c_char,
    mbox_name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, domain, local, hash, mbox) = unsafe {
            (
                handle_arg(handle)?,
                str_arg(domain, "domain")?,
                str_arg(local_part, "local_part")?,
                opt_str_arg(password_hash, "password_hash")?,
                opt_str_arg(mbox_name, "mbox_name")?,
            )
        };
        vmail.add_popbox_record(&Popbox {
            domain: domain.to_string(),
            local_part: local.to_string(),
            password_hash: hash.map(str::to_string),
            mbox_name: mbox.map(str::to_string),
        })?;
        Ok(())
    }
}

/// One popbox. Returns `VMAILSQL_NOT_FOUND` when it does not exist. On success `*popbox`
/// receives the row, to free with `vmailsql_popbox_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part` NUL-terminated strings; `popbox` valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_get_popbox(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    popbox: *mut *mut vmailsql_popbox,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(popbox, "popbox", || {
                let (vmail, domain, local) = (handle_arg(handle)?, str_arg(domain, "domain")?, str_arg(local_part, "local_part")?);
                one(&vmail.popbox(domain, local)?)
            })
        }
    }
}

/// Frees a popbox row. `vmailsql_popbox_free(NULL)` does nothing.
///
/// # Safety
/// `popbox` is NULL or came from `vmailsql_get_popbox()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_popbox_free(popbox: *mut vmailsql_popbox) {
    // SAFETY: per this function's contract.
    unsafe { free(popbox) }
}

/// The popboxes of one domain (`domain` not NULL) or of all domains. On success `*popboxes`
/// receives a list to free with `vmailsql_popbox_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain` NULL or a NUL-terminated string; `popboxes` valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_list_popboxes(
    handle: *const vmailsql,
    domain: *const c_char,
    popboxes: *mut *mut vmailsql_popbox_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(popboxes, "popboxes", || {
                let (vmail, domain) = (handle_arg(handle)?, opt_str_arg(domain, "domain")?);
                let rows = vmail.popboxes(domain)?;
                list(&rows)
            })
        }
    }
}

/// Frees a popbox list and its items. `vmailsql_popbox_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from `vmailsql_list_popboxes()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_popbox_list_free(list: *mut vmailsql_popbox_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}

/// Sets a popbox's password (hashed with the policy scheme), as an administrator. Returns
/// `VMAILSQL_NOT_FOUND` when the popbox does not exist.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part`, `password` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_set_popbox_password(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, local, password] = unsafe { str_args([(domain, "domain"), (local_part, "local_part"), (password, "password")]) }?;
        Ok(vmail.set_popbox_password(domain, local, password)?)
    }
}

/// A mailbox user changes their own password: `old_password` must verify first. Returns
/// `VMAILSQL_AUTH_FAILED` for an unknown popbox or a wrong old password alike,
/// `VMAILSQL_CONFLICT` when the password was changed meanwhile.
///
/// # Safety
/// `handle` is a live handle; `address`, `old_password`, `new_password` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_change_popbox_password(
    handle: *const vmailsql,
    address: *const c_char,
    old_password: *const c_char,
    new_password: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [address, old, new] = unsafe { str_args([(address, "address"), (old_password, "old_password"), (new_password, "new_password")]) }?;
        Ok(vmail.change_popbox_password(address, old, new)?)
    }
}

/// Deletes a popbox (its mbox file stays on disk). Returns `VMAILSQL_NOT_FOUND` when it does
/// not exist.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_delete_popbox(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, local] = unsafe { str_args([(domain, "domain"), (local_part, "local_part")]) }?;
        Ok(vmail.delete_popbox(domain, local)?)
    }
}

// ---- forwarders ----

/// Adds a forwarder; `local_part` "_default_" is the catch-all. `remote_name` is a
/// comma-separated address list (never a file or a pipe).
///
/// Returns `VMAILSQL_NOT_FOUND` for a missing domain, `VMAILSQL_CONFLICT` when it exists,
/// `VMAILSQL_INVALID_INPUT` for a bad local part or target, or a target that loops back.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part`, `remote_name` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_add_forwarder(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    remote_name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, local, remote] = unsafe { str_args([(domain, "domain"), (local_part, "local_part"), (remote_name, "remote_name")]) }?;
        Ok(vmail.add_forwarder(domain, local, remote)?)
    }
}

/// Changes where a forwarder sends mail. Returns `VMAILSQL_NOT_FOUND` when it does not exist;
/// otherwise as `vmailsql_add_forwarder()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part`, `remote_name` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_change_forwarder(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    remote_name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, local, remote] = unsafe { str_args([(domain, "domain"), (local_part, "local_part"), (remote_name, "remote_name")]) }?;
        Ok(vmail.change_forwarder(domain, local, remote)?)
    }
}

/// Sets (adds or changes) the domain's catch-all. As `vmailsql_add_forwarder()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `remote_name` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_set_catch_all(
    handle: *const vmailsql,
    domain: *const c_char,
    remote_name: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, remote] = unsafe { str_args([(domain, "domain"), (remote_name, "remote_name")]) }?;
        Ok(vmail.set_catch_all(domain, remote)?)
    }
}

/// One forwarder. Returns `VMAILSQL_NOT_FOUND` when it does not exist. On success `*forwarder`
/// receives the row, to free with `vmailsql_forwarder_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part` NUL-terminated strings; `forwarder` valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_get_forwarder(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
    forwarder: *mut *mut vmailsql_forwarder,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(forwarder, "forwarder", || {
                let (vmail, domain, local) = (handle_arg(handle)?, str_arg(domain, "domain")?, str_arg(local_part, "local_part")?);
                one(&vmail.forwarder(domain, local)?)
            })
        }
    }
}

/// Frees a forwarder row. `vmailsql_forwarder_free(NULL)` does nothing.
///
/// # Safety
/// `forwarder` is NULL or came from `vmailsql_get_forwarder()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_forwarder_free(forwarder: *mut vmailsql_forwarder) {
    // SAFETY: per this function's contract.
    unsafe { free(forwarder) }
}

/// The forwarders of one domain (`domain` not NULL) or of all domains. On success
/// `*forwarders` receives a list to free with `vmailsql_forwarder_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain` NULL or a NUL-terminated string; `forwarders` valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_list_forwarders(
    handle: *const vmailsql,
    domain: *const c_char,
    forwarders: *mut *mut vmailsql_forwarder_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(forwarders, "forwarders", || {
                let (vmail, domain) = (handle_arg(handle)?, opt_str_arg(domain, "domain")?);
                let rows = vmail.forwarders(domain)?;
                list(&rows)
            })
        }
    }
}

/// Frees a forwarder list and its items. `vmailsql_forwarder_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from `vmailsql_list_forwarders()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_forwarder_list_free(list: *mut vmailsql_forwarder_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}

/// Deletes a forwarder (the catch-all is "_default_"). Returns `VMAILSQL_NOT_FOUND` when it
/// does not exist.
///
/// # Safety
/// `handle` is a live handle; `domain`, `local_part` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_delete_forwarder(
    handle: *const vmailsql,
    domain: *const c_char,
    local_part: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, local] = unsafe { str_args([(domain, "domain"), (local_part, "local_part")]) }?;
        Ok(vmail.delete_forwarder(domain, local)?)
    }
}

// ---- domain aliases ----

/// Makes `alias` a second name for `domain`. Returns `VMAILSQL_NOT_FOUND` when `domain` does
/// not exist, `VMAILSQL_CONFLICT` when `alias` is already a domain or an alias,
/// `VMAILSQL_INVALID_INPUT` for bad names or an alias of itself.
///
/// # Safety
/// `handle` is a live handle; `alias`, `domain` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_add_alias(
    handle: *const vmailsql,
    alias: *const c_char,
    domain: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [alias, domain] = unsafe { str_args([(alias, "alias"), (domain, "domain")]) }?;
        Ok(vmail.add_alias(alias, domain)?)
    }
}

/// The aliases of one domain (`domain` not NULL) or all aliases. On success `*aliases`
/// receives a list to free with `vmailsql_alias_list_free()`.
///
/// # Safety
/// `handle` is a live handle; `domain` NULL or a NUL-terminated string; `aliases` valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_list_aliases(
    handle: *const vmailsql,
    domain: *const c_char,
    aliases: *mut *mut vmailsql_alias_list,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(aliases, "aliases", || {
                let (vmail, domain) = (handle_arg(handle)?, opt_str_arg(domain, "domain")?);
                let rows = vmail.aliases(domain)?;
                list(&rows)
            })
        }
    }
}

/// Frees an alias list and its items. `vmailsql_alias_list_free(NULL)` does nothing.
///
/// # Safety
/// `list` is NULL or came from `vmailsql_list_aliases()` and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_alias_list_free(list: *mut vmailsql_alias_list) {
    // SAFETY: per this function's contract.
    unsafe { free(list) }
}

/// Removes a domain alias. Returns `VMAILSQL_NOT_FOUND` when it does not exist.
///
/// # Safety
/// `handle` is a live handle; `alias` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_delete_alias(
    handle: *const vmailsql,
    alias: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, alias) = unsafe { (handle_arg(handle)?, str_arg(alias, "alias")?) };
        Ok(vmail.delete_alias(alias)?)
    }
}

// ---- control-panel sessions ----

/// Starts a control-panel session for a domain (replacing any previous one). Returns
/// `VMAILSQL_NOT_FOUND` for an unknown domain. On success `*token` receives the session token
/// (64 hex digits, for the cookie), to free with `vmailsql_string_free()`; the database keeps
/// only a hash of it.
///
/// # Safety
/// `handle` is a live handle; `domain` a NUL-terminated string; `token` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_create_session(
    handle: *const vmailsql,
    domain: *const c_char,
    token: *mut *mut c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        unsafe {
            produce(token, "token", || {
                let (vmail, domain) = (handle_arg(handle)?, str_arg(domain, "domain")?);
                owned_string(vmail.create_session(domain)?)
            })
        }
    }
}

/// Checks a session token and extends the session's life. Returns `VMAILSQL_AUTH_FAILED` for
/// an unknown, wrong or expired session.
///
/// # Safety
/// `handle` is a live handle; `domain`, `token` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_validate_session(
    handle: *const vmailsql,
    domain: *const c_char,
    token: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let vmail = unsafe { handle_arg(handle) }?;
        let [domain, token] = unsafe { str_args([(domain, "domain"), (token, "token")]) }?;
        Ok(vmail.validate_session(domain, token)?)
    }
}

/// Ends a domain's control-panel session (sign-out); no session is not an error.
///
/// # Safety
/// `handle` is a live handle; `domain` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_destroy_session(
    handle: *const vmailsql,
    domain: *const c_char,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let (vmail, domain) = unsafe { (handle_arg(handle)?, str_arg(domain, "domain")?) };
        Ok(vmail.destroy_session(domain)?)
    }
}

/// Deletes every expired session. On success, if `count` is not NULL, `*count` receives how
/// many were deleted.
///
/// # Safety
/// `handle` is a live handle; `count` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_expire_sessions(
    handle: *const vmailsql,
    count: *mut u64,
) -> vmailsql_result {
    ffi_panic_boundary! {
        // SAFETY: per this function's contract.
        let deleted = unsafe { handle_arg(handle)? }.expire_sessions()?;
        // SAFETY: NULL (skipped) or writable by contract.
        unsafe { produce_opt(count, || Ok(deleted)) }
    }
}
