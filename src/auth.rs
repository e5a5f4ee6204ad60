//! Authentication by tpop3d's `auth-mysql` rules (legacy contract §3), plus the control panel's
//! domain login.
//!
//! Unknown users cost the same as wrong passwords: a dummy hash in the policy scheme is verified
//! instead, and every failure is the same `AuthFailed` error.

use std::sync::OnceLock;

use crate::address::{self, split_login};
use crate::audit;
use crate::error::{Error, Result};
use crate::mailbox::{Mailbox, StoredMailbox};
use crate::password::{self, Scheme};
use crate::store::sql::{self, LoginRow};
use crate::vmail::Vmail;

/// One dummy hash per scheme, made on first need.
fn dummy_hash(scheme: Scheme) -> &'static str {
    static CRYPT: OnceLock<String> = OnceLock::new();
    static OTHER: OnceLock<(Scheme, String)> = OnceLock::new();
    let make = |s| password::hash(s, "vmailsql dummy password").unwrap_or_default();
    if scheme == Scheme::Crypt {
        return CRYPT.get_or_init(|| make(scheme));
    }
    let (made_for, hash) = OTHER.get_or_init(|| (scheme, make(scheme)));
    if *made_for == scheme {
        hash
    } else {
        CRYPT.get_or_init(|| make(Scheme::Crypt))
    }
}

impl Vmail {
    /// Checks a POP3 login (`local@domain`, or any configured separator) and its password.
    ///
    /// On success returns the mailbox; with `upgrade_on_login`, a weak stored hash is rewritten
    /// in the policy scheme (only if it is still the value that was verified).
    ///
    /// # Errors
    /// `AuthFailed` for an unknown user, a wrong password or a malformed login, all alike;
    /// `Temporary` when the database is unreachable; `UnsafeData` when the popbox's stored path
    /// or Unix user is unsafe.
    pub fn authenticate(&self, login: &str, password: &str) -> Result<Mailbox> {
        self.authenticate_bytes(login, password.as_bytes())
    }

    /// As [`Vmail::authenticate`], for a password that may not be UTF-8 (tpop3d compared bytes,
    /// so a legacy site may hold hashes of Latin-1 passwords). A weak hash is upgraded on login
    /// only when the password is UTF-8.
    ///
    /// # Errors
    /// As [`Vmail::authenticate`].
    pub fn authenticate_bytes(&self, login: &str, password: &[u8]) -> Result<Mailbox> {
        let Some(row) = self.login_row(login)? else {
            self.waste_time(password);
            return Err(Error::auth_failed());
        };
        let stored = row.popbox.password_hash.clone().unwrap_or_default();
        if !password::verify_bytes(&stored, password) {
            return Err(Error::auth_failed());
        }
        let mailbox = mailbox_of(&row)?;
        if let Ok(password) = std::str::from_utf8(password) {
            self.maybe_upgrade(&row, &stored, password);
        }
        Ok(mailbox)
    }

    /// Checks an APOP login (RFC 1939): `digest` is hex MD5 of `timestamp` (with its angle
    /// brackets) followed by the cleartext. Only `{plaintext}` popboxes can use APOP.
    ///
    /// # Errors
    /// As [`Vmail::authenticate`].
    pub fn authenticate_apop(&self, login: &str, timestamp: &str, digest: &str) -> Result<Mailbox> {
        let row = self.login_row(login)?.ok_or_else(Error::auth_failed)?;
        let stored = row.popbox.password_hash.as_deref().unwrap_or("");
        if !password::verify_apop(stored, timestamp, digest) {
            return Err(Error::auth_failed());
        }
        mailbox_of(&row)
    }

