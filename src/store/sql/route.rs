//! The resolution queries: the domain row a name stands for, and the forwarder, popbox and
//! catch-all that answer for one of its addresses, in as few row reads as the engine allows.

use std::sync::OnceLock;

use super::names_match;
use crate::error::Result;
use crate::rows::CATCH_ALL;
use crate::store::{Backend, Packing, Value};

/// What one resolution needs to know about a local domain: the real domain (an alias's target
/// when reached through an alias), its delivery settings and its catch-all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DomainRow {
    pub domain: String,
    pub path: Option<String>,
    pub unix_user: Option<String>,
    pub catch_all: CatchAll,
}

/// A domain's catch-all as far as it has been read. The resolution probes stop at the first of
/// forwarder, popbox and catch-all that answers, so an address settled by its forwarder or its
/// popbox leaves the catch-all unread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum CatchAll {
    #[default]
    Unread,
    /// The domain has no `_default_` forwarder (or one whose `remote_name` is NULL).
    Absent,
    /// The `_default_` forwarder's `remote_name`.
    Forward(String),
}

/// What one resolution query returns for a local domain.
#[derive(Debug, Default)]
pub(crate) struct RouteRow {
    pub domain: DomainRow,
    pub forwarder: Option<String>,
    /// `Some("")` when the popbox exists with no `mbox_name`.
    pub mbox_name: Option<String>,
}

/// How a name's domain row is found. [`Via::Name`]: the domain itself, else an alias's target;
/// the `COALESCE` reads the alias only when the name is not a domain (a direct lookup pays no
/// alias probe) and gives one row at most, faster on both backends than an `IN` of the two names
/// (measured 3-8% on MariaDB, both schemas, 1k and 1M popboxes). [`Via::Alias`]: the alias's
/// target alone, for the rare name that matches a domain only by the collation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Name,
    Alias,
}

impl Via {
    fn condition(self) -> &'static str {
        match self {
            Via::Name => {
                "d.domain_name = COALESCE((SELECT x.domain_name FROM domain x WHERE x.domain_name = ?), \
                 (SELECT a.domain_name FROM domain_alias a WHERE a.alias = ?))"
            }
            Via::Alias => "d.domain_name = (SELECT a.domain_name FROM domain_alias a WHERE a.alias = ?)",
        }
    }

    fn params(self, domain: &str) -> impl Iterator<Item = Value> {
        let n = if self == Via::Name { 2 } else { 1 };
        std::iter::repeat_n(Value::from(domain), n)
    }
}

/// A query's text for each of `N` variants, each built the first time it is asked for.
struct PerVariant<K, const N: usize> {
    build: fn(K) -> String,
    texts: [OnceLock<String>; N],
}

impl<K: Variant, const N: usize> PerVariant<K, N> {
    const fn new(build: fn(K) -> String) -> PerVariant<K, N> {
        // Evaluated where the `static` is defined: a wrong `N` does not compile.
        assert!(K::COUNT == N, "one text per variant");
        PerVariant {
            build,
            texts: [const { OnceLock::new() }; N],
        }
    }

    fn get(&self, key: K) -> &str {
        self.texts[key.index()].get_or_init(|| (self.build)(key))
    }
}

/// Which of a [`PerVariant`]'s texts a variant has: `index` is below `COUNT` and differs for
/// every value.
trait Variant: Copy {
    const COUNT: usize;
    fn index(self) -> usize;
}

impl Variant for Via {
    const COUNT: usize = 2;
    fn index(self) -> usize {
        usize::from(self == Via::Alias)
    }
}

impl Variant for Packing {
    const COUNT: usize = 2;
    fn index(self) -> usize {
        usize::from(self == Packing::Pipes)
    }
}

