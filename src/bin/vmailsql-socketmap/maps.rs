//! The answers: each Postfix map query becomes one library call, answered so that the seed's
//! rule (forwarder, then popbox, then the `_default_` catch-all) holds inside Postfix's own
//! lookup order, with the seed's tables as they are.
//!
//! A socketmap table is a "pattern" table to Postfix: it is asked the full address only, never
//! the `@domain` and bare local-part forms Postfix tries on hash or SQL tables. So `aliases`
//! answers each address with the library's decision: a forwarder's targets, a popbox's own real
//! address (an alias of itself ends Postfix's recursion, and an alias domain's address becomes
//! the real domain's), or the catch-all's targets when neither exists. The catch-all cannot
//! swallow a popbox and no self-alias rows are needed. `@domain` is answered too (the
//! catch-all's targets), for tools that ask it.

use vmailsql::{ErrorKind, Mailbox, Resolution, Vmail, CATCH_ALL};

use crate::users::Users;

/// One socketmap reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Ok(String),
    NotFound,
    /// Try again later; the reason goes to Postfix and into our log.
    Temp(String),
    /// A request that cannot be answered (unknown map, no key).
    Perm(String),
}

impl Reply {
    /// The reply as socketmap sends it (before netstring framing).
    pub fn to_wire(&self) -> String {
        match self {
            Reply::Ok(data) => format!("OK {data}"),
            Reply::NotFound => "NOTFOUND ".to_string(),
            Reply::Temp(why) => format!("TEMP {why}"),
            Reply::Perm(why) => format!("PERM {why}"),
        }
    }
}

/// What the maps need besides the database.
pub struct Maps {
    /// Postfix's `virtual_mailbox_base`: mailbox paths are answered relative to it.
    pub mailbox_base: String,
    pub users: Users,
}

/// A problem worth a log line, beside the reply.
pub type Note = Option<String>;

impl Maps {
    /// Answers one request (`NAME KEY`, already split from its netstring).
    pub fn answer(&self, vmail: &Vmail, request: &[u8]) -> (Reply, Note) {
        let Ok(request) = std::str::from_utf8(request) else {
            // No address in the database can match bytes that are not UTF-8.
            return (Reply::NotFound, None);
        };
        let Some((map, key)) = request.split_once(' ') else {
            return perm("request is not 'NAME KEY'");
        };
        if key.is_empty() {
            return perm("empty key");
        }
        match map {
            "domains" => self.domains(vmail, key),
            "aliases" => self.aliases(vmail, key),
            "mailboxes" => self.mailbox(vmail, key, |m| self.relative_path(m)),
            "uids" => self.mailbox(vmail, key, |m| self.ids(m).map(|i| i.uid.to_string())),
            "gids" => self.mailbox(vmail, key, |m| self.ids(m).map(|i| i.gid.to_string())),
            _ => perm("unknown map (domains, aliases, mailboxes, uids, gids)"),
        }
    }

    fn domains(&self, vmail: &Vmail, key: &str) -> (Reply, Note) {
        match vmail.local_domain(key) {
            Ok(real) => (Reply::Ok(real), None),
            Err(e) => failed(e, "domains", key),
        }
    }

    fn aliases(&self, vmail: &Vmail, key: &str) -> (Reply, Note) {
        let Some((local, domain)) = key.rsplit_once('@') else {
            return (Reply::NotFound, None); // a bare local part: never ours
        };
        if local.is_empty() {
            return self.catch_all(vmail, domain, key);
        }
        match vmail.resolve_parts(local, domain) {
            // A forwarder, or the catch-all when no forwarder or popbox has this name.
            Ok(Resolution::Forward { targets, .. }) => (Reply::Ok(targets.join(",")), None),
            // Its own real address: Postfix stops here and delivers (an alias domain's
            // address becomes the real domain's).
            Ok(Resolution::Mailbox(m)) => {
                (Reply::Ok(format!("{}@{}", m.local_part, m.domain)), None)
            }
            Err(e) => failed(e, "aliases", key),
        }
    }

    fn catch_all(&self, vmail: &Vmail, domain: &str, key: &str) -> (Reply, Note) {
        // `_default_@domain` resolves to the catch-all's targets, as in the seed.
        match vmail.resolve_parts(CATCH_ALL, domain) {
            Ok(Resolution::Forward { targets, .. }) => (Reply::Ok(targets.join(",")), None),
            Ok(Resolution::Mailbox(_)) => (Reply::NotFound, None),
            Err(e) => failed(e, "aliases", key),
        }
    }

    fn mailbox(
        &self,
        vmail: &Vmail,
        key: &str,
        value: impl Fn(&Mailbox) -> Result<String, String>,
    ) -> (Reply, Note) {
        if key.starts_with('@') {
            return (Reply::NotFound, None);
        }
        match vmail.resolve(key) {
            Ok(Resolution::Mailbox(m)) => match value(&m) {
                Ok(v) => (Reply::Ok(v), None),
                Err(why) => {
                    let note = format!("unsafe data for {key:?}: {why}");
                    (
                        Reply::Temp("mailbox data unusable, see server log".into()),
                        Some(note),
                    )
                }
            },
            Ok(Resolution::Forward { .. }) => (Reply::NotFound, None),
            Err(e) => failed(e, "mailboxes", key),
        }
    }

    fn relative_path(&self, m: &Mailbox) -> Result<String, String> {
        let base = self.mailbox_base.trim_end_matches('/');
        m.path
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "popbox {}@{}: mbox {} is outside virtual_mailbox_base {}",
                    m.local_part, m.domain, m.path, self.mailbox_base
                )
            })
    }

    fn ids(&self, m: &Mailbox) -> Result<crate::users::Ids, String> {
        let ids = self
            .users
            .lookup(&m.unix_user)
            .map_err(|why| format!("domain {}: {why}", m.domain))?;
        if ids.uid == 0 || ids.gid == 0 {
            return Err(format!(
                "domain {}: unix_user {:?} is root",
                m.domain, m.unix_user
            ));
        }
        Ok(ids)
    }
}

fn perm(why: &str) -> (Reply, Note) {
    (Reply::Perm(why.to_string()), None)
}

/// A library error as a reply: "not found" and bad keys are NOTFOUND; a database that is down
/// and unsafe stored data are TEMP (Postfix defers, never bounces), logged with the key.
fn failed(e: vmailsql::Error, map: &str, key: &str) -> (Reply, Note) {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::InvalidInput => (Reply::NotFound, None),
        ErrorKind::Temporary => (
            Reply::Temp("database temporarily unavailable".into()),
            Some(format!("{map} {key:?}: {e}")),
        ),
        _ => (
            Reply::Temp("lookup failed, see server log".into()),
            Some(format!("{map} {key:?}: {e}")),
        ),
    }
}