    /// The mailbox and cleartext of a `{plaintext}` popbox, for a POP3 server that computes APOP
    /// itself (Dovecot's credentials lookup).
    ///
    /// # Errors
    /// `AuthFailed` when the user is unknown or its password is not stored in plaintext;
    /// otherwise as [`Vmail::authenticate`].
    pub fn plaintext_credentials(&self, login: &str) -> Result<(Mailbox, String)> {
        let row = self.login_row(login)?.ok_or_else(Error::auth_failed)?;
        let stored = row.popbox.password_hash.as_deref().unwrap_or("");
        let clear = password::plaintext(stored).ok_or_else(Error::auth_failed)?;
        Ok((mailbox_of(&row)?, clear.to_string()))
    }

    /// The mailbox of a POP3 login without checking a password (a user-database lookup).
    ///
    /// # Errors
    /// `NotFound` for an unknown user; otherwise as [`Vmail::authenticate`].
    pub fn mailbox(&self, login: &str) -> Result<Mailbox> {
        let row = self
            .login_row(login)?
            .ok_or_else(|| Error::not_found("no such popbox"))?;
        mailbox_of(&row)
    }

    /// Checks a domain administrator's password (`domain.password_hash`), as the control
    /// panel's sign-in does.
    ///
    /// # Errors
    /// `AuthFailed` for an unknown domain or a wrong password, alike; `Temporary` when the
    /// database is unreachable.
    pub fn authenticate_domain(&self, domain: &str, password: &str) -> Result<()> {
        let found = match address::normalize_domain(domain) {
            Ok(name) => self.read(|db| sql::domain(db, &name, false))?,
            Err(_) => None,
        };
        let Some(domain) = found else {
            audit::sign_in_failed(self, domain);
            self.waste_time(password.as_bytes());
            return Err(Error::auth_failed());
        };
        let stored = domain.password_hash.unwrap_or_default();
        if !password::verify(&stored, password) {
            audit::sign_in_failed(self, &domain.name);
            return Err(Error::auth_failed());
        }
        if self.should_upgrade(&stored) {
            if let Ok(new) = password::hash(self.config().password_scheme, password) {
                let _ =
                    self.write(|db| audit::swap_domain_hash(db, self, &domain.name, &stored, &new));
            }
        }
        Ok(())
    }

    /// Finds the one popbox a login names, or `None` (tpop3d: exactly one row, or failure).
    fn login_row(&self, login: &str) -> Result<Option<LoginRow>> {
        let Some((local, domain)) = split_login(login, &self.config().login_separators) else {
            return Ok(None);
        };
        let (Ok(local), Ok(domain)) = (
            address::normalize_lookup_local_part(local),
            address::normalize_domain(domain),
        ) else {
            return Ok(None);
        };
        let via_alias = self.config().login_via_alias;
        let mut rows = self.read(|db| sql::login(db, &domain, &local, via_alias))?;
        Ok((rows.len() == 1).then(|| rows.remove(0)))
    }

    /// Spends what a real verification would, so unknown users cannot be told apart by time.
    fn waste_time(&self, password: &[u8]) {
        let _ = password::verify_bytes(dummy_hash(self.config().password_scheme), password);
    }

    fn should_upgrade(&self, stored: &str) -> bool {
        let config = self.config();
        config.upgrade_on_login
            && password::identify(stored)
                .is_some_and(|s| s.weak && (!s.plaintext || config.upgrade_plaintext))
    }

    /// Upgrade on login; a failure here never fails the login that triggered it.
    fn maybe_upgrade(&self, row: &LoginRow, stored: &str, password: &str) {
        if !self.should_upgrade(stored) {
            return;
        }
        if let Ok(new) = password::hash(self.config().password_scheme, password) {
            let _ = self.write(|db| {
                audit::swap_popbox_hash(db, self, &row.popbox, (stored, &new), "rehashed")
            });
        }
    }
}

/// The checked mailbox of a login row.
fn mailbox_of(row: &LoginRow) -> Result<Mailbox> {
    Mailbox::from_stored(&StoredMailbox {
        domain: &row.popbox.domain,
        local_part: &row.popbox.local_part,
        domain_path: row.path.as_deref(),
        unix_user: row.unix_user.as_deref(),
        mbox_name: row.popbox.mbox_name.as_deref(),
    })
}
