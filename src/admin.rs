//! Administration of domains, popboxes, forwarders and domain aliases.
//!
//! Every change is validated before it touches the database and runs in one transaction, so a
//! rejected change leaves nothing behind.

use crate::address::{self, normalize_domain, normalize_local_part, printable};
use crate::audit::{self, Entry};
use crate::error::{Error, ErrorKind, Result};
use crate::password;
use crate::rows::{Domain, DomainAlias, Forwarder, Popbox, CATCH_ALL};
use crate::store::{sql, Backend};
use crate::vmail::Vmail;

/// What [`Vmail::add_domain`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    /// The domain name.
    pub name: String,
    /// Base path of its mailboxes (absolute).
    pub path: String,
    /// Who owns the mailboxes (user name or uid, never root).
    pub unix_user: String,
    /// The administrator's password (hashed with the policy scheme), if any.
    pub password: Option<String>,
    /// Most popboxes allowed; `None` means unlimited.
    pub max_popbox: Option<i64>,
}

impl NewDomain {
    /// A domain with no admin password and no popbox limit.
    pub fn new(name: &str, path: &str, unix_user: &str) -> NewDomain {
        NewDomain {
            name: name.to_string(),
            path: path.to_string(),
            unix_user: unix_user.to_string(),
            password: None,
            max_popbox: None,
        }
    }
}

/// Changes to a domain; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainChange {
    /// New base path.
    pub path: Option<String>,
    /// New owner.
    pub unix_user: Option<String>,
    /// New limit (`Some(None)` removes the limit).
    pub max_popbox: Option<Option<i64>>,
}

fn missing_domain(name: &str) -> Error {
    Error::not_found(format!("no such domain {name}"))
}

pub(crate) fn check_max_popbox(max: Option<i64>) -> Result<()> {
    match max {
        Some(n) if !(0..=i64::from(i32::MAX)).contains(&n) => Err(Error::invalid(
            "max_popbox must be between 0 and 2147483647",
        )),
        _ => Ok(()),
    }
}

/// Locks and returns a domain inside a transaction.
fn locked_domain(db: &mut dyn Backend, name: &str) -> Result<crate::Domain> {
    sql::domain(db, name, true)?.ok_or_else(|| missing_domain(name))
}

impl Vmail {
    // ---- domains ----

    /// Adds a domain.
    ///
    /// # Errors
    /// `InvalidInput` for a bad name, path, user or limit; `Conflict` when the name is already a
    /// domain or a domain alias.
    pub fn add_domain(&self, new: &NewDomain) -> Result<()> {
        let name = normalize_domain(&new.name)?;
        address::check_domain_path(&new.path)?;
        address::check_unix_user(Some(&new.unix_user))?;
        check_max_popbox(new.max_popbox)?;
        let password_hash = new
            .password
            .as_deref()
            .map(|p| self.hash_password(p))
            .transpose()?;
        let domain = Domain {
            name,
            unix_user: Some(new.unix_user.clone()),
            password_hash,
            path: Some(new.path.clone()),
            max_popbox: new.max_popbox,
        };
        self.write(|db| {
            if sql::alias_for_update(db, &domain.name)?.is_some() {
                return Err(Error::conflict(format!(
                    "{} is already a domain alias",
                    domain.name
                )));
            }
            if sql::domain(db, &domain.name, true)?.is_some() {
                return Err(Error::conflict(format!(
                    "domain {} already exists",
                    domain.name
                )));
            }
            audit::record(db, self, Entry::domain_created(&domain))?;
            sql::insert_domain(db, &domain)
        })
    }

