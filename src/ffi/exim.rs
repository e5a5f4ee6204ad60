//! Exim `${dlfunc}` entry points: routing and delivery straight from libvmailsql.
//!
//! Exim calls `int fn(uschar **yield, int argc, uschar *argv[])` with the expanded `{arg}`
//! values and reads the return code as `OK=0, DEFER=1, FAIL=2, ERROR=3, FAIL_FORCED=4`
//! (`local_scan.h`). The functions here:
//!
//! | function | arguments | `OK` yields |
//! |---|---|---|
//! | `vmailsql_exim_resolve` | `{local_part}{domain}[{config}]` | `rule="popbox" address="…" route="popbox …" local_part="…" domain="…" path="…" domain_path="…" user="…" targets="…"` |
//! | `vmailsql_exim_local_domain` | `{domain}[{config}[{local_part}]]` | the real domain (an alias's target) |
//! | `vmailsql_exim_match_domain` | `{domain}[{config}[{local_part}]]` | the domain itself (ASCII lower-case, as in `$domain`): an item for a `domainlist` |
//!
//! The resolution is the seed's three routers in one database round trip. Every value is in
//! double quotes (`\"` and `\\` escaped) so `${extract{path}{$address_data}}` reads it back
//! exactly; keys that do not apply are present and empty. `rule` is `forwarder`, `popbox` or
//! `catch-all`; `address` is the looked-up `local_part@domain` (lower-cased as Exim does, the
//! domain as asked, so an alias stays the alias): routers compare it with `$local_part@$domain`
//! so that an `$address_data` inherited from a parent address is never mistaken for this
//! address's own; `route` is `rule` and `address` in one value (`popbox alice@example.org`), so
//! that each router needs one condition; `targets` is the forwarder's address list, `a@b, c@d`.
//!
//! Return codes:
//! - `OK`: found. The yield is in library memory, so Exim treats it as untainted: every
//!   path-forming value (`path`, `domain_path`, `user`) has been checked by the core library
//!   (`path` stays inside `domain.path`, no `..`, no control characters; `user` is never root or
//!   uid 0). Nothing in it is copied from the (tainted) arguments unchecked.
//! - `FAIL_FORCED`: no such address or domain (the router declines, a domain list does not
//!   match), and also for an address that cannot exist: a local part longer than 64 octets or
//!   with control characters, a malformed domain, bytes that are not UTF-8. The yield explains.
//! - `FAIL`: the database is down, slow or busy. In a router Exim defers the address (the
//!   message stays queued); in an ACL it is a temporary error (`451`). The exception is
//!   `vmailsql_exim_match_domain`, made for domain lists, where Exim would also write a
//!   panic-log line: it yields `OK` with a list item that defers ([`DEFER_ITEM`]).
//! - `ERROR`: a problem an administrator must fix, which Exim also writes to the panic log and
//!   treats as a temporary failure: wrong argument count, unreadable or invalid configuration
//!   file, stored data that would be unsafe to deliver to (an mbox path escaping the domain, a
//!   root `unix_user`), a forwarder target with control characters, an internal error.
//!
//! On a failure the yield is a message that stays valid for the life of the process (Exim keeps
//! the pointer); on `OK` it points to a per-thread buffer that Exim copies at once.
//!
//! **Where the configuration comes from**: the optional last argument (an absolute path; an
//! empty argument counts as absent), else `$VMAILSQL_CONFIG`, else `/etc/vmailsql.conf`. Exim
//! clears its environment at start-up (see its `keep_environment` option), so pass the path as
//! an argument. The file is read and the
//! handle made once per process and path; the database connection is opened on first use and
//! reopened in a forked child. A file holding a database password must be readable by the Exim
//! user and by nobody else (`root:Debian-exim 0640` on Debian).
//!
//! Answers to `vmailsql_exim_local_domain`, `vmailsql_exim_match_domain` and the domain part of
//! `vmailsql_exim_resolve` are kept by the handle for `domain_cache_max_age` (60 seconds unless
//! configured; `0` turns it off), and never beyond the Exim process: a domain list is tested
//! several times while one address is routed, and the resolution that follows the domain check
//! then reads only the forwarder and the popbox. Given `{$local_part}` as well, a domain check
//! that must ask the database reads the address's route in the same statement, and the
//! `vmailsql_exim_resolve` of that address that follows uses it, once, within the same bound:
//! routing an address costs one query whether or not its domain was seen before. Nothing
//! else of a popbox or a forwarder is kept.
//!
//! Nothing here writes to stdout or stderr (under `exim -bs` stdout is the SMTP dialogue), and no
//! panic crosses into Exim: each entry catches it and reports `ERROR`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_uchar, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use crate::address::{normalize_domain, normalize_lookup_local_part};
use crate::config::{DEFAULT_PATH, ENV_VAR};
use crate::{Config, Error, ErrorKind, Resolution, Vmail};

