//! The vmail SQL, written once for both backends (`?` placeholders, standard SQL).
//!
//! Every lookup is keyed on a primary key or an index, on the legacy prefix-key schema as well as
//! on the recommended one; `tests/` checks the plans with EXPLAIN. Names passed in are already
//! normalised (lower-cased) by the caller.

mod route;

use std::sync::LazyLock;

pub(crate) use route::{
    explain_route, local_domain, route, route_in, CatchAll, DomainRow, RouteRow,
};

use super::{Backend, Row, Value};
use crate::error::{Error, Result};
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox};

/// Whether a row the database matched really has the name looked up. The library decides what
/// matches, not the collation: names are equal ASCII-case-insensitively and in nothing else
/// (MySQL's `_ci` collations also equate `é` with `e`, `İ` with `I` and ignore trailing
/// spaces; SQLite's `NOCASE` does exactly this). The lookup still uses the index, and rows
/// written in capitals by other tools are still found.
pub(crate) fn names_match(stored: &str, wanted: &str) -> bool {
    stored.eq_ignore_ascii_case(wanted)
}

/// A popbox with what login needs: `(popbox, domain path, unix_user)`.
pub(crate) struct LoginRow {
    pub popbox: Popbox,
    pub path: Option<String>,
    pub unix_user: Option<String>,
}

const LOGIN_COLUMNS: &str = "SELECT p.domain_name, p.local_part, p.password_hash, p.mbox_name, \
     d.path, d.unix_user FROM popbox p JOIN domain d ON d.domain_name = p.domain_name";

/// tpop3d's query: the popbox in exactly that domain; optionally also through an alias.
pub(crate) fn login(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
    via_alias: bool,
) -> Result<Vec<LoginRow>> {
    // Built once: the statement text is the key of the drivers' prepared-statement caches. The
    // last column is the domain name the login gave, as stored (see `names_match`).
    static DIRECT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} WHERE p.domain_name = ? AND p.local_part = ?",
            LOGIN_COLUMNS.replacen(" FROM ", ", p.domain_name FROM ", 1)
        )
    });
    static ALIASED: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} JOIN domain_alias a ON a.domain_name = p.domain_name \
             WHERE a.alias = ? AND p.local_part = ?",
            LOGIN_COLUMNS.replacen(" FROM ", ", a.alias FROM ", 1)
        )
    });
    let params = [domain.into(), local_part.into()];
    let mut rows = matching_logins(db.query(&DIRECT, &params)?, domain, local_part);
    if rows.is_empty() && via_alias {
        rows = matching_logins(db.query(&ALIASED, &params)?, domain, local_part);
    }
    Ok(rows)
}

/// The login rows whose domain (or alias) and local part really are the ones the login gave.
fn matching_logins(rows: Vec<Row>, domain: &str, local_part: &str) -> Vec<LoginRow> {
    rows.into_iter()
        .filter_map(|mut row| {
            let given = row.pop().and_then(Value::text)?;
            let row = login_row(row);
            (names_match(&given, domain) && names_match(&row.popbox.local_part, local_part))
                .then_some(row)
        })
        .collect()
}

fn login_row(row: Row) -> LoginRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null).text();
    LoginRow {
        popbox: Popbox {
            domain: next().unwrap_or_default(),
            local_part: next().unwrap_or_default(),
            password_hash: next(),
            mbox_name: next(),
        },
        path: next(),
        unix_user: next(),
    }
}

/// Compare-and-swap of a popbox hash: rewrites it only if it is still `old`.
pub(crate) fn swap_popbox_hash(
    db: &mut dyn Backend,
    popbox: &Popbox,
    old: &str,
    new: &str,
) -> Result<bool> {
    let changed = db.execute(
        "UPDATE popbox SET password_hash = ? WHERE domain_name = ? AND local_part = ? \
         AND password_hash = ?",
        &[
            new.into(),
            popbox.domain.as_str().into(),
            popbox.local_part.as_str().into(),
            old.into(),
        ],
    )?;
    Ok(changed == 1)
}

/// Compare-and-swap of a domain's admin hash.
pub(crate) fn swap_domain_hash(
    db: &mut dyn Backend,
    domain: &str,
    old: &str,
    new: &str,
) -> Result<bool> {
    let changed = db.execute(
        "UPDATE domain SET password_hash = ? WHERE domain_name = ? AND password_hash = ?",
        &[new.into(), domain.into(), old.into()],
    )?;
    Ok(changed == 1)
}

