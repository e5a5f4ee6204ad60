//! Dovecot's `{PBKDF2}`: `$1$salt$rounds$hex`, PBKDF2-HMAC-SHA1 over the salt's characters as
//! they are written, 20 bytes of output in lower-case hex (what `doveadm pw -s PBKDF2` writes).

use super::{ct_eq, limits};

/// A validated `{PBKDF2}` value.
pub(super) struct Pbkdf2Hash<'a> {
    salt: &'a str,
    /// Iterations, as stored (checked against [`limits::MAX_PBKDF2_ROUNDS`] by the caller).
    pub(super) rounds: u32,
    expected: [u8; 20],
}

/// Parses `$1$salt$rounds$hex`; `None` for anything Dovecot could not have written.
pub(super) fn parse(body: &str) -> Option<Pbkdf2Hash<'_>> {
    let rest = body.strip_prefix("$1$")?;
    let mut fields = rest.split('$');
    let (salt, rounds, hex) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || salt.is_empty() || salt.len() > 64 {
        return None;
    }
    let canonical = !rounds.starts_with('0') && rounds.bytes().all(|b| b.is_ascii_digit());
    let rounds = rounds.parse::<u32>().ok().filter(|&r| canonical && r > 0)?;
    let mut expected = [0u8; 20];
    super::digest::decode_hex(hex, &mut expected).then_some(Pbkdf2Hash {
        salt,
        rounds,
        expected,
    })
}

impl Pbkdf2Hash<'_> {
    /// True when the stored iteration count is beyond what a login may spend.
    pub(super) fn too_costly(&self) -> bool {
        self.rounds > limits::MAX_PBKDF2_ROUNDS
    }

    /// Recomputes and compares in constant time; never computes an over-cost value.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        if self.too_costly() {
            return false;
        }
        let mut computed = [0u8; 20];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
            password,
            self.salt.as_bytes(),
            self.rounds,
            &mut computed,
        );
        ct_eq(&computed, &self.expected)
    }
}