/// Exim's `OK`.
const OK: c_int = 0;
/// Exim's `FAIL`: an ordinary failure; a router defers the address.
const FAIL: c_int = 2;
/// Exim's `ERROR`: as `FAIL`, plus a panic-log line.
const ERROR: c_int = 3;
/// Exim's `FAIL_FORCED`: a forced failure; a router declines.
const FAIL_FORCED: c_int = 4;

/// What `vmailsql_exim_match_domain` yields while the database is unavailable: a domain-list
/// item that Exim evaluates as a lookup that defers. A list whose *expansion* fails is a
/// panic-log event in Exim ("failed to expand ... while checking a list"), one line per message
/// and queue run for a whole outage; a list *item* that defers is not: the router defers the
/// address and RCPT gets a 451, with main-log lines only, as with the native MySQL lookups.
/// `dnsdb` is built into every Exim that can load a dlfunc, and a record type it does not know
/// makes it defer before any DNS query is sent.
const DEFER_ITEM: &str = "dnsdb;vmailsql-database-unavailable=";

/// How long domain answers are reused within one Exim process, unless configured.
const DOMAIN_CACHE_MAX_AGE: Duration = Duration::from_secs(60);
/// Bytes of failure messages kept for Exim before falling back to one fixed message.
const MESSAGE_BUDGET: usize = 1 << 20;

/// What an entry point decided.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// `OK` with this yield.
    Value(String),
    /// `FAIL_FORCED`: not found, or an address that cannot exist.
    Declined(String),
    /// `FAIL`: try again later.
    Temporary(String),
    /// `ERROR`: configuration or data problem for the administrator.
    Broken(String),
}

impl Outcome {
    fn from_error(context: &str, e: &Error) -> Outcome {
        let message = format!("vmailsql: {context}: {e}");
        match e.kind() {
            ErrorKind::NotFound => Outcome::Declined(message),
            ErrorKind::Temporary => Outcome::Temporary(message),
            _ => Outcome::Broken(message),
        }
    }
}