// ---- domains ----

const DOMAIN_COLUMNS: &str =
    "SELECT domain_name, unix_user, password_hash, path, max_popbox FROM domain";

fn domain_row(row: Row) -> Domain {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    Domain {
        name: next().text().unwrap_or_default(),
        unix_user: next().text(),
        password_hash: next().text(),
        path: next().text(),
        max_popbox: next().int(),
    }
}

pub(crate) fn domain(db: &mut dyn Backend, name: &str, lock: bool) -> Result<Option<Domain>> {
    let lock = if lock { db.lock_clause() } else { "" };
    let sql = format!("{DOMAIN_COLUMNS} WHERE domain_name = ?{lock}");
    Ok(db
        .query(&sql, &[name.into()])?
        .into_iter()
        .map(domain_row)
        .find(|d| names_match(&d.name, name)))
}

pub(crate) fn domains(db: &mut dyn Backend) -> Result<Vec<Domain>> {
    let sql = format!("{DOMAIN_COLUMNS} ORDER BY domain_name");
    Ok(in_name_order(db.query(&sql, &[])?, &[0])
        .into_iter()
        .map(domain_row)
        .collect())
}

/// `rows` ordered by the name columns `by`, compared as the library compares names (ASCII case
/// folded, then as stored), so that listings and exports come out in one order on every
/// backend: collations sort differently (`utf8mb4_general_ci` puts `_` after the letters,
/// SQLite's `NOCASE` before them).
fn in_name_order(mut rows: Vec<Row>, by: &[usize]) -> Vec<Row> {
    rows.sort_by_cached_key(|row| {
        by.iter()
            .map(|&i| {
                let name = row
                    .get(i)
                    .and_then(|v| v.clone().text())
                    .unwrap_or_default();
                (name.to_ascii_lowercase(), name)
            })
            .collect::<Vec<_>>()
    });
    rows
}

/// Whether column `i` of `row` truly names `wanted` (see [`names_match`]).
fn column_names(row: &Row, i: usize, wanted: &str) -> bool {
    row.get(i)
        .and_then(|v| v.clone().text())
        .is_some_and(|n| names_match(&n, wanted))
}

pub(crate) fn insert_domain(db: &mut dyn Backend, d: &Domain) -> Result<()> {
    db.execute(
        "INSERT INTO domain (domain_name, unix_user, password_hash, path, max_popbox) \
         VALUES (?, ?, ?, ?, ?)",
        &[
            d.name.as_str().into(),
            d.unix_user.as_deref().into(),
            d.password_hash.as_deref().into(),
            d.path.as_deref().into(),
            d.max_popbox.into(),
        ],
    )
    .map(drop)
}

pub(crate) fn update_domain(db: &mut dyn Backend, d: &Domain) -> Result<()> {
    db.execute(
        "UPDATE domain SET unix_user = ?, password_hash = ?, path = ?, max_popbox = ? \
         WHERE domain_name = ?",
        &[
            d.unix_user.as_deref().into(),
            d.password_hash.as_deref().into(),
            d.path.as_deref().into(),
            d.max_popbox.into(),
            d.name.as_str().into(),
        ],
    )
    .map(drop)
}

/// Rows per multi-row INSERT of an import: a round trip and a statement per 256 rows instead of
/// per row, far below either server's limit on placeholders (SQLite 32766, MySQL 65535).
pub(crate) const ROWS_PER_INSERT: usize = 256;

/// The columns an import writes, per table, in the order of the values in [`insert_rows`].
pub(crate) const DOMAIN_INSERT: (&str, &[&str]) = (
    "domain",
    &[
        "domain_name",
        "unix_user",
        "password_hash",
        "path",
        "max_popbox",
    ],
);
pub(crate) const ALIAS_INSERT: (&str, &[&str]) = ("domain_alias", &["domain_name", "alias"]);
pub(crate) const POPBOX_INSERT: (&str, &[&str]) = (
    "popbox",
    &["domain_name", "local_part", "password_hash", "mbox_name"],
);
pub(crate) const FORWARDER_INSERT: (&str, &[&str]) =
    ("forwarder", &["domain_name", "local_part", "remote_name"]);

