//! The vmail SQL, written once for both backends (`?` placeholders, standard SQL).
//!
//! Every lookup is keyed on a primary key or an index, on the legacy prefix-key schema as well as
//! on the recommended one; `tests/` checks the plans with EXPLAIN. Names passed in are already
//! normalised (lower-cased) by the caller.

use super::{Backend, Row, Value};
use crate::admin::{Domain, DomainAlias, Forwarder, Popbox, CATCH_ALL};
use crate::error::{Error, Result};

/// What one resolution query returns for a local domain.
#[derive(Debug, Default)]
pub(crate) struct RouteRow {
    /// The real domain (the alias target when reached through an alias).
    pub domain: String,
    pub path: Option<String>,
    pub unix_user: Option<String>,
    pub forwarder: Option<String>,
    /// `Some("")` when the popbox exists with no `mbox_name`.
    pub mbox_name: Option<String>,
    pub catch_all: Option<String>,
    pub via_alias: bool,
}

/// The columns of one route, for the domain expression `dom` (a column name).
fn route_columns(dom: &str) -> String {
    format!(
        "(SELECT f.remote_name FROM forwarder f WHERE f.domain_name = {dom} AND f.local_part = ?), \
         (SELECT COALESCE(p.mbox_name, '') FROM popbox p WHERE p.domain_name = {dom} AND p.local_part = ?), \
         (SELECT c.remote_name FROM forwarder c WHERE c.domain_name = {dom} AND c.local_part = '{CATCH_ALL}')"
    )
}

/// The names of the forwarder and popbox rows the collation matched, for [`names_match`].
fn matched_name_columns(dom: &str) -> String {
    format!(
        "(SELECT f.local_part FROM forwarder f WHERE f.domain_name = {dom} AND f.local_part = ?), \
         (SELECT p.local_part FROM popbox p WHERE p.domain_name = {dom} AND p.local_part = ?)"
    )
}

/// One round trip: the domain (directly or through an alias) with the forwarder, popbox and
/// catch-all that could answer for `local_part`, and the names of the rows matched.
pub(crate) fn route_query() -> String {
    format!(
        "SELECT d.domain_name, d.path, d.unix_user, {}, 0, d.domain_name, {} FROM domain d \
         WHERE d.domain_name = ? \
         UNION ALL \
         SELECT a.domain_name, d.path, d.unix_user, {}, 1, a.alias, {} FROM domain_alias a \
         LEFT JOIN domain d ON d.domain_name = a.domain_name WHERE a.alias = ?",
        route_columns("d.domain_name"),
        matched_name_columns("d.domain_name"),
        route_columns("a.domain_name"),
        matched_name_columns("a.domain_name")
    )
}

pub(crate) fn route_params(domain: &str, local_part: &str) -> Vec<Value> {
    let (d, l) = (Value::from(domain), Value::from(local_part));
    let branch = [l.clone(), l.clone(), l.clone(), l, d];
    branch.iter().chain(&branch).cloned().collect()
}

/// Whether a row the database matched really has the name looked up. The library decides what
/// matches, not the collation: names are equal ASCII-case-insensitively and in nothing else
/// (MySQL's `_ci` collations also equate `é` with `e`, `İ` with `I` and ignore trailing
/// spaces; SQLite's `NOCASE` does exactly this). The lookup still uses the index, and rows
/// written in capitals by other tools are still found.
pub(crate) fn names_match(stored: &str, wanted: &str) -> bool {
    stored.eq_ignore_ascii_case(wanted)
}

pub(crate) fn route(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<Option<RouteRow>> {
    let rows = db.query(&route_query(), &route_params(domain, local_part))?;
    // A name that is both a domain and an alias acts as the domain.
    let mut best: Option<RouteRow> = None;
    for row in rows {
        let Some(route) = matching_route(row, domain, local_part) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|b| b.via_alias && !route.via_alias)
        {
            best = Some(route);
        }
    }
    Ok(best)
}