/// One configuration file's handle.
struct Handle {
    vmail: Vmail,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Handles by configuration path, made once per process and never freed (Exim never unloads a
/// dlfunc library either).
static HANDLES: Mutex<Vec<(PathBuf, &'static Handle)>> = Mutex::new(Vec::new());

/// The configuration path: the argument, else `$VMAILSQL_CONFIG`, else the default.
fn config_path(arg: Option<&str>) -> PathBuf {
    match arg.filter(|a| !a.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => std::env::var_os(ENV_VAR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from),
    }
}

/// A handle on the configuration at `path`; unless the file says otherwise, domain rows are kept
/// for [`DOMAIN_CACHE_MAX_AGE`] (this process only: Exim's own lookup caches last as long).
fn open(path: &Path) -> Result<Vmail, Error> {
    let mut config = Config::load(Some(path))?;
    config
        .domain_cache_max_age
        .get_or_insert(DOMAIN_CACHE_MAX_AGE);
    Vmail::open(config)
}

fn handle(config: Option<&str>) -> Result<&'static Handle, Outcome> {
    let path = config_path(config);
    let mut handles = lock(&HANDLES);
    if let Some((_, h)) = handles.iter().find(|(p, _)| *p == path) {
        return Ok(h);
    }
    let vmail = open(&path).map_err(|e| {
        Outcome::Broken(format!(
            "vmailsql: cannot use configuration {}: {e}",
            path.display()
        ))
    })?;
    let h: &'static Handle = Box::leak(Box::new(Handle { vmail }));
    handles.push((path, h));
    Ok(h)
}

impl Handle {
    /// The real domain behind `domain` (normalised). The handle keeps the answer, and the
    /// domain row with it, for the resolutions that follow (the core's domain cache: at most
    /// `domain_cache_max_age`, and never beyond this Exim process).
    /// With `local_part` (Exim's `$local_part`, empty outside routing and RCPT), a domain not yet
    /// known is read together with that address's route, for the `vmailsql_exim_resolve` that
    /// follows.
    fn local_domain(&self, domain: &str, local_part: &str) -> Result<Option<String>, Error> {
        let answer = if local_part.is_empty() {
            self.vmail.local_domain(domain)
        } else {
            self.vmail.local_domain_for(local_part, domain)
        };
        match answer {
            Ok(real) => Ok(Some(real)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The arguments as byte strings (`None` for a NULL pointer).
type Args<'a> = [Option<&'a [u8]>];

fn text<'a>(args: &Args<'a>, i: usize, what: &str) -> Result<&'a str, Outcome> {
    let bytes = args
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Outcome::Broken(format!("vmailsql: {what} argument is missing")))?;
    std::str::from_utf8(bytes)
        .map_err(|_| Outcome::Declined(format!("vmailsql: {what} is not valid UTF-8")))
}

fn check_argc(args: &Args<'_>, name: &str, required: usize, usage: &str) -> Result<(), Outcome> {
    if args.len() < required || args.len() > required + 1 {
        return Err(Outcome::Broken(format!(
            "vmailsql: {name} takes {usage}, got {} arguments",
            args.len()
        )));
    }
    Ok(())
}

/// The optional configuration argument at `i`.
fn config_arg<'a>(args: &Args<'a>, i: usize) -> Result<Option<&'a str>, Outcome> {
    match args.get(i).copied().flatten() {
        None => Ok(None),
        Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| {
            Outcome::Broken("vmailsql: configuration path is not valid UTF-8".to_string())
        }),
    }
}

/// The normalised domain for lookups, and the checked input lower-cased the way Exim does it
/// (ASCII only), to be compared with or matched against `$domain`.
fn checked_domain(raw: &str) -> Result<(String, String), Outcome> {
    let domain = normalize_domain(raw)
        .map_err(|e| Outcome::Declined(format!("vmailsql: not a valid domain: {e}")))?;
    Ok((domain, raw.to_ascii_lowercase()))
}

fn resolve(args: &Args<'_>) -> Outcome {
    let run = || -> Result<String, Outcome> {
        check_argc(
            args,
            "vmailsql_exim_resolve",
            2,
            "{local_part}{domain}[{config}]",
        )?;
        let local_part = text(args, 0, "local part")?;
        let domain = text(args, 1, "domain")?;
        let config = config_arg(args, 2)?;
        // Inputs are checked first: an address that cannot exist is declined here, and every
        // error from the library below other than NotFound and Temporary (unsafe stored data,
        // an internal error) is one for the administrator.
        let local_part = normalize_lookup_local_part(local_part)
            .map_err(|e| Outcome::Declined(format!("vmailsql: not a valid local part: {e}")))?;
        let (domain, as_exim_has_it) = checked_domain(domain)?;
        let handle = handle(config)?;
        let resolution = handle
            .vmail
            .resolve_parts(&local_part, &domain)
            .map_err(|e| Outcome::from_error(&format!("{local_part}@{domain}"), &e))?;
        format_resolution(&format!("{local_part}@{as_exim_has_it}"), &resolution)
    };
    run().map_or_else(|o| o, Outcome::Value)
}

