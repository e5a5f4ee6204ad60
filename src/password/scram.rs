//! Dovecot's `{SCRAM-SHA-1}` and `{SCRAM-SHA-256}`: `iterations,salt,StoredKey,ServerKey`, the
//! three last in standard base64 (RFC 5802 section 3, what `doveadm pw` writes).
//!
//! A password is checked the way Dovecot checks it for a plaintext login: SaltedPassword =
//! PBKDF2-HMAC(password, salt, iterations), ClientKey = HMAC(SaltedPassword, "Client Key") and
//! the hash of ClientKey must equal StoredKey. ServerKey only serves the SASL exchange, so, as in
//! Dovecot, it must be well-formed but is not compared. The password is taken as its bytes:
//! Dovecot 2.3 does not SASLprep it either.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::{ct_eq, limits};

/// Fewer iterations than RFC 5802's minimum, which Dovecot refuses as an invalid entry.
const MIN_ITERATIONS: u32 = 4096;

/// The hash function of a SCRAM entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alg {
    Sha1,
    Sha256,
}

impl Alg {
    fn size(self) -> usize {
        match self {
            Alg::Sha1 => 20,
            Alg::Sha256 => 32,
        }
    }
}

/// A validated SCRAM entry.
pub(super) struct ScramHash {
    pub(super) alg: Alg,
    /// Iterations, as stored (checked against [`limits::MAX_SCRAM_ROUNDS`] before computing).
    pub(super) rounds: u32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
}

/// Parses `iterations,salt,StoredKey,ServerKey`; `None` for anything Dovecot would refuse.
pub(super) fn parse(alg: Alg, body: &str) -> Option<ScramHash> {
    let mut fields = body.split(',');
    let (rounds, salt, stored_key, server_key) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let canonical = !rounds.starts_with('0') && rounds.bytes().all(|b| b.is_ascii_digit());
    let rounds = rounds
        .parse::<u32>()
        .ok()
        .filter(|&r| canonical && r >= MIN_ITERATIONS)?;
    let salt = STANDARD.decode(salt).ok().filter(|s| !s.is_empty())?;
    let key = |s: &str| STANDARD.decode(s).ok().filter(|k| k.len() == alg.size());
    let stored_key = key(stored_key)?;
    key(server_key)?;
    Some(ScramHash {
        alg,
        rounds,
        salt,
        stored_key,
    })
}

impl ScramHash {
    /// The display name reported by `identify`.
    pub(super) fn name(&self) -> &'static str {
        match self.alg {
            Alg::Sha1 => "SCRAM-SHA-1",
            Alg::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// True when the stored iteration count is beyond what a login may spend.
    pub(super) fn too_costly(&self) -> bool {
        self.rounds > limits::MAX_SCRAM_ROUNDS
    }

    /// Recomputes StoredKey and compares in constant time; never computes an over-cost value.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        if self.too_costly() {
            return false;
        }
        let computed = match self.alg {
            Alg::Sha1 => stored_key_sha1(password, &self.salt, self.rounds),
            Alg::Sha256 => stored_key_sha256(password, &self.salt, self.rounds),
        };
        computed.is_some_and(|c| ct_eq(&c, &self.stored_key))
    }
}

/// H(HMAC(Hi(password, salt, rounds), "Client Key")), RFC 5802 section 3; Hi is PBKDF2.
fn stored_key_sha1(password: &[u8], salt: &[u8], rounds: u32) -> Option<Vec<u8>> {
    let mut salted = [0u8; 20];
    pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, rounds, &mut salted);
    let mut mac = Hmac::<Sha1>::new_from_slice(&salted).ok()?;
    mac.update(b"Client Key");
    Some(Sha1::digest(mac.finalize().into_bytes()).to_vec())
}

/// As [`stored_key_sha1`], with SHA-256.
fn stored_key_sha256(password: &[u8], salt: &[u8], rounds: u32) -> Option<Vec<u8>> {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut salted);
    let mut mac = Hmac::<Sha256>::new_from_slice(&salted).ok()?;
    mac.update(b"Client Key");
    Some(Sha256::digest(mac.finalize().into_bytes()).to_vec())
}