/// Inserts `rows` (each the values of `columns`) in multi-row INSERTs. Call inside a
/// transaction: a failing chunk leaves the earlier ones to the rollback.
pub(crate) fn insert_rows(
    db: &mut dyn Backend,
    (table, columns): (&str, &[&str]),
    rows: &[Vec<Value>],
) -> Result<()> {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![one.as_str(); chunk.len()].join(", ")
        );
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        db.execute(&sql, &values)?;
    }
    Ok(())
}

/// Deletes a domain and everything that hangs off it. Call inside a transaction.
pub(crate) fn delete_domain(db: &mut dyn Backend, name: &str) -> Result<bool> {
    for table in ["popbox", "forwarder", "domain_alias", "web_session"] {
        db.execute(
            &format!("DELETE FROM {table} WHERE domain_name = ?"),
            &[name.into()],
        )?;
    }
    Ok(db.execute("DELETE FROM domain WHERE domain_name = ?", &[name.into()])? == 1)
}

/// The row of `select` (whose first columns are `domain_name, local_part`) + `WHERE
/// domain_name = ? AND local_part = ?` that truly has that name ([`names_match`]), mapped.
/// A `_ci` collation also returns `böb` for `bob`: the write paths that read first then act
/// only on the row they asked for.
fn one_by_address<T>(
    db: &mut dyn Backend,
    select: &str,
    domain: &str,
    local_part: &str,
    map: fn(Row) -> T,
) -> Result<Option<T>> {
    let sql = format!("{select} WHERE domain_name = ? AND local_part = ?");
    let rows = db.query(&sql, &[domain.into(), local_part.into()])?;
    let is_named = |row: &Row| column_names(row, 0, domain) && column_names(row, 1, local_part);
    Ok(rows.into_iter().find(is_named).map(map))
}

/// All rows of `select` (whose first columns are `domain_name, local_part`) for one domain (by
/// local part) or for all (by domain, local part). One domain's are only those that truly
/// name it ([`names_match`]).
fn all_of_domain<T>(
    db: &mut dyn Backend,
    select: &str,
    domain: Option<&str>,
    map: fn(Row) -> T,
) -> Result<Vec<T>> {
    let rows = match domain {
        Some(d) => db.query(
            &format!("{select} WHERE domain_name = ? ORDER BY local_part"),
            &[d.into()],
        )?,
        None => db.query(&format!("{select} ORDER BY domain_name, local_part"), &[])?,
    };
    let rows = rows
        .into_iter()
        .filter(|row| domain.is_none_or(|d| column_names(row, 0, d)))
        .collect();
    Ok(in_name_order(rows, &[0, 1]).into_iter().map(map).collect())
}

// ---- popboxes ----

const POPBOX_COLUMNS: &str = "SELECT domain_name, local_part, password_hash, mbox_name FROM popbox";

fn popbox_row(row: Row) -> Popbox {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null).text();
    Popbox {
        domain: next().unwrap_or_default(),
        local_part: next().unwrap_or_default(),
        password_hash: next(),
        mbox_name: next(),
    }
}

pub(crate) fn popbox(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<Option<Popbox>> {
    one_by_address(db, POPBOX_COLUMNS, domain, local_part, popbox_row)
}

pub(crate) fn popboxes(db: &mut dyn Backend, domain: Option<&str>) -> Result<Vec<Popbox>> {
    all_of_domain(db, POPBOX_COLUMNS, domain, popbox_row)
}

/// Popboxes in a domain, counted under the transaction's lock.
pub(crate) fn count_popboxes(db: &mut dyn Backend, domain: &str) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM popbox WHERE domain_name = ?{}",
        db.lock_clause()
    );
    let rows = db.query(&sql, &[domain.into()])?;
    rows.into_iter()
        .next()
        .and_then(|mut r| r.pop())
        .and_then(Value::int)
        .ok_or_else(|| Error::internal("COUNT(*) returned no row"))
}

pub(crate) fn insert_popbox(db: &mut dyn Backend, p: &Popbox) -> Result<()> {
    db.execute(
        "INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) VALUES (?, ?, ?, ?)",
        &[
            p.domain.as_str().into(),
            p.local_part.as_str().into(),
            p.password_hash.as_deref().into(),
            p.mbox_name.as_deref().into(),
        ],
    )
    .map(drop)
}