fn domain_lookup(args: &Args<'_>, name: &str, real: bool) -> Outcome {
    let run = || -> Result<String, Outcome> {
        let usage = "{domain}[{config}[{local_part}]]";
        if args.len() == 3 {
            check_argc(&args[..2], name, 1, usage)?;
        } else {
            check_argc(args, name, 1, usage)?;
        }
        let (domain, as_exim_has_it) = checked_domain(text(args, 0, "domain")?)?;
        // A local part that is not UTF-8 cannot exist: only the domain is asked about.
        let local_part = args
            .get(2)
            .copied()
            .flatten()
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        let handle = handle(config_arg(args, 1)?)?;
        match handle.local_domain(&domain, local_part) {
            Ok(Some(target)) => Ok(if real { target } else { as_exim_has_it }),
            Ok(None) => Err(Outcome::Declined(format!(
                "vmailsql: {domain} is not a local domain"
            ))),
            Err(e) if !real && e.kind() == ErrorKind::Temporary => Ok(DEFER_ITEM.to_string()),
            Err(e) => Err(Outcome::from_error(&domain, &e)),
        }
    };
    run().map_or_else(|o| o, Outcome::Value)
}

/// `key="value"` with `"` and `\` escaped, as `${extract}` reads it.
fn push_pair(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(key);
    out.push_str("=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn format_resolution(address: &str, resolution: &Resolution) -> Result<String, Outcome> {
    let mut out = String::new();
    push_pair(&mut out, "rule", resolution.rule().as_str());
    push_pair(&mut out, "address", address);
    // One key per router condition: the rule and the address it answers for.
    push_pair(
        &mut out,
        "route",
        &format!("{} {address}", resolution.rule().as_str()),
    );
    match resolution {
        Resolution::Mailbox(m) => {
            push_pair(&mut out, "local_part", &m.local_part);
            push_pair(&mut out, "domain", &m.domain);
            push_pair(&mut out, "path", &m.path);
            push_pair(&mut out, "domain_path", &m.domain_path);
            push_pair(&mut out, "user", &m.unix_user);
            push_pair(&mut out, "targets", "");
        }
        Resolution::Forward {
            domain,
            local_part,
            targets,
            ..
        } => {
            // Targets go to a redirect router as an address list. The core only checks them when
            // they are stored; a legacy tool may have stored anything.
            if targets.iter().any(|t| t.chars().any(char::is_control)) {
                return Err(Outcome::Broken(format!(
                    "vmailsql: the forwarder for {address} has a target with control characters"
                )));
            }
            push_pair(&mut out, "local_part", local_part);
            push_pair(&mut out, "domain", domain);
            push_pair(&mut out, "path", "");
            push_pair(&mut out, "domain_path", "");
            push_pair(&mut out, "user", "");
            push_pair(&mut out, "targets", &targets.join(", "));
        }
    }
    Ok(out)
}

// ---- the C boundary ----

thread_local! {
    /// The `OK` yield: Exim copies it before the next call.
    static YIELD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Set while an entry point runs, so that its panics stay silent.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Failure messages, kept for the life of the process because Exim keeps the pointer: each
/// distinct text once, up to [`MESSAGE_BUDGET`] bytes in all.
struct Messages {
    kept: Option<HashMap<String, &'static CStr>>,
    bytes: usize,
}

static MESSAGES: Mutex<Messages> = Mutex::new(Messages {
    kept: None,
    bytes: 0,
});
const FALLBACK_MESSAGE: &CStr = c"vmailsql: failed (too many distinct error messages to keep)";

fn stable_message(message: &str) -> *mut c_uchar {
    let mut messages = lock(&MESSAGES);
    let Messages { kept, bytes } = &mut *messages;
    let kept = kept.get_or_insert_with(HashMap::new);
    if let Some(m) = kept.get(message) {
        return m.as_ptr().cast_mut().cast();
    }
    if *bytes + message.len() > MESSAGE_BUDGET {
        return FALLBACK_MESSAGE.as_ptr().cast_mut().cast();
    }
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let leaked: &'static CStr = Box::leak(c.into_boxed_c_str());
    *bytes += message.len();
    kept.insert(message.to_string(), leaked);
    leaked.as_ptr().cast_mut().cast()
}

fn install_quiet_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Runs `body` on the arguments and hands its outcome to Exim.
///
/// # Safety
/// `yield_` must be NULL or writable; `argv` must be NULL or hold `argc` pointers, each NULL or
/// a NUL-terminated string, as Exim passes them.
unsafe fn entry(
    yield_: *mut *mut c_uchar,
    argc: c_int,
    argv: *mut *mut c_uchar,
    body: fn(&Args<'_>) -> Outcome,
) -> c_int {
    install_quiet_panic_hook();
    INSIDE.with(|i| i.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let count = usize::try_from(argc).unwrap_or(0);
        let args: Vec<Option<&[u8]>> = if argv.is_null() {
            Vec::new()
        } else {
            (0..count)
                .map(|i| {
                    // SAFETY: the caller guarantees `argc` readable entries in `argv`.
                    let p = unsafe { *argv.add(i) };
                    // SAFETY: each non-NULL entry is a NUL-terminated string.
                    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p.cast()) }.to_bytes())
                })
                .collect()
        };
        let outcome = body(&args);
        let (code, message) = match outcome {
            Outcome::Value(value) => {
                let ptr = YIELD.with(|y| {
                    let mut y = y.borrow_mut();
                    y.clear();
                    y.extend(value.bytes().filter(|&b| b != 0));
                    y.push(0);
                    y.as_mut_ptr()
                });
                return (OK, ptr);
            }
            Outcome::Declined(m) => (FAIL_FORCED, m),
            Outcome::Temporary(m) => (FAIL, m),
            Outcome::Broken(m) => (ERROR, m),
        };
        (code, stable_message(&message))
    }));
    let (code, ptr) = result.unwrap_or_else(|payload| {
        let message = format!("vmailsql: internal error: {}", panic_text(&*payload));
        let ptr = catch_unwind(|| stable_message(&message))
            .unwrap_or_else(|_| FALLBACK_MESSAGE.as_ptr().cast_mut().cast());
        (ERROR, ptr)
    });
    INSIDE.with(|i| i.set(false));
    if !yield_.is_null() {
        // SAFETY: the caller guarantees a writable `yield_`.
        unsafe { *yield_ = ptr };
    }
    code
}