/// The route of one row, without the parts whose names only the collation equated with the
/// ones looked up; `None` when the domain (or alias) name itself does not match.
fn matching_route(mut row: Row, domain: &str, local_part: &str) -> Option<RouteRow> {
    let names: Vec<Option<String>> = row
        .split_off(row.len().min(7))
        .into_iter()
        .map(Value::text)
        .collect();
    let name_ok = |i: usize| {
        names
            .get(i)
            .cloned()
            .flatten()
            .is_some_and(|n| names_match(&n, if i == 0 { domain } else { local_part }))
    };
    if !name_ok(0) {
        return None;
    }
    let mut route = route_row(row);
    if !name_ok(1) {
        route.forwarder = None;
    }
    if !name_ok(2) {
        route.mbox_name = None;
    }
    Some(route)
}

fn route_row(row: Row) -> RouteRow {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    RouteRow {
        domain: next().text().unwrap_or_default(),
        path: next().text(),
        unix_user: next().text(),
        forwarder: next().text(),
        mbox_name: next().text(),
        catch_all: next().text(),
        via_alias: next().int() == Some(1),
    }
}

/// The real domain a name stands for, when it is local.
pub(crate) fn local_domain(db: &mut dyn Backend, domain: &str) -> Result<Option<String>> {
    let rows = db.query(
        "SELECT domain_name, 0, domain_name FROM domain WHERE domain_name = ? \
         UNION ALL SELECT domain_name, 1, alias FROM domain_alias WHERE alias = ?",
        &[domain.into(), domain.into()],
    )?;
    let mut rows: Vec<(Option<String>, Option<i64>)> = rows
        .into_iter()
        .filter(|r| {
            r.get(2)
                .cloned()
                .and_then(Value::text)
                .is_some_and(|n| names_match(&n, domain))
        })
        .map(|mut r| (r.remove(0).text(), r.remove(0).int()))
        .collect();
    rows.sort_by_key(|(_, via)| *via);
    Ok(rows.into_iter().next().and_then(|(name, _)| name))
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
    // The last column is the domain name the login gave, as stored (see `names_match`).
    let direct = format!(
        "{} WHERE p.domain_name = ? AND p.local_part = ?",
        LOGIN_COLUMNS.replacen(" FROM ", ", p.domain_name FROM ", 1)
    );
    let mut rows = matching_logins(
        db.query(&direct, &[domain.into(), local_part.into()])?,
        domain,
        local_part,
    );
    if rows.is_empty() && via_alias {
        let aliased = format!(
            "{} JOIN domain_alias a ON a.domain_name = p.domain_name \
             WHERE a.alias = ? AND p.local_part = ?",
            LOGIN_COLUMNS.replacen(" FROM ", ", a.alias FROM ", 1)
        );
        rows = matching_logins(
            db.query(&aliased, &[domain.into(), local_part.into()])?,
            domain,
            local_part,
        );
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
        .next()
        .map(domain_row))
}

pub(crate) fn domains(db: &mut dyn Backend) -> Result<Vec<Domain>> {
    let sql = format!("{DOMAIN_COLUMNS} ORDER BY domain_name");
    Ok(db.query(&sql, &[])?.into_iter().map(domain_row).collect())
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

/// The first row of `select` + `WHERE domain_name = ? AND local_part = ?`, mapped.
fn one_by_address<T>(
    db: &mut dyn Backend,
    select: &str,
    domain: &str,
    local_part: &str,
    map: fn(Row) -> T,
) -> Result<Option<T>> {
    let sql = format!("{select} WHERE domain_name = ? AND local_part = ?");
    let rows = db.query(&sql, &[domain.into(), local_part.into()])?;
    Ok(rows.into_iter().next().map(map))
}

/// All rows of `select` for one domain (by local part) or for all (by domain, local part).
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
    Ok(rows.into_iter().map(map).collect())
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
    Ok(rows.into_iter().next().map(alias_row))
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
    Ok(rows.into_iter().map(alias_row).collect())
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