    /// One domain.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn domain(&self, name: &str) -> Result<Domain> {
        let name = normalize_domain(name)?;
        self.read(|db| sql::domain(db, &name, false))?
            .ok_or_else(|| missing_domain(&name))
    }

    /// All domains, by name.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn domains(&self) -> Result<Vec<Domain>> {
        self.read(sql::domains)
    }

    /// Changes a domain's path, owner or limit.
    ///
    /// # Errors
    /// `NotFound`, or `InvalidInput` for a bad new value.
    pub fn change_domain(&self, name: &str, change: &DomainChange) -> Result<()> {
        let name = normalize_domain(name)?;
        if let Some(path) = &change.path {
            address::check_domain_path(path)?;
        }
        if let Some(user) = &change.unix_user {
            address::check_unix_user(Some(user))?;
        }
        if let Some(max) = change.max_popbox {
            check_max_popbox(max)?;
        }
        self.write(|db| {
            let mut domain = locked_domain(db, &name)?;
            let before = domain.clone();
            domain.path = change.path.clone().or(domain.path);
            domain.unix_user = change.unix_user.clone().or(domain.unix_user);
            domain.max_popbox = change.max_popbox.unwrap_or(domain.max_popbox);
            audit::record(db, self, Entry::domain_changed(&before, &domain))?;
            sql::update_domain(db, &domain)
        })
    }

    /// Sets the domain administrator's password, and ends the domain's control-panel session.
    ///
    /// # Errors
    /// `NotFound` when the domain does not exist.
    pub fn set_domain_password(&self, name: &str, password: &str) -> Result<()> {
        let name = normalize_domain(name)?;
        let hash = self.hash_password(password)?;
        self.write(|db| {
            let mut domain = locked_domain(db, &name)?;
            let old = domain.password_hash.clone();
            audit::record(
                db,
                self,
                Entry::password("changed", &name, &name, old.as_deref(), &hash),
            )?;
            domain.password_hash = Some(hash.clone());
            sql::update_domain(db, &domain)?;
            sql::delete_session(db, &name).map(drop)
        })
    }

    /// Deletes a domain with all its popboxes, forwarders, aliases and session, atomically.
    /// Mailbox files are left on disk.
    ///
    /// # Errors
    /// `NotFound` when the domain does not exist.
    pub fn delete_domain(&self, name: &str) -> Result<()> {
        let name = normalize_domain(name)?;
        self.write(|db| {
            let before = locked_domain(db, &name)?;
            audit::record(db, self, Entry::domain_deleted(&before))?;
            sql::delete_domain(db, &name).map(drop)
        })
    }

    // ---- popboxes ----

    /// Adds a popbox with a password hashed in the policy scheme. `mbox_name` defaults to the
    /// local part. Respects `domain.max_popbox`, also under concurrent additions.
    ///
    /// # Errors
    /// `NotFound` for a missing domain, `LimitExceeded` at `max_popbox`, `Conflict` when the
    /// popbox or its mbox already exists, `InvalidInput` for bad names.
    pub fn add_popbox(
        &self,
        domain: &str,
        local_part: &str,
        password: &str,
        mbox_name: Option<&str>,
    ) -> Result<()> {
        let hash = self.hash_password(password)?;
        self.add_popbox_record(&Popbox {
            domain: domain.to_string(),
            local_part: local_part.to_string(),
            password_hash: Some(hash),
            mbox_name: mbox_name.map(str::to_string),
        })
    }

    /// Adds a popbox whose password hash is already made (imports keep hashes exactly as they
    /// were stored). Otherwise as [`Vmail::add_popbox`].
    ///
    /// # Errors
    /// As [`Vmail::add_popbox`].
    pub fn add_popbox_record(&self, popbox: &Popbox) -> Result<()> {
        let popbox = self.checked_popbox(popbox)?;
        self.write(|db| {
            let domain = locked_domain(db, &popbox.domain)?;
            if let Some(max) = domain.max_popbox {
                if sql::count_popboxes(db, &popbox.domain)? >= max {
                    return Err(Error::new(
                        ErrorKind::LimitExceeded,
                        format!(
                            "domain {} already has its maximum of {max} popboxes",
                            domain.name
                        ),
                    ));
                }
            }
            if sql::popbox(db, &popbox.domain, &popbox.local_part)?.is_some() {
                return Err(Error::conflict(format!(
                    "popbox {}@{} already exists",
                    popbox.local_part, popbox.domain
                )));
            }
            let mbox = popbox.mbox_name.as_deref().unwrap_or_default();
            if sql::popboxes(db, Some(&popbox.domain))?
                .iter()
                .any(|p| p.mbox_name.as_deref() == Some(mbox))
            {
                return Err(Error::conflict(format!(
                    "mbox {mbox} is already used by another popbox of {}",
                    popbox.domain
                )));
            }
            audit::record(db, self, Entry::popbox_created(&popbox))?;
            sql::insert_popbox(db, &popbox)
        })
    }

    pub(crate) fn checked_popbox(&self, popbox: &Popbox) -> Result<Popbox> {
        if let Some(hash) = &popbox.password_hash {
            password::limits::refuse_over_cost(hash)?;
        }
        let domain = normalize_domain(&popbox.domain)?;
        let local_part = normalize_local_part(&popbox.local_part)?;
        if local_part == CATCH_ALL {
            return Err(Error::invalid(format!(
                "{CATCH_ALL} is reserved for the catch-all"
            )));
        }
        if let Some(c) = local_part
            .chars()
            .find(|c| self.config().login_separators.contains(*c))
        {
            return Err(Error::invalid(format!(
                "popbox name {local_part:?} contains {c:?}, which splits POP3 logins"
            )));
        }
        let mbox_name = popbox
            .mbox_name
            .clone()
            .unwrap_or_else(|| local_part.clone());
        address::check_mbox_name(&mbox_name)?;
        Ok(Popbox {
            domain,
            local_part,
            password_hash: popbox.password_hash.clone(),
            mbox_name: Some(mbox_name),
        })
    }

    /// One popbox.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn popbox(&self, domain: &str, local_part: &str) -> Result<Popbox> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        self.read(|db| sql::popbox(db, &domain, &local))?
            .ok_or_else(|| Error::not_found(format!("no popbox {local}@{domain}")))
    }

    /// The popboxes of one domain, or of all domains.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn popboxes(&self, domain: Option<&str>) -> Result<Vec<Popbox>> {
        let domain = domain.map(normalize_domain).transpose()?;
        self.read(|db| sql::popboxes(db, domain.as_deref()))
    }

    /// Sets a popbox's password (hashed with the policy scheme).
    ///
    /// # Errors
    /// `NotFound` when the popbox does not exist.
    pub fn set_popbox_password(
        &self,
        domain: &str,
        local_part: &str,
        password: &str,
    ) -> Result<()> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        let hash = self.hash_password(password)?;
        let changed =
            self.write_one(|db| audit::set_popbox_hash(db, self, (&domain, &local), &hash, "set"))?;
        if changed {
            Ok(())
        } else {
            Err(Error::not_found(format!("no popbox {local}@{domain}")))
        }
    }

    /// Sets a popbox's stored hash to a value made elsewhere, exactly as given (moving users
    /// between systems). The value must be one that [`crate::password::identify`] recognises.
    ///
    /// # Errors
    /// `NotFound` when the popbox does not exist; `InvalidInput` for an unrecognised hash.
    pub fn set_popbox_hash(&self, domain: &str, local_part: &str, hash: &str) -> Result<()> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        if password::identify(hash).is_none() || hash.len() > address::MAX_COLUMN {
            return Err(Error::invalid(
                "not a password hash any supported scheme can verify",
            ));
        }
        password::limits::refuse_over_cost(hash)?;
        if self
            .write_one(|db| audit::set_popbox_hash(db, self, (&domain, &local), hash, "hash-set"))?
        {
            Ok(())
        } else {
            Err(Error::not_found(format!("no popbox {local}@{domain}")))
        }
    }

    /// A mailbox user changes their own password: `old` must verify first, and the new hash is
    /// written only if the stored one has not changed in between.
    ///
    /// # Errors
    /// `AuthFailed` for an unknown popbox or a wrong old password, alike.
    pub fn change_popbox_password(&self, address: &str, old: &str, new: &str) -> Result<()> {
        let (local, domain) = address::split_address(address).map_err(|_| Error::auth_failed())?;
        let popbox = self.read(|db| sql::popbox(db, &domain, &local))?;
        let stored = popbox
            .as_ref()
            .and_then(|p| p.password_hash.clone())
            .unwrap_or_default();
        let user = popbox
            .as_ref()
            .map(|p| format!("{}@{}", p.local_part, p.domain))
            .unwrap_or_default();
        let secret = crate::auth::equal_time::Secret::Password {
            user: &user,
            password: old.as_bytes(),
        };
        let stored_hash = popbox.as_ref().and_then(|p| p.password_hash.as_deref());
        let verdict =
            crate::auth::equal_time::check(self.config().password_scheme, stored_hash, secret);
        let popbox = match (verdict, popbox) {
            (crate::auth::equal_time::Verdict::Match, Some(p)) => p,
            (crate::auth::equal_time::Verdict::TooCostly, Some(p)) => {
                return Err(crate::auth::too_costly(&format!(
                    "{}@{}",
                    p.local_part, p.domain
                )))
            }
            _ => return Err(Error::auth_failed()),
        };
        let hash = self.hash_password(new)?;
        if self.write_one(|db| {
            audit::swap_popbox_hash(db, self, &popbox, (&stored, &hash), "changed")
        })? {
            Ok(())
        } else {
            Err(Error::conflict(
                "the password was changed meanwhile; try again",
            ))
        }
    }

    /// Deletes a popbox (its mbox file stays on disk).
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn delete_popbox(&self, domain: &str, local_part: &str) -> Result<()> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        if self.write_one(|db| audit::delete_popbox(db, self, &domain, &local))? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no popbox {local}@{domain}")))
        }
    }

    // ---- forwarders ----

    /// Adds a forwarder (use [`CATCH_ALL`] as the local part for the catch-all).
    ///
    /// # Errors
    /// `NotFound` for a missing domain, `Conflict` when it exists, `InvalidInput` for a bad
    /// local part or target list, or a target that would loop back to the forwarder itself.
    pub fn add_forwarder(&self, domain: &str, local_part: &str, remote_name: &str) -> Result<()> {
        let fwd = checked_forwarder(domain, local_part, remote_name)?;
        self.write(|db| {
            locked_domain(db, &fwd.domain)?;
            check_no_loop(db, &fwd)?;
            if sql::forwarder(db, &fwd.domain, &fwd.local_part)?.is_some() {
                return Err(Error::conflict(format!(
                    "forwarder {}@{} already exists",
                    fwd.local_part, fwd.domain
                )));
            }
            audit::record(db, self, Entry::forwarder_created(&fwd))?;
            sql::insert_forwarder(db, &fwd)
        })
    }

    /// Changes where a forwarder sends mail.
    ///
    /// # Errors
    /// `NotFound` when it does not exist; otherwise as [`Vmail::add_forwarder`].
    pub fn change_forwarder(
        &self,
        domain: &str,
        local_part: &str,
        remote_name: &str,
    ) -> Result<()> {
        let fwd = checked_forwarder(domain, local_part, remote_name)?;
        self.write(|db| {
            locked_domain(db, &fwd.domain)?;
            check_no_loop(db, &fwd)?;
            let before = sql::forwarder(db, &fwd.domain, &fwd.local_part)?;
            if before.is_some() && sql::update_forwarder(db, &fwd)? {
                audit::record(
                    db,
                    self,
                    Entry::forwarder_changed(before.as_ref().unwrap_or(&fwd), &fwd),
                )?;
                Ok(())
            } else {
                Err(Error::not_found(format!(
                    "no forwarder {}@{}",
                    fwd.local_part, fwd.domain
                )))
            }
        })
    }

    /// Sets (adds or changes) the domain's catch-all.
    ///
    /// # Errors
    /// As [`Vmail::add_forwarder`].
    pub fn set_catch_all(&self, domain: &str, remote_name: &str) -> Result<()> {
        let fwd = checked_forwarder(domain, CATCH_ALL, remote_name)?;
        self.write(|db| {
            locked_domain(db, &fwd.domain)?;
            check_no_loop(db, &fwd)?;
            let before = sql::forwarder(db, &fwd.domain, CATCH_ALL)?;
            if before.is_none() || !sql::update_forwarder(db, &fwd)? {
                sql::insert_forwarder(db, &fwd)?;
            }
            audit::record(
                db,
                self,
                before.map_or_else(
                    || Entry::forwarder_created(&fwd),
                    |b| Entry::forwarder_changed(&b, &fwd),
                ),
            )?;
            Ok(())
        })
    }

    /// One forwarder.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn forwarder(&self, domain: &str, local_part: &str) -> Result<Forwarder> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        self.read(|db| sql::forwarder(db, &domain, &local))?
            .ok_or_else(|| Error::not_found(format!("no forwarder {local}@{domain}")))
    }

    /// The forwarders of one domain, or of all domains.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn forwarders(&self, domain: Option<&str>) -> Result<Vec<Forwarder>> {
        let domain = domain.map(normalize_domain).transpose()?;
        self.read(|db| sql::forwarders(db, domain.as_deref()))
    }

    /// Deletes a forwarder.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn delete_forwarder(&self, domain: &str, local_part: &str) -> Result<()> {
        let (domain, local) = (
            normalize_domain(domain)?,
            address::normalize_lookup_local_part(local_part)?,
        );
        if self.write_one(|db| audit::delete_forwarder(db, self, &domain, &local))? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no forwarder {local}@{domain}")))
        }
    }

    // ---- domain aliases ----

    /// Makes `alias` a second name for `domain`.
    ///
    /// # Errors
    /// `NotFound` when `domain` does not exist; `Conflict` when `alias` is already a domain or
    /// an alias; `InvalidInput` for bad names or an alias of itself.
    pub fn add_alias(&self, alias: &str, domain: &str) -> Result<()> {
        let entry = DomainAlias {
            alias: normalize_domain(alias)?,
            domain: normalize_domain(domain)?,
        };
        if entry.alias == entry.domain {
            return Err(Error::invalid("a domain cannot be an alias of itself"));
        }
        self.write(|db| {
            locked_domain(db, &entry.domain)?;
            if sql::domain(db, &entry.alias, true)?.is_some() {
                return Err(Error::conflict(format!(
                    "{} is a domain, not an alias",
                    entry.alias
                )));
            }
            if sql::alias_for_update(db, &entry.alias)?.is_some() {
                return Err(Error::conflict(format!(
                    "alias {} already exists",
                    entry.alias
                )));
            }
            audit::record(db, self, Entry::alias_created(&entry))?;
            sql::insert_alias(db, &entry)
        })
    }

    /// The aliases of one domain, or all aliases.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn aliases(&self, domain: Option<&str>) -> Result<Vec<DomainAlias>> {
        let domain = domain.map(normalize_domain).transpose()?;
        self.read(|db| sql::aliases(db, domain.as_deref()))
    }

    /// Removes a domain alias.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    pub fn delete_alias(&self, alias: &str) -> Result<()> {
        let alias = normalize_domain(alias)?;
        if self.write_one(|db| audit::delete_alias(db, self, &alias))? {
            Ok(())
        } else {
            Err(Error::not_found(format!("no alias {alias}")))
        }
    }

    /// Hashes a new password with this handle's policy scheme. Every password the library stores
    /// comes through here, so `password_min_length` holds for all of them.
    ///
    /// # Errors
    /// `InvalidInput` for a password shorter than `password_min_length` characters, with a NUL
    /// byte, or one the scheme cannot take.
    pub fn hash_password(&self, password: &str) -> Result<String> {
        let config = self.config();
        password::hash_new(config.password_scheme, password, config.password_min_length)
    }
}