/// `${dlfunc{libvmailsql.so}{vmailsql_exim_resolve}{$local_part}{$domain}{/etc/vmailsql.conf}}`:
/// everything the routers and the transport need, in one call (see the module documentation).
///
/// # Safety
/// Exim's dlfunc calling convention: `yield_` writable, `argv` holding `argc` strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_exim_resolve(
    yield_: *mut *mut c_uchar,
    argc: c_int,
    argv: *mut *mut c_uchar,
) -> c_int {
    // SAFETY: forwarded from Exim unchanged.
    unsafe { entry(yield_, argc, argv, resolve) }
}

/// `${dlfunc{libvmailsql.so}{vmailsql_exim_local_domain}{$domain}{/etc/vmailsql.conf}}`: the real
/// domain behind a local domain (itself, or an alias's target); forced failure when not local.
///
/// # Safety
/// Exim's dlfunc calling convention: `yield_` writable, `argv` holding `argc` strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_exim_local_domain(
    yield_: *mut *mut c_uchar,
    argc: c_int,
    argv: *mut *mut c_uchar,
) -> c_int {
    // SAFETY: forwarded from Exim unchanged.
    unsafe {
        entry(yield_, argc, argv, |args| {
            domain_lookup(args, "vmailsql_exim_local_domain", true)
        })
    }
}