impl Variant for bool {
    const COUNT: usize = 2;
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl<A: Variant, B: Variant> Variant for (A, B) {
    const COUNT: usize = A::COUNT * B::COUNT;
    fn index(self) -> usize {
        self.0.index() * B::COUNT + self.1.index()
    }
}

/// `mbox_name` of a joined popbox `p`: NULL when there is none, `''` when it has no name.
const MBOX_NAME: &str =
    "CASE WHEN p.local_part IS NULL THEN NULL ELSE COALESCE(p.mbox_name, '') END";

/// The eager resolution query, one row: the domain (directly or through an alias) with the
/// forwarder, popbox and catch-all that could answer for `local_part`, each a primary-key join
/// on the domain row: MariaDB's resolution of a domain not yet known, and on SQLite the
/// fallback when the lazy probes stopped at a row that matches only by the collation (see
/// [`settle`]).
fn eager_route_query(via: Via) -> &'static str {
    fn build(via: Via) -> String {
        format!(
            "SELECT d.domain_name, d.path, d.unix_user, c.remote_name, f.remote_name, {MBOX_NAME}, \
             f.local_part, p.local_part FROM domain d \
             LEFT JOIN forwarder f ON f.domain_name = d.domain_name AND f.local_part = ? \
             LEFT JOIN popbox p ON p.domain_name = d.domain_name AND p.local_part = ? \
             LEFT JOIN forwarder c ON c.domain_name = d.domain_name AND c.local_part = '{CATCH_ALL}' \
             WHERE {}",
            via.condition()
        )
    }
    static SQL: PerVariant<Via, 2> = PerVariant::new(build);
    SQL.get(via)
}

/// One string for a probed row: `tag`, the character length of `name`, `:`, `name`, then
/// `value` (`f7:postmasterVALUE`, read back by [`probed`]); NULL when `value` is NULL.
fn pack(packing: Packing, tag: char, name: &str, value: &str) -> String {
    match packing {
        Packing::Concat => format!(
            "CONCAT('{tag}', CHAR_LENGTH({name}), ':', CONVERT({name} USING utf8mb4), \
             CONVERT({value} USING utf8mb4))"
        ),
        Packing::Pipes => format!("'{tag}' || length({name}) || ':' || {name} || {value}"),
    }
}

/// The primary-key probes of one address in the domain named by the SQL expression `domain`:
/// its forwarder, its popbox and (when `catch_all`) the domain's catch-all, in the order the
/// seed's routers consult them, each a scalar subquery returning one [`pack`]ed string.
fn probes(packing: Packing, domain: &str, catch_all: bool) -> Vec<String> {
    let probe = |tag, table, alias: &str, value: &str, local_part: &str| {
        let name = format!("{alias}.local_part");
        format!(
            "(SELECT {} FROM {table} {alias} WHERE {alias}.domain_name = {domain} \
             AND {alias}.local_part = {local_part})",
            pack(packing, tag, &name, value)
        )
    };
    let mut probes = vec![
        probe('f', "forwarder", "f", "f.remote_name", "?"),
        probe('p', "popbox", "p", "COALESCE(p.mbox_name, '')", "?"),
    ];
    if catch_all {
        let default = format!("'{CATCH_ALL}'");
        probes.push(probe('c', "forwarder", "c", "c.remote_name", &default));
    }
    probes
}

/// The [`probes`] as select-list columns: on an engine whose `COALESCE` is lazy, one column,
/// the first probe that finds a row, so only the rows the routers would consult are read (one
/// for an address with a forwarder, two for a popbox); elsewhere one column per probe.
fn answers(lazy: bool, packing: Packing, domain: &str, catch_all: bool) -> String {
    let probes = probes(packing, domain, catch_all).join(", ");
    if lazy {
        format!("COALESCE({probes})")
    } else {
        probes
    }
}

/// Where a resolution query is kept: by whether `COALESCE` is lazy, the [`Packing`] and one
/// more variant.
type Shape<V> = (bool, (Packing, V));

/// The resolution query of an address whose domain is not yet known, on an engine whose
/// `COALESCE` is lazy: the domain row and the probes, correlated with it, in one statement.
fn route_query(via: Via, packing: Packing) -> &'static str {
    fn build((via, packing): (Via, Packing)) -> String {
        format!(
            "SELECT d.domain_name, d.path, d.unix_user, {} FROM domain d WHERE {}",
            answers(true, packing, "d.domain_name", true),
            via.condition()
        )
    }
    static SQL: PerVariant<(Via, Packing), 4> = PerVariant::new(build);
    SQL.get((via, packing))
}

fn route_params(via: Via, domain: &str, local_part: &str) -> Vec<Value> {
    let l = Value::from(local_part);
    [l.clone(), l]
        .into_iter()
        .chain(via.params(domain))
        .collect()
}

