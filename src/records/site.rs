//! The names an import must not collide with, held as keyed 128-bit hashes rather than as
//! strings, so that checking a million records holds a few bytes per name, not the names.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, RandomState};

use crate::error::{Error, Result};
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox};
use crate::store::{sql, Backend};

/// A name's key: two 64-bit SipHash values under independent random keys. Two different names
/// share a key with probability about n²/2^129 for n names (1 in 10^25 at ten million), far
/// below any hardware error; a collision would refuse an import, never write a wrong row.
type Key = u128;

struct Keys(RandomState, RandomState);

impl Keys {
    fn of<T: Hash + ?Sized>(&self, name: &T) -> Key {
        (Key::from(self.0.hash_one(name)) << 64) | Key::from(self.1.hash_one(name))
    }
}

/// The rows already in the database, keyed as the library compares them (lower-cased), and
/// the records taken so far.
pub(super) struct Site {
    keys: Keys,
    domains: HashSet<Key>,
    aliases: HashSet<Key>,
    popboxes: HashSet<Key>,
    mboxes: HashSet<Key>,
    forwarders: HashSet<Key>,
}

impl Site {
    pub(super) fn load(db: &mut dyn Backend) -> Result<Site> {
        let keys = Keys(RandomState::new(), RandomState::new());
        let low = |s: &str| s.to_lowercase();
        // One table at a time, each list dropped once keyed.
        let domains = sql::domains(db)?
            .iter()
            .map(|d| keys.of(&low(&d.name)))
            .collect();
        let aliases = sql::aliases(db, None)?
            .iter()
            .map(|a| keys.of(&low(&a.alias)))
            .collect();
        let (mut popboxes, mut mboxes) = (HashSet::new(), HashSet::new());
        for p in sql::popboxes(db, None)? {
            let domain = low(&p.domain);
            popboxes.insert(keys.of(&(domain.as_str(), low(&p.local_part).as_str())));
            if let Some(mbox) = &p.mbox_name {
                mboxes.insert(keys.of(&(domain.as_str(), mbox.as_str())));
            }
        }
        let forwarders = sql::forwarders(db, None)?
            .iter()
            .map(|f| keys.of(&(low(&f.domain).as_str(), low(&f.local_part).as_str())))
            .collect();
        Ok(Site {
            keys,
            domains,
            aliases,
            popboxes,
            mboxes,
            forwarders,
        })
    }

    pub(super) fn take_domain(&mut self, d: &Domain) -> Result<()> {
        let key = self.keys.of(d.name.as_str());
        if self.aliases.contains(&key) {
            return Err(Error::conflict(format!(
                "{} is already a domain alias",
                d.name
            )));
        }
        if !self.domains.insert(key) {
            return Err(Error::conflict(format!("domain {} already exists", d.name)));
        }
        Ok(())
    }

    pub(super) fn take_alias(&mut self, a: &DomainAlias) -> Result<()> {
        self.need_domain(&a.domain)?;
        let key = self.keys.of(a.alias.as_str());
        if self.domains.contains(&key) {
            return Err(Error::conflict(format!(
                "{} is a domain, not an alias",
                a.alias
            )));
        }
        if !self.aliases.insert(key) {
            return Err(Error::conflict(format!("alias {} already exists", a.alias)));
        }
        Ok(())
    }

    pub(super) fn take_popbox(&mut self, p: &Popbox) -> Result<()> {
        self.need_domain(&p.domain)?;
        let name = (p.domain.as_str(), p.local_part.as_str());
        if !self.popboxes.insert(self.keys.of(&name)) {
            return Err(Error::conflict(format!(
                "popbox {}@{} already exists",
                p.local_part, p.domain
            )));
        }
        // Two popboxes on one mbox would read each other's mail.
        let mbox = p.mbox_name.as_deref().unwrap_or_default();
        if !self.mboxes.insert(self.keys.of(&(p.domain.as_str(), mbox))) {
            return Err(Error::conflict(format!(
                "mbox {mbox} is already used by another popbox of {}",
                p.domain
            )));
        }
        Ok(())
    }

    pub(super) fn take_forwarder(&mut self, f: &Forwarder) -> Result<()> {
        self.need_domain(&f.domain)?;
        let name = (f.domain.as_str(), f.local_part.as_str());
        if !self.forwarders.insert(self.keys.of(&name)) {
            return Err(Error::conflict(format!(
                "forwarder {}@{} already exists",
                f.local_part, f.domain
            )));
        }
        Ok(())
    }

    fn need_domain(&self, name: &str) -> Result<()> {
        if self.domains.contains(&self.keys.of(name)) {
            Ok(())
        } else {
            Err(Error::not_found(format!("no such domain {name}")))
        }
    }
}