pub(crate) fn set_popbox_hash(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
    hash: &str,
) -> Result<bool> {
    let changed = db.execute(
        "UPDATE popbox SET password_hash = ? WHERE domain_name = ? AND local_part = ?",
        &[hash.into(), domain.into(), local_part.into()],
    )?;
    Ok(changed == 1)
}

pub(crate) fn delete_popbox(db: &mut dyn Backend, domain: &str, local_part: &str) -> Result<bool> {
    let changed = db.execute(
        "DELETE FROM popbox WHERE domain_name = ? AND local_part = ?",
        &[domain.into(), local_part.into()],
    )?;
    Ok(changed == 1)
}

// ---- forwarders ----

const FORWARDER_COLUMNS: &str = "SELECT domain_name, local_part, remote_name FROM forwarder";

fn forwarder_row(row: Row) -> Forwarder {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null).text().unwrap_or_default();
    Forwarder {
        domain: next(),
        local_part: next(),
        remote_name: next(),
    }
}

pub(crate) fn forwarder(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<Option<Forwarder>> {
    one_by_address(db, FORWARDER_COLUMNS, domain, local_part, forwarder_row)
}

pub(crate) fn forwarders(db: &mut dyn Backend, domain: Option<&str>) -> Result<Vec<Forwarder>> {
    all_of_domain(db, FORWARDER_COLUMNS, domain, forwarder_row)
}

pub(crate) fn insert_forwarder(db: &mut dyn Backend, f: &Forwarder) -> Result<()> {
    db.execute(
        "INSERT INTO forwarder (domain_name, local_part, remote_name) VALUES (?, ?, ?)",
        &[
            f.domain.as_str().into(),
            f.local_part.as_str().into(),
            f.remote_name.as_str().into(),
        ],
    )
    .map(drop)
}

pub(crate) fn update_forwarder(db: &mut dyn Backend, f: &Forwarder) -> Result<bool> {
    let changed = db.execute(
        "UPDATE forwarder SET remote_name = ? WHERE domain_name = ? AND local_part = ?",
        &[
            f.remote_name.as_str().into(),
            f.domain.as_str().into(),
            f.local_part.as_str().into(),
        ],
    )?;
    Ok(changed == 1)
}

pub(crate) fn delete_forwarder(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<bool> {
    let changed = db.execute(
        "DELETE FROM forwarder WHERE domain_name = ? AND local_part = ?",
        &[domain.into(), local_part.into()],
    )?;
    Ok(changed == 1)
}

// ---- domain aliases ----

fn alias_row(row: Row) -> DomainAlias {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null).text().unwrap_or_default();
    DomainAlias {
        alias: next(),
        domain: next(),
    }
}

/// One alias, locking the name inside the transaction (also where no row exists yet), so a
/// concurrent `add_domain` and `add_alias` of one name cannot both succeed.
pub(crate) fn alias_for_update(db: &mut dyn Backend, alias: &str) -> Result<Option<DomainAlias>> {
    let sql = format!(
        "SELECT alias, domain_name FROM domain_alias WHERE alias = ?{}",
        db.lock_clause()
    );
    let rows = db.query(&sql, &[alias.into()])?;
    Ok(rows
        .into_iter()
        .map(alias_row)
        .find(|a| names_match(&a.alias, alias)))
}

pub(crate) fn aliases(db: &mut dyn Backend, domain: Option<&str>) -> Result<Vec<DomainAlias>> {
    let rows = match domain {
        Some(d) => db.query(
            "SELECT alias, domain_name FROM domain_alias WHERE domain_name = ? ORDER BY alias",
            &[d.into()],
        )?,
        None => db.query(
            "SELECT alias, domain_name FROM domain_alias ORDER BY domain_name, alias",
            &[],
        )?,
    };
    let rows = rows
        .into_iter()
        .filter(|row| domain.is_none_or(|d| column_names(row, 1, d)))
        .collect();
    Ok(in_name_order(rows, &[1, 0])
        .into_iter()
        .map(alias_row)
        .collect())
}

pub(crate) fn insert_alias(db: &mut dyn Backend, a: &DomainAlias) -> Result<()> {
    db.execute(
        "INSERT INTO domain_alias (domain_name, alias) VALUES (?, ?)",
        &[a.domain.as_str().into(), a.alias.as_str().into()],
    )
    .map(drop)
}

pub(crate) fn delete_alias(db: &mut dyn Backend, alias: &str) -> Result<bool> {
    Ok(db.execute("DELETE FROM domain_alias WHERE alias = ?", &[alias.into()])? == 1)
}

// ---- web sessions ----

/// `(session_id hash, expires)` of a domain's session.
pub(crate) fn session(db: &mut dyn Backend, domain: &str) -> Result<Option<(String, i64)>> {
    let rows = db.query(
        "SELECT session_id, expires FROM web_session WHERE domain_name = ?",
        &[domain.into()],
    )?;
    Ok(rows.into_iter().next().map(|mut r| {
        let expires = r.pop().and_then(Value::int).unwrap_or(0);
        let id = r.pop().and_then(Value::text).unwrap_or_default();
        (id, expires)
    }))
}

pub(crate) fn replace_session(
    db: &mut dyn Backend,
    domain: &str,
    id_hash: &str,
    expires: i64,
) -> Result<()> {
    db.execute(
        "DELETE FROM web_session WHERE domain_name = ?",
        &[domain.into()],
    )?;
    db.execute(
        "INSERT INTO web_session (domain_name, session_id, expires) VALUES (?, ?, ?)",
        &[domain.into(), id_hash.into(), expires.into()],
    )
    .map(drop)
}

/// Extends a session if it is still the one with `id_hash` and has not expired at `now`; false
/// when no such session exists any more. One statement, so atomic on every engine.
pub(crate) fn touch_session(
    db: &mut dyn Backend,
    domain: &str,
    id_hash: &str,
    now: i64,
    expires: i64,
) -> Result<bool> {
    let changed = db.execute(
        "UPDATE web_session SET expires = ? WHERE domain_name = ? AND session_id = ? \
         AND expires >= ?",
        &[expires.into(), domain.into(), id_hash.into(), now.into()],
    )?;
    Ok(changed == 1)
}

pub(crate) fn delete_session(db: &mut dyn Backend, domain: &str) -> Result<bool> {
    Ok(db.execute(
        "DELETE FROM web_session WHERE domain_name = ?",
        &[domain.into()],
    )? == 1)
}

pub(crate) fn expire_sessions(db: &mut dyn Backend, now: i64) -> Result<u64> {
    db.execute("DELETE FROM web_session WHERE expires < ?", &[now.into()])
}

// ---- sign-in throttling ----

/// Adds one failure to `subject`'s window, or restarts it at 1 when it began before
/// `window_open_since`. Returns the rows changed (0: no row yet).
pub(crate) fn bump_signin_failures(
    db: &mut dyn Backend,
    subject: &str,
    now: i64,
    window_open_since: i64,
) -> Result<u64> {
    // MySQL evaluates SET assignments left to right: window_start is read by the first one
    // before the second changes it, as SQLite does.
    db.execute(
        "UPDATE signin_failure SET \
         failures = CASE WHEN window_start < ? THEN 1 ELSE failures + 1 END, \
         window_start = CASE WHEN window_start < ? THEN ? ELSE window_start END \
         WHERE subject = ?",
        &[
            window_open_since.into(),
            window_open_since.into(),
            now.into(),
            subject.into(),
        ],
    )
}

pub(crate) fn insert_signin_failure(db: &mut dyn Backend, subject: &str, now: i64) -> Result<()> {
    db.execute(
        "INSERT INTO signin_failure (subject, failures, window_start) VALUES (?, 1, ?)",
        &[subject.into(), now.into()],
    )
    .map(drop)
}

/// Failures counted against `subject` in a window that began at `window_open_since` or later.
pub(crate) fn signin_failures(
    db: &mut dyn Backend,
    subject: &str,
    window_open_since: i64,
) -> Result<u32> {
    let rows = db.query(
        "SELECT failures FROM signin_failure WHERE subject = ? AND window_start >= ?",
        &[subject.into(), window_open_since.into()],
    )?;
    let count = rows
        .into_iter()
        .next()
        .and_then(|mut r| r.pop())
        .and_then(Value::int)
        .unwrap_or(0);
    Ok(u32::try_from(count.max(0)).unwrap_or(u32::MAX))
}

pub(crate) fn clear_signin_failures(db: &mut dyn Backend, subject: &str) -> Result<()> {
    db.execute(
        "DELETE FROM signin_failure WHERE subject = ?",
        &[subject.into()],
    )
    .map(drop)
}