/// The resolution query when the domain row is already known: the probes alone, the
/// catch-all among them only while it is unread.
fn address_query(lazy: bool, packing: Packing, catch_all: bool) -> &'static str {
    fn build((lazy, (packing, catch_all)): Shape<bool>) -> String {
        format!("SELECT {}", answers(lazy, packing, "?", catch_all))
    }
    static SQL: PerVariant<Shape<bool>, 8> = PerVariant::new(build);
    SQL.get((lazy, (packing, catch_all)))
}

fn address_params(domain: &str, local_part: &str, catch_all: bool) -> Vec<Value> {
    let (d, l) = (Value::from(domain), Value::from(local_part));
    let mut params = vec![d.clone(), l.clone(), d.clone(), l];
    if catch_all {
        params.push(d);
    }
    params
}

/// The plans of the resolution queries of `local_part@domain`, one line per table access.
pub(crate) fn explain_route(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<Vec<String>> {
    let (lazy, packing) = (db.lazy_coalesce(), db.packing());
    let params = route_params(Via::Name, domain, local_part);
    let mut plan = db.explain(eager_route_query(Via::Name), &params)?;
    if lazy {
        plan.extend(db.explain(route_query(Via::Name, packing), &params)?);
    }
    let address = address_query(lazy, packing, true);
    plan.extend(db.explain(address, &address_params(domain, local_part, true))?);
    Ok(plan)
}

/// A value whose row name (the last column read with it) matches `wanted`; `None` otherwise.
fn named(value: Option<String>, name: Option<String>, wanted: &str) -> Option<String> {
    value.filter(|_| name.is_some_and(|n| names_match(&n, wanted)))
}

/// Whether the real domain `row` really answers for the name `wanted`: it is that domain, or
/// `wanted` is truly (not only by the collation) an alias of it. The alias is read only when
/// the names differ, so direct lookups pay nothing.
fn domain_answers(db: &mut dyn Backend, row: &DomainRow, wanted: &str) -> Result<bool> {
    if names_match(&row.domain, wanted) {
        return Ok(true);
    }
    let rows = db.query(
        "SELECT alias FROM domain_alias WHERE alias = ? AND domain_name = ?",
        &[wanted.into(), row.domain.as_str().into()],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| r.pop().and_then(Value::text))
        .any(|alias| names_match(&alias, wanted)))
}

