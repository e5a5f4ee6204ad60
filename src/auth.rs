//! Authentication by tpop3d's `auth-mysql` rules (legacy contract §3), plus the control panel's
//! domain login.
//!
//! Unknown users cost the same as wrong passwords, whatever the stored scheme: every check goes
//! through [`equal_time::check`], and every failure is the same `AuthFailed` error.

pub(crate) mod equal_time;

use crate::address::{self, split_login};
use crate::audit;
use crate::error::{Error, Result};
use crate::mailbox::{unsafe_stored, Mailbox, StoredMailbox};
use crate::password;
use crate::store::sql::{self, LoginRow};
use crate::vmail::Vmail;
use equal_time::{Secret, Verdict};

/// A stored hash too costly to compute is the site's problem, reported like other unsafe rows.
pub(crate) fn too_costly(account: &str) -> Error {
    unsafe_stored(
        account,
        Error::invalid("its password hash exceeds the cost limits (see `vmailctl check`)"),
    )
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
        let row = self.login_row(login)?;
        let stored = row.as_ref().and_then(|r| r.popbox.password_hash.as_deref());
        let user = row.as_ref().map(address_of).unwrap_or_default();
        let secret = Secret::Password {
            user: &user,
            password,
        };
        let row = self.checked_login(row.as_ref(), stored, secret)?;
        let stored = stored.unwrap_or_default();
        let mailbox = mailbox_of(row)?;
        if let Ok(password) = std::str::from_utf8(password) {
            self.maybe_upgrade(row, stored, password);
        }
        Ok(mailbox)
    }

    /// Checks an APOP login (RFC 1939): `digest` is hex MD5 of `timestamp` (with its angle
    /// brackets) followed by the cleartext. Only `{plaintext}` popboxes can use APOP.
    ///
    /// # Errors
    /// As [`Vmail::authenticate`].
    pub fn authenticate_apop(&self, login: &str, timestamp: &str, digest: &str) -> Result<Mailbox> {
        let row = self.login_row(login)?;
        let stored = row.as_ref().and_then(|r| r.popbox.password_hash.as_deref());
        let secret = Secret::Apop { timestamp, digest };
        mailbox_of(self.checked_login(row.as_ref(), stored, secret)?)
    }

    /// The row whose stored hash `secret` matches, through the one equal-time check.
    fn checked_login<'r>(
        &self,
        row: Option<&'r LoginRow>,
        stored: Option<&str>,
        secret: Secret<'_>,
    ) -> Result<&'r LoginRow> {
        match (
            equal_time::check(self.config().password_scheme, stored, secret),
            row,
        ) {
            (Verdict::Match, Some(row)) => Ok(row),
            (Verdict::TooCostly, Some(row)) => Err(too_costly(&address_of(row))),
            _ => Err(Error::auth_failed()),
        }
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
        let stored = found.as_ref().and_then(|d| d.password_hash.clone());
        let secret = Secret::Password {
            user: found.as_ref().map_or(domain, |d| d.name.as_str()),
            password: password.as_bytes(),
        };
        let verdict = equal_time::check(self.config().password_scheme, stored.as_deref(), secret);
        let domain = match (verdict, found) {
            (Verdict::Match, Some(domain)) => domain,
            (Verdict::TooCostly, Some(d)) => return Err(too_costly(&format!("domain {}", d.name))),
            (_, found) => {
                audit::sign_in_failed(self, found.as_ref().map_or(domain, |d| d.name.as_str()));
                return Err(Error::auth_failed());
            }
        };
        let stored = stored.unwrap_or_default();
        if self.should_upgrade(&stored) {
            if let Ok(new) = password::hash(self.config().password_scheme, password) {
                let _ = self.write_aside(|db| {
                    audit::swap_domain_hash(db, self, &domain.name, &stored, &new)
                });
            }
        }
        Ok(())
    }

    /// Finds the one popbox a login names, or `None` (tpop3d: exactly one row, or failure).
    fn login_row(&self, login: &str) -> Result<Option<LoginRow>> {
        // tpop3d's parser made inner blanks a protocol error; without this check MariaDB's
        // PAD SPACE collation would accept `alice @example.org` where SQLite refuses it.
        if login.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Ok(None);
        }
        let Some((local, domain)) = split_login(login, &self.config().login_separators) else {
            return Ok(None);
        };
        // tpop3d looked up `example.org.` as it was, and found nothing.
        if domain.ends_with('.') {
            return Ok(None);
        }
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
            let _ = self.write_aside(|db| {
                audit::swap_popbox_hash(db, self, &row.popbox, (stored, &new), "rehashed")
            });
        }
    }
}

/// The popbox's own address as stored: the name `{DIGEST-MD5}` hashed, whatever the login was.
fn address_of(row: &LoginRow) -> String {
    format!("{}@{}", row.popbox.local_part, row.popbox.domain)
}

/// The checked mailbox of a login row.
fn mailbox_of(row: &LoginRow) -> Result<Mailbox> {
    let mailbox = Mailbox::from_stored(&StoredMailbox {
        domain: &row.popbox.domain,
        local_part: &row.popbox.local_part,
        domain_path: row.path.as_deref(),
        unix_user: row.unix_user.as_deref(),
        mbox_name: row.popbox.mbox_name.as_deref(),
    })?;
    // tpop3d refused a login whose numeric uid had no passwd entry.
    if address::uid_has_passwd_entry(&mailbox.unix_user)? == Some(false) {
        return Err(Error::auth_failed());
    }
    Ok(mailbox)
}
