//! Control-panel sessions in the seed's `web_session` table (one session per domain).
//!
//! The token handed to the browser is 256 random bits; the `char(32)` column keeps only the first
//! 128 bits of its SHA-256, so a copy of the database cannot be replayed as a cookie. Checks are
//! constant-time.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::address::normalize_domain;
use crate::audit::{self, Entry};
use crate::error::{Error, Result};
use crate::store::sql;
use crate::vmail::Vmail;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::temporary(format!("no randomness from the OS: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Vmail {
    /// Starts a control-panel session for a domain (replacing any previous one) and returns
    /// its token: 64 hex digits for the cookie.
    ///
    /// # Errors
    /// `NotFound` when the domain does not exist.
    pub fn create_session(&self, domain: &str) -> Result<String> {
        let domain = normalize_domain(domain)?;
        let token = new_token()?;
        let expires = now() + self.session_seconds();
        self.write(|db| {
            sql::domain(db, &domain, true)?
                .ok_or_else(|| Error::not_found(format!("no such domain {domain}")))?;
            audit::record(db, self, Entry::session("signed-in", &domain))?;
            sql::replace_session(db, &domain, &token_hash(&token), expires)
        })?;
        Ok(token)
    }

    /// Checks a session token and extends its life.
    ///
    /// # Errors
    /// `AuthFailed` for an unknown, wrong or expired session.
    pub fn validate_session(&self, domain: &str, token: &str) -> Result<()> {
        let domain = normalize_domain(domain).map_err(|_| Error::auth_failed())?;
        let hash = token_hash(token);
        let (stored, expires) = self
            .read(|db| sql::session(db, &domain))?
            .ok_or_else(Error::auth_failed)?;
        let matches: bool = stored.as_bytes().ct_eq(hash.as_bytes()).into();
        if !matches || expires < now() {
            return Err(Error::auth_failed());
        }
        // The extension only applies to the session just checked, and only while it is still
        // unexpired: one that was destroyed or replaced meanwhile does not validate.
        let (checked_at, expires) = (now(), now() + self.session_seconds());
        if self.write_one(|db| sql::touch_session(db, &domain, &hash, checked_at, expires))? {
            Ok(())
        } else {
            Err(Error::auth_failed())
        }
    }

    /// Ends a domain's session (sign-out).
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn destroy_session(&self, domain: &str) -> Result<()> {
        let domain = normalize_domain(domain)?;
        self.write_one(|db| audit::delete_session(db, self, &domain))
            .map(drop)
    }

    /// Deletes every expired session; returns how many.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn expire_sessions(&self) -> Result<u64> {
        self.write_one(|db| audit::expire_sessions(db, self, now()))
    }

    fn session_seconds(&self) -> i64 {
        i64::try_from(self.config().session_lifetime.as_secs()).unwrap_or(i64::MAX / 2)
    }
}