/// The domain row `domain` stands for, with the rest of the row `query` returned for it: the
/// row found [`Via::Name`], or when that domain is only a collation match that does not answer
/// for `domain`, the alias's target.
fn find_domain(
    db: &mut dyn Backend,
    domain: &str,
    query: impl Fn(Via) -> (&'static str, Vec<Value>),
) -> Result<Option<(DomainRow, std::vec::IntoIter<Value>)>> {
    for via in [Via::Name, Via::Alias] {
        let (sql, params) = query(via);
        let Some(row) = db.query(sql, &params)?.into_iter().next() else {
            return Ok(None);
        };
        let mut rest = row.into_iter();
        let found = domain_of(&mut rest);
        if domain_answers(db, &found, domain)? {
            return Ok(Some((found, rest)));
        }
    }
    Ok(None)
}

/// The route of `local_part@domain`, `None` when the domain is not local.
pub(crate) fn route(
    db: &mut dyn Backend,
    domain: &str,
    local_part: &str,
) -> Result<Option<RouteRow>> {
    if !db.lazy_coalesce() {
        return eager_route(db, domain, local_part);
    }
    let packing = db.packing();
    let query = |via| {
        (
            route_query(via, packing),
            route_params(via, domain, local_part),
        )
    };
    let Some((found, mut rest)) = find_domain(db, domain, query)? else {
        return Ok(None);
    };
    match settle(found, rest.next(), local_part) {
        Some(route) => Ok(Some(route)),
        None => eager_route(db, domain, local_part),
    }
}

/// [`route`] with every candidate read at once.
fn eager_route(db: &mut dyn Backend, domain: &str, local_part: &str) -> Result<Option<RouteRow>> {
    let query = |via| {
        (
            eager_route_query(via),
            route_params(via, domain, local_part),
        )
    };
    let Some((mut found, mut it)) = find_domain(db, domain, query)? else {
        return Ok(None);
    };
    let mut next = || it.next().unwrap_or(Value::Null).text();
    found.catch_all = catch_all_of(next());
    let (forwarder, mbox_name) = (next(), next());
    let (forwarder_name, popbox_name) = (next(), next());
    Ok(Some(RouteRow {
        domain: found,
        forwarder: named(forwarder, forwarder_name, local_part),
        mbox_name: named(mbox_name, popbox_name, local_part),
    }))
}

/// The route in a domain whose row the caller already has; `None` when the probes were not
/// enough and the eager query no longer finds the domain.
pub(crate) fn route_in(
    db: &mut dyn Backend,
    domain: &DomainRow,
    local_part: &str,
) -> Result<Option<RouteRow>> {
    let (lazy, catch_all) = (db.lazy_coalesce(), domain.catch_all == CatchAll::Unread);
    let params = address_params(&domain.domain, local_part, catch_all);
    let rows = db.query(address_query(lazy, db.packing(), catch_all), &params)?;
    let answers = rows.into_iter().next().unwrap_or_default();
    let settled = if lazy {
        settle(domain.clone(), answers.into_iter().next(), local_part)
    } else {
        settle_each(domain.clone(), answers, local_part)
    };
    match settled {
        Some(route) => Ok(Some(route)),
        None => eager_route(db, &domain.domain, local_part),
    }
}

/// A row a probe found, read back from its [`pack`]ed string.
#[derive(Debug, PartialEq, Eq)]
enum Probed {
    /// `(local part as stored, remote_name)`.
    Forwarder(String, String),
    /// `(local part as stored, mbox_name or "")`.
    Popbox(String, String),
    CatchAll(String),
    /// No probe found a row.
    Nothing,
}

/// The probed row in `packed`; `None` when it cannot be read as one.
fn probed(packed: Option<Value>) -> Option<Probed> {
    let Some(packed) = packed.and_then(Value::text) else {
        return Some(Probed::Nothing);
    };
    let mut chars = packed.chars();
    let tag = chars.next()?;
    let rest = chars.as_str();
    let (n, rest) = rest.split_once(':')?;
    // The byte offset after the name's N characters; none when the string is shorter.
    let mut ends = rest.char_indices().map(|(i, _)| i).chain([rest.len()]);
    let at = ends.nth(n.parse().ok()?)?;
    let (name, value) = (rest[..at].to_owned(), rest[at..].to_owned());
    match tag {
        'f' => Some(Probed::Forwarder(name, value)),
        'p' => Some(Probed::Popbox(name, value)),
        'c' => Some(Probed::CatchAll(value)),
        _ => None,
    }
}

/// The route in `domain` the lazy probes' answer gives, or `None` when it does not settle the
/// resolution: the probes stopped at a forwarder or popbox that matches only by the collation
/// (see [`names_match`]) while a later candidate is still unread, and the caller asks the eager
/// query.
fn settle(domain: DomainRow, packed: Option<Value>, local_part: &str) -> Option<RouteRow> {
    let mut route = RouteRow {
        domain,
        ..RouteRow::default()
    };
    let catch_all_read = route.domain.catch_all != CatchAll::Unread;
    match probed(packed)? {
        Probed::Forwarder(name, remote) if names_match(&name, local_part) => {
            route.forwarder = Some(remote);
        }
        Probed::Popbox(name, mbox) if names_match(&name, local_part) => {
            route.mbox_name = Some(mbox);
        }
        // No forwarder, the popbox only a collation match: the catch-all decides, and is known.
        Probed::Popbox(..) if catch_all_read => {}
        Probed::CatchAll(remote) => route.domain.catch_all = CatchAll::Forward(remote),
        Probed::Nothing if !catch_all_read => route.domain.catch_all = CatchAll::Absent,
        Probed::Nothing => {}
        Probed::Forwarder(..) | Probed::Popbox(..) => return None,
    }
    Some(route)
}

/// The route in `domain` from one answer per probe (an engine whose `COALESCE` is not lazy);
/// `None` when an answer cannot be read.
fn settle_each(domain: DomainRow, answers: Vec<Value>, local_part: &str) -> Option<RouteRow> {
    let mut route = RouteRow {
        domain,
        ..RouteRow::default()
    };
    let catch_all_read = route.domain.catch_all != CatchAll::Unread;
    for answer in answers {
        match probed(Some(answer))? {
            Probed::Forwarder(name, remote) if names_match(&name, local_part) => {
                route.forwarder = Some(remote);
            }
            Probed::Popbox(name, mbox) if names_match(&name, local_part) => {
                route.mbox_name = Some(mbox);
            }
            Probed::CatchAll(remote) => route.domain.catch_all = CatchAll::Forward(remote),
            Probed::Forwarder(..) | Probed::Popbox(..) | Probed::Nothing => {}
        }
    }
    if !catch_all_read && route.domain.catch_all == CatchAll::Unread {
        // The catch-all column was asked for and came back NULL.
        route.domain.catch_all = CatchAll::Absent;
    }
    Some(route)
}

fn catch_all_of(remote_name: Option<String>) -> CatchAll {
    remote_name.map_or(CatchAll::Absent, CatchAll::Forward)
}

fn domain_of(it: &mut impl Iterator<Item = Value>) -> DomainRow {
    let mut next = || it.next().unwrap_or(Value::Null).text();
    DomainRow {
        domain: next().unwrap_or_default(),
        path: next(),
        unix_user: next(),
        catch_all: CatchAll::Unread,
    }
}

/// The local domain a name stands for, with its catch-all, when it is local. The catch-all is
/// read here because on MariaDB it costs less in this statement than as a third probe of the
/// resolution that follows (which then reads only the forwarder and the popbox).
pub(crate) fn local_domain(db: &mut dyn Backend, domain: &str) -> Result<Option<DomainRow>> {
    fn build(via: Via) -> String {
        format!(
            "SELECT d.domain_name, d.path, d.unix_user, c.remote_name FROM domain d \
             LEFT JOIN forwarder c ON c.domain_name = d.domain_name \
             AND c.local_part = '{CATCH_ALL}' WHERE {}",
            via.condition()
        )
    }
    static SQL: PerVariant<Via, 2> = PerVariant::new(build);
    let query = |via: Via| (SQL.get(via), via.params(domain).collect());
    let found = find_domain(db, domain, query)?.map(|(mut found, mut rest)| {
        found.catch_all = catch_all_of(rest.next().and_then(Value::text));
        found
    });
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{
        address_query, probed, settle, settle_each, CatchAll, DomainRow, Packing, Probed, Shape,
        Value, Variant,
    };

    fn text(s: &str) -> Option<Value> {
        Some(Value::from(s))
    }

    fn pair(tag: fn(String, String) -> Probed, name: &str, value: &str) -> Option<Probed> {
        Some(tag(name.to_owned(), value.to_owned()))
    }

    #[test]
    fn a_packed_probe_splits_at_the_names_length_in_characters() {
        assert_eq!(
            probed(text("f4:infoa@b.example")),
            pair(Probed::Forwarder, "info", "a@b.example")
        );
        // Names and values may hold the separator and non-ASCII letters.
        assert_eq!(
            probed(text("f3:a:éx:y")),
            pair(Probed::Forwarder, "a:é", "x:y")
        );
        // A popbox with no mbox_name packs an empty value.
        assert_eq!(probed(text("p5:paulo")), pair(Probed::Popbox, "paulo", ""));
        assert_eq!(
            probed(text("c9:_default_x@y")),
            Some(Probed::CatchAll("x@y".into()))
        );
        assert_eq!(probed(None), Some(Probed::Nothing));
        assert_eq!(probed(Some(Value::Null)), Some(Probed::Nothing));
        for unreadable in ["", "f", "fx:abc", "q3:abc", "5:paulo"] {
            assert_eq!(probed(text(unreadable)), None, "{unreadable:?}");
        }
        // A length beyond the string is not a packed probe.
        assert_eq!(probed(text("f9:abc")), None);
    }

    fn domain(catch_all: CatchAll) -> DomainRow {
        DomainRow {
            domain: "example.org".into(),
            catch_all,
            ..DomainRow::default()
        }
    }

    /// `(forwarder, mbox_name, catch_all)` of a settled route.
    type Settled = Option<(Option<String>, Option<String>, CatchAll)>;

    fn settled(catch_all: CatchAll, packed: &str, local_part: &str) -> Settled {
        let packed = (!packed.is_empty()).then(|| Value::from(packed));
        settle(domain(catch_all), packed, local_part)
            .map(|r| (r.forwarder, r.mbox_name, r.domain.catch_all))
    }

    #[test]
    fn the_first_probe_that_truly_matches_settles_the_route() {
        let known = || CatchAll::Forward("all@x.example".into());
        let some = |s: &str| Some(s.to_owned());
        // A forwarder in any ASCII case settles it; the catch-all stays as it was.
        assert_eq!(
            settled(CatchAll::Unread, "f5:Alicea@x", "alice"),
            Some((some("a@x"), None, CatchAll::Unread))
        );
        assert_eq!(
            settled(CatchAll::Unread, "p5:alicembox", "alice"),
            Some((None, some("mbox"), CatchAll::Unread))
        );
        // The catch-all probe ran: what it found (or that it found nothing) is now known.
        assert_eq!(
            settled(CatchAll::Unread, "c9:_default_all@x.example", "bob"),
            Some((None, None, known()))
        );
        assert_eq!(
            settled(CatchAll::Unread, "", "bob"),
            Some((None, None, CatchAll::Absent))
        );
        assert_eq!(settled(known(), "", "bob"), Some((None, None, known())));
        // A collation-only popbox with the catch-all known: nothing else is left to read.
        assert_eq!(
            settled(known(), "p4:josémbox", "jose"),
            Some((None, None, known()))
        );
    }

    #[test]
    fn every_query_variant_has_its_own_text() {
        let mut seen = std::collections::HashSet::new();
        for lazy in [false, true] {
            for packing in [Packing::Concat, Packing::Pipes] {
                for catch_all in [false, true] {
                    let key = (lazy, (packing, catch_all));
                    assert!(key.index() < <Shape<bool> as Variant>::COUNT);
                    assert!(seen.insert(key.index()), "{key:?}");
                    let text = address_query(lazy, packing, catch_all);
                    assert_eq!(text.starts_with("SELECT COALESCE("), lazy, "{text}");
                    assert_eq!(text.contains("CONCAT("), packing == Packing::Concat);
                    assert_eq!(text.contains("'_default_'"), catch_all, "{text}");
                }
            }
        }
    }

    #[test]
    fn one_answer_per_probe_settles_every_route() {
        let each = |catch_all, answers: &[&str]| {
            let answers = answers
                .iter()
                .map(|a| match *a {
                    "" => Value::Null,
                    a => Value::from(a),
                })
                .collect();
            settle_each(domain(catch_all), answers, "jose")
                .map(|r| (r.forwarder, r.mbox_name, r.domain.catch_all))
        };
        let some = |s: &str| Some(s.to_owned());
        let all = || CatchAll::Forward("all@x".into());
        // A forwarder shadows the popbox; both are kept, decide() takes the forwarder.
        assert_eq!(
            each(CatchAll::Absent, &["f4:JOSEa@x", "p4:josembox"]),
            Some((some("a@x"), some("mbox"), CatchAll::Absent))
        );
        // Collation-only matches are no match; the catch-all column, when asked, is read.
        assert_eq!(
            each(
                CatchAll::Unread,
                &["f4:joséa@x", "p4:josémbox", "c9:_default_all@x"]
            ),
            Some((None, None, all()))
        );
        assert_eq!(
            each(CatchAll::Unread, &["", "", ""]),
            Some((None, None, CatchAll::Absent))
        );
        assert_eq!(each(all(), &["", ""]), Some((None, None, all())));
        assert_eq!(each(CatchAll::Absent, &["x", ""]), None, "unreadable");
    }

    #[test]
    fn a_collation_only_match_with_candidates_unread_asks_the_eager_query() {
        for (catch_all, packed) in [
            (CatchAll::Unread, "f4:joséa@x"),
            (CatchAll::Absent, "f4:joséa@x"),
            (CatchAll::Unread, "p4:josémbox"),
            (CatchAll::Unread, "x4:josémbox"),
        ] {
            assert_eq!(settled(catch_all, packed, "jose"), None, "{packed}");
        }
    }
}
