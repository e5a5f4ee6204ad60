//! Dovecot's `{OTP}`: the state of an RFC 2289 one-time-password account, `algorithm sequence
//! seed hash` (`sha1 1024 cecd992d65a043f7 255f171d1e5c14d6` from `doveadm pw -s OTP`).
//!
//! The state holds the pass phrase's hash folded to 64 bits and then hashed `sequence` more
//! times; each OTP login replaces it with the one-time password just used and a sequence one
//! lower, so the relation holds throughout. The static pass phrase therefore still verifies:
//! recompute the chain from the stored seed and sequence, exactly as Dovecot does for a
//! plaintext login. What cannot be done here is an OTP login itself (the client's one-time
//! response), which needs the SASL exchange and a write of the new state.

use md4::Md4;
use md5::Md5;
use sha1::Sha1;

use super::{ct_eq, digest::decode_hex, limits};

/// RFC 2289's seed: 1 to 16 alphanumeric characters.
const MAX_SEED_LEN: usize = 16;

/// The hash function of an OTP state, named as Dovecot writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Md4,
    Md5,
    Sha1,
}

/// A validated `{OTP}` state.
pub(super) struct OtpState<'a> {
    alg: Alg,
    /// How many times the folded hash is hashed again (checked against the cost limit).
    pub(super) sequence: u32,
    seed: &'a str,
    expected: [u8; 8],
}

/// Parses `algorithm sequence seed hash` as Dovecot prints it (single spaces, lower-case
/// algorithm, canonical decimal): Dovecot compares its re-printed state with the stored one, so
/// any other spelling never verified there.
pub(super) fn parse(body: &str) -> Option<OtpState<'_>> {
    let mut fields = body.split(' ');
    let (alg, sequence, seed, hash) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let alg = match alg {
        "md4" => Alg::Md4,
        "md5" => Alg::Md5,
        "sha1" => Alg::Sha1,
        _ => return None,
    };
    let canonical = sequence.bytes().all(|b| b.is_ascii_digit())
        && (sequence == "0" || !sequence.starts_with('0'));
    let sequence = sequence.parse::<u32>().ok().filter(|_| canonical)?;
    let seed_ok =
        (1..=MAX_SEED_LEN).contains(&seed.len()) && seed.bytes().all(|b| b.is_ascii_alphanumeric());
    let mut expected = [0u8; 8];
    (seed_ok && decode_hex(hash, &mut expected)).then_some(OtpState {
        alg,
        sequence,
        seed,
        expected,
    })
}

impl OtpState<'_> {
    /// The algorithm's name, for cost classes.
    pub(super) fn alg_name(&self) -> &'static str {
        match self.alg {
            Alg::Md4 => "md4",
            Alg::Md5 => "md5",
            Alg::Sha1 => "sha1",
        }
    }

    /// True when the sequence asks for more hashing than a login may spend.
    pub(super) fn too_costly(&self) -> bool {
        self.sequence > limits::MAX_OTP_SEQUENCE
    }

    /// Recomputes the chain from the pass phrase and compares in constant time.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        if self.too_costly() {
            return false;
        }
        // RFC 2289 section 6: the seed is case-insensitive and hashed in lower case.
        let seed = self.seed.to_ascii_lowercase();
        let mut folded = fold(self.alg, &[seed.as_bytes(), password]);
        for _ in 0..self.sequence {
            folded = fold(self.alg, &[&folded]);
        }
        ct_eq(&folded, &self.expected)
    }
}

/// The hash of `parts`, folded to 64 bits as RFC 2289 appendix A does for each algorithm.
fn fold(alg: Alg, parts: &[&[u8]]) -> [u8; 8] {
    fn digest<D: sha1::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        parts.iter().for_each(|p| d.update(p));
        d.finalize().to_vec()
    }
    let mut out = [0u8; 8];
    match alg {
        Alg::Md4 | Alg::Md5 => {
            let d = match alg {
                Alg::Md4 => digest::<Md4>(parts),
                _ => digest::<Md5>(parts),
            };
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = d[i] ^ d[i + 8];
            }
        }
        Alg::Sha1 => {
            // Five words folded to two, each then byte-reversed: RFC 2289's SHA-1 variant.
            let d = digest::<Sha1>(parts);
            for (i, byte) in out.iter_mut().enumerate() {
                let (word, at) = (i / 4, 3 - i % 4);
                let x = d[word * 4 + at] ^ d[word * 4 + 8 + at];
                *byte = if word == 0 { x ^ d[16 + at] } else { x };
            }
        }
    }
    out
}