pub(crate) fn checked_forwarder(
    domain: &str,
    local_part: &str,
    remote_name: &str,
) -> Result<Forwarder> {
    Ok(Forwarder {
        domain: normalize_domain(domain)?,
        local_part: normalize_local_part(local_part)?,
        remote_name: address::normalize_remote_list(remote_name)?,
    })
}

/// Refuses targets that come straight back: the forwarder's own address (under the domain or any
/// alias of it), or, for a catch-all, an address of the same domain that nothing else answers for.
fn check_no_loop(db: &mut dyn Backend, fwd: &Forwarder) -> Result<()> {
    let mut own_domains = vec![fwd.domain.clone()];
    own_domains.extend(
        sql::aliases(db, Some(&fwd.domain))?
            .into_iter()
            .map(|a| a.alias),
    );
    for target in address::parse_remote_list(&fwd.remote_name) {
        let Ok((local, domain)) = address::split_address(&target) else {
            continue;
        };
        if !own_domains.contains(&domain) {
            continue;
        }
        let loops = if local == fwd.local_part {
            true
        } else if fwd.local_part == CATCH_ALL {
            sql::popbox(db, &fwd.domain, &local)?.is_none()
                && sql::forwarder(db, &fwd.domain, &local)?.is_none()
        } else {
            false
        };
        if loops {
            return Err(Error::invalid(format!(
                "forwarding {}@{} to {} would loop",
                fwd.local_part,
                fwd.domain,
                printable(&target)
            )));
        }
    }
    Ok(())
}