/// `domainlist vmailsql_domains = ${dlfunc{libvmailsql.so}{vmailsql_exim_match_domain}{$domain}{…}}`:
/// the domain itself (lower-case) when it is local, so the list matches it; forced failure (the
/// list matches nothing) when not.
///
/// # Safety
/// Exim's dlfunc calling convention: `yield_` writable, `argv` holding `argc` strings.
#[no_mangle]
pub unsafe extern "C" fn vmailsql_exim_match_domain(
    yield_: *mut *mut c_uchar,
    argc: c_int,
    argv: *mut *mut c_uchar,
) -> c_int {
    // SAFETY: forwarded from Exim unchanged.
    unsafe {
        entry(yield_, argc, argv, |args| {
            domain_lookup(args, "vmailsql_exim_match_domain", false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewDomain;

    type DlFunc = unsafe extern "C" fn(*mut *mut c_uchar, c_int, *mut *mut c_uchar) -> c_int;

    /// Calls `f` the way Exim does and returns the code and the yield.
    fn call(f: DlFunc, args: &[&str]) -> (c_int, String) {
        let owned: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
        let mut argv: Vec<*mut c_uchar> =
            owned.iter().map(|a| a.as_ptr().cast_mut().cast()).collect();
        argv.push(std::ptr::null_mut());
        let mut out: *mut c_uchar = std::ptr::null_mut();
        let argc = c_int::try_from(args.len()).unwrap();
        // SAFETY: argv holds argc valid strings and a NULL, out is writable.
        let code = unsafe { f(&mut out, argc, argv.as_mut_ptr()) };
        assert!(!out.is_null(), "every outcome sets the yield");
        // SAFETY: the library yields a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(out.cast()) }
            .to_string_lossy()
            .into_owned();
        (code, text)
    }

    /// What Exim's `${extract{key}{…}}` returns (expand.c: keys case-insensitive, values
    /// optionally double-quoted with backslash escapes).
    fn extract(data: &str, key: &str) -> Option<String> {
        let mut s = data.trim_start().chars().peekable();
        loop {
            s.peek()?;
            let k: String =
                std::iter::from_fn(|| s.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
            while s.next_if(|c| c.is_whitespace()).is_some() {}
            if s.next_if_eq(&'=').is_some() {
                while s.next_if(|c| c.is_whitespace()).is_some() {}
            }
            let mut v = String::new();
            if s.next_if_eq(&'"').is_some() {
                while let Some(c) = s.next() {
                    match c {
                        '"' => break,
                        '\\' => v.extend(s.next()),
                        c => v.push(c),
                    }
                }
            } else {
                v.extend(std::iter::from_fn(|| s.next_if(|c| !c.is_whitespace())));
            }
            if k.eq_ignore_ascii_case(key) {
                return Some(v);
            }
            while s.next_if(|c| c.is_whitespace()).is_some() {}
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        config: String,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vmail.db");
        let config = dir.path().join("vmailsql.conf");
        std::fs::write(&config, format!("database = sqlite://{}\n", db.display())).unwrap();
        let v = Vmail::open_config(Some(&config)).unwrap();
        v.create_schema().unwrap();
        v.add_domain(&NewDomain::new(
            "example.org",
            "/var/mail/ex \"q\"",
            "vmail",
        ))
        .unwrap();
        v.add_popbox("example.org", "alice", "popbox-pw", None)
            .unwrap();
        v.add_popbox("example.org", "info", "popbox-pw", None)
            .unwrap();
        v.add_forwarder("example.org", "info", "alice@example.org, bob@else.example")
            .unwrap();
        v.add_alias("alias.example", "example.org").unwrap();
        v.add_domain(&NewDomain::new("catch.example", "/var/mail/c", "vmail"))
            .unwrap();
        v.set_catch_all("catch.example", "alice@example.org")
            .unwrap();
        Fixture {
            config: config.display().to_string(),
            _dir: dir,
        }
    }

    #[test]
    fn resolves_popbox_with_quoted_values() {
        let f = fixture();
        let (code, y) = call(
            vmailsql_exim_resolve,
            &["Alice", "Alias.Example", &f.config],
        );
        assert_eq!(code, OK, "{y}");
        assert_eq!(extract(&y, "rule").as_deref(), Some("popbox"));
        assert_eq!(
            extract(&y, "address").as_deref(),
            Some("alice@alias.example")
        );
        assert_eq!(extract(&y, "domain").as_deref(), Some("example.org"));
        assert_eq!(
            extract(&y, "path").as_deref(),
            Some("/var/mail/ex \"q\"/alice")
        );
        assert_eq!(extract(&y, "user").as_deref(), Some("vmail"));
        assert_eq!(extract(&y, "targets").as_deref(), Some(""));
        assert_eq!(
            extract(&y, "route").as_deref(),
            Some("popbox alice@alias.example")
        );
    }

    #[test]
    fn forwarder_shadows_popbox_and_catch_all_comes_last() {
        let f = fixture();
        let (code, y) = call(vmailsql_exim_resolve, &["info", "example.org", &f.config]);
        assert_eq!(code, OK, "{y}");
        assert_eq!(extract(&y, "rule").as_deref(), Some("forwarder"));
        assert_eq!(
            extract(&y, "targets").as_deref(),
            Some("alice@example.org, bob@else.example")
        );
        assert_eq!(extract(&y, "path").as_deref(), Some(""));
        let (code, y) = call(
            vmailsql_exim_resolve,
            &["../x%y", "catch.example", &f.config],
        );
        assert_eq!(code, OK, "{y}");
        assert_eq!(extract(&y, "rule").as_deref(), Some("catch-all"));
        assert_eq!(
            extract(&y, "address").as_deref(),
            Some("../x%y@catch.example")
        );
    }

    #[test]
    fn unknown_and_impossible_addresses_are_forced_failures() {
        let f = fixture();
        for args in [
            ["nobody", "example.org"],
            ["alice", "elsewhere.example"],
            ["a\u{1}b", "example.org"],
            [&"x".repeat(65), "example.org"],
            ["alice", "bad..domain"],
        ] {
            let (code, y) = call(vmailsql_exim_resolve, &[args[0], args[1], &f.config]);
            assert_eq!(code, FAIL_FORCED, "{args:?}: {y}");
            assert!(y.starts_with("vmailsql: "), "{y}");
        }
    }

    #[test]
    fn domain_functions() {
        let f = fixture();
        assert_eq!(
            call(vmailsql_exim_local_domain, &["ALIAS.example", &f.config]),
            (OK, "example.org".to_string())
        );
        assert_eq!(
            call(vmailsql_exim_match_domain, &["ALIAS.example", &f.config]),
            (OK, "alias.example".to_string())
        );
        let (code, y) = call(vmailsql_exim_match_domain, &["remote.example", &f.config]);
        assert_eq!(code, FAIL_FORCED, "{y}");
        // Cached answers stay right.
        let (code, _) = call(vmailsql_exim_match_domain, &["remote.example", &f.config]);
        assert_eq!(code, FAIL_FORCED);
        assert_eq!(
            call(vmailsql_exim_local_domain, &["alias.example", &f.config]).0,
            OK
        );
        // Exim lower-cases only ASCII; the yield matches `$domain` as Exim has it.
        let v = Vmail::open_config(Some(std::path::Path::new(&f.config))).unwrap();
        v.add_domain(&NewDomain::new("äb.example", "/var/mail/ab", "vmail"))
            .unwrap();
        assert_eq!(
            call(vmailsql_exim_match_domain, &["ÄB.Example", &f.config]),
            (OK, "Äb.example".to_string())
        );
        let (code, y) = call(vmailsql_exim_resolve, &["X", "ÄB.Example", &f.config]);
        assert_eq!(code, FAIL_FORCED, "{y}");
    }

    #[test]
    fn configuration_and_argument_errors_are_errors() {
        let (code, y) = call(
            vmailsql_exim_resolve,
            &["a", "example.org", "/nonexistent/vmailsql.conf"],
        );
        assert_eq!(code, ERROR);
        assert!(y.contains("/nonexistent/vmailsql.conf"), "{y}");
        let (code, y) = call(vmailsql_exim_resolve, &["only-one"]);
        assert_eq!(code, ERROR);
        assert!(y.contains("takes"), "{y}");
        let (code, y) = call(vmailsql_exim_local_domain, &["a", "b", "c", "d"]);
        assert_eq!(code, ERROR);
        assert!(y.contains("takes"), "{y}");
    }

    #[test]
    fn a_domain_check_with_the_local_part_reads_ahead_the_same_answer() {
        let f = fixture();
        for (local_part, domain) in [
            ("alice", "example.org"),
            ("info", "alias.example"),
            ("nobody", "example.org"),
            ("alice", "remote.example"),
            ("a\u{1}b", "example.org"),
        ] {
            let direct = call(vmailsql_exim_resolve, &[local_part, domain, &f.config]);
            // A fresh handle per address: each domain check has to ask the database.
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join("again.conf");
            std::fs::copy(&f.config, &config).unwrap();
            let config = config.to_str().unwrap();
            let check = call(vmailsql_exim_match_domain, &[domain, config, local_part]);
            let expected = if domain == "remote.example" {
                FAIL_FORCED
            } else {
                OK
            };
            assert_eq!(check.0, expected, "{domain}: {}", check.1);
            let after = call(vmailsql_exim_resolve, &[local_part, domain, config]);
            assert_eq!(after, direct, "{local_part}@{domain}");
        }
    }

    #[test]
    fn database_down_is_a_temporary_failure() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("down.conf");
        let sock = dir.path().join("no-such.sock");
        std::fs::write(
            &config,
            format!(
                "database = mysql://u@localhost/db?socket={}\nconnect_timeout = 1\n",
                sock.display()
            ),
        )
        .unwrap();
        let config = config.display().to_string();
        let (code, y) = call(vmailsql_exim_resolve, &["alice", "example.org", &config]);
        assert_eq!(code, FAIL, "{y}");
        // A domain list must not fail to expand (Exim writes that to its panic log): the item
        // yielded makes the list defer instead.
        let (code, y) = call(vmailsql_exim_match_domain, &["example.org", &config]);
        assert_eq!((code, y.as_str()), (OK, DEFER_ITEM));
        let (code, _) = call(vmailsql_exim_local_domain, &["example.org", &config]);
        assert_eq!(code, FAIL);
    }

    #[test]
    fn unsafe_stored_data_is_an_error() {
        let f = fixture();
        let v = Vmail::open_config(Some(std::path::Path::new(&f.config))).unwrap();
        v.add_domain(&NewDomain::new("evil.example", "/var/mail/evil", "vmail"))
            .unwrap();
        v.add_popbox("evil.example", "eve", "popbox-pw", None)
            .unwrap();
        // A legacy tool wrote what the library would refuse.
        let db = v.config().databases[0]
            .strip_prefix("sqlite://")
            .unwrap()
            .to_string();
        rusqlite::Connection::open(db)
            .unwrap()
            .execute(
                "UPDATE popbox SET mbox_name = '../../etc/passwd' WHERE local_part = 'eve'",
                [],
            )
            .unwrap();
        let (code, y) = call(vmailsql_exim_resolve, &["eve", "evil.example", &f.config]);
        assert_eq!(code, ERROR, "{y}");
        assert!(!y.contains("path=\""), "{y}");
    }

    #[test]
    fn unsafe_forward_targets_are_an_error() {
        let f = fixture();
        let v = Vmail::open_config(Some(std::path::Path::new(&f.config))).unwrap();
        let db = v.config().databases[0]
            .strip_prefix("sqlite://")
            .unwrap()
            .to_string();
        let conn = rusqlite::Connection::open(db).unwrap();
        for (lp, target) in [
            ("pipe", "|/bin/sh -c id"),
            ("file", "/etc/passwd"),
            ("incl", ":include:/etc/x"),
        ] {
            conn.execute(
                "INSERT INTO forwarder (domain_name, local_part, remote_name) VALUES (?, ?, ?)",
                ["example.org", lp, target],
            )
            .unwrap();
            let (code, y) = call(vmailsql_exim_resolve, &[lp, "example.org", &f.config]);
            assert_eq!(code, ERROR, "{y}");
            assert!(!y.contains("targets=\""), "{y}");
            assert!(y.contains(&format!("{lp}@example.org")), "{y}");
        }
    }

    #[test]
    fn failure_messages_are_kept_and_shared() {
        let a = stable_message("vmailsql: same");
        let b = stable_message("vmailsql: same");
        assert_eq!(a, b);
        // SAFETY: stable_message returns a NUL-terminated string that lives forever.
        assert_eq!(
            unsafe { CStr::from_ptr(a.cast()) }.to_bytes(),
            b"vmailsql: same"
        );
    }

    #[test]
    fn panics_become_errors() {
        fn boom(_: &Args<'_>) -> Outcome {
            panic!("kaboom")
        }
        let mut out: *mut c_uchar = std::ptr::null_mut();
        // SAFETY: no arguments, a writable yield.
        let code = unsafe { entry(&mut out, 0, std::ptr::null_mut(), boom) };
        assert_eq!(code, ERROR);
        // SAFETY: a kept NUL-terminated message.
        let text = unsafe { CStr::from_ptr(out.cast()) }
            .to_string_lossy()
            .into_owned();
        assert!(text.contains("kaboom"), "{text}");
    }
}
