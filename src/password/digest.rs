//! Plain digests (`{md5}`, `{sha1}`, `{SHA256}`, `{PLAIN-MD4}`, ...), salted digests (`{SSHA}`
//! family), Dovecot's `{DIGEST-MD5}` (an MD5 of user, realm and password) and the old MySQL
//! `PASSWORD()` function (`{mysql}`).
//!
//! Encodings follow Dovecot: a fixed-size digest may be stored in hex (either case) or in standard
//! padded base64, told apart by length; a salted digest is base64 of digest || salt.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md4::Md4;
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::ct_eq;

/// The digest functions behind the unsalted and salted schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alg {
    Md4,
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Alg {
    /// Output size in bytes.
    fn size(self) -> usize {
        match self {
            Alg::Md4 | Alg::Md5 => 16,
            Alg::Sha1 => 20,
            Alg::Sha256 => 32,
            Alg::Sha512 => 64,
        }
    }

    /// The digest of the concatenation of `parts` (password, then salt for the SSHA family).
    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for part in parts {
                d.update(part);
            }
            d.finalize().to_vec()
        }
        match self {
            Alg::Md4 => run::<Md4>(parts),
            Alg::Md5 => run::<Md5>(parts),
            Alg::Sha1 => run::<Sha1>(parts),
            Alg::Sha256 => run::<Sha256>(parts),
            Alg::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// A validated digest-style stored value.
pub(super) enum Digest {
    /// An unsalted digest; `raw` has exactly `alg.size()` bytes.
    Plain { alg: Alg, hex: bool, raw: Vec<u8> },
    /// `{SSHA*}`: `raw` is digest || salt, with at least one byte of salt (as Dovecot demands).
    Salted { alg: Alg, raw: Vec<u8> },
    /// Old MySQL `PASSWORD()`: both 31-bit words big-endian (16 hex), or only the first (8 hex).
    Mysql { expected: Vec<u8> },
}

impl Digest {
    /// The stable display name reported by `identify`.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Digest::Plain { alg, hex, .. } => match (alg, hex) {
                (Alg::Md4, true) => "MD4 (hex)",
                (Alg::Md4, false) => "MD4 (base64)",
                (Alg::Md5, true) => "MD5 (hex)",
                (Alg::Md5, false) => "MD5 (base64)",
                (Alg::Sha1, true) => "SHA-1 (hex)",
                (Alg::Sha1, false) => "SHA-1 (base64)",
                (Alg::Sha256, true) => "SHA-256 (hex)",
                (Alg::Sha256, false) => "SHA-256 (base64)",
                (Alg::Sha512, true) => "SHA-512 (hex)",
                (Alg::Sha512, false) => "SHA-512 (base64)",
            },
            Digest::Salted { alg, .. } => match alg {
                // Dovecot has no salted MD4; nothing parses one.
                Alg::Md4 => "SMD4",
                Alg::Md5 => "SMD5",
                Alg::Sha1 => "SSHA",
                Alg::Sha256 => "SSHA256",
                Alg::Sha512 => "SSHA512",
            },
            Digest::Mysql { expected } if expected.len() == 4 => "old MySQL PASSWORD (short)",
            Digest::Mysql { .. } => "old MySQL PASSWORD",
        }
    }

    /// Recomputes the digest from `password` and compares in constant time.
    pub(super) fn verify(&self, pw: &[u8]) -> bool {
        match self {
            Digest::Plain { alg, raw, .. } => ct_eq(&alg.hash(&[pw]), raw),
            Digest::Salted { alg, raw } => {
                let (digest, salt) = raw.split_at(alg.size());
                ct_eq(&alg.hash(&[pw, salt]), digest)
            }
            Digest::Mysql { expected } => {
                let [nr, nr2] = mysql_old_password(pw);
                let mut computed = [0u8; 8];
                computed[..4].copy_from_slice(&nr.to_be_bytes());
                computed[4..].copy_from_slice(&nr2.to_be_bytes());
                ct_eq(&computed[..expected.len()], expected)
            }
        }
    }
}

/// Decodes exactly `out.len()` bytes of hex, either case; false for anything else.
pub(super) fn decode_hex(s: &str, out: &mut [u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if s.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

/// Exactly `out.len()` bytes as hex (either case) or as standard padded base64: Dovecot reads
/// its hex-encoded schemes both ways, told apart by length.
pub(super) fn decode_hex_or_base64(s: &str, out: &mut [u8]) -> bool {
    if decode_hex(s, out) {
        return true;
    }
    match STANDARD.decode(s) {
        Ok(raw) if raw.len() == out.len() => {
            out.copy_from_slice(&raw);
            true
        }
        _ => false,
    }
}

/// Dovecot's `{DIGEST-MD5}`: MD5 of `user:realm:password` (RFC 2831's A1 secret), where a login
/// `name@realm` gives user `name` and realm `realm`, and one without `@` an empty realm, as
/// `doveadm pw -s DIGEST-MD5 -u LOGIN` computes it. It cannot be checked without the login.
pub(super) struct DigestMd5 {
    raw: [u8; 16],
}

/// 32 hex digits or the base64 of 16 bytes.
pub(super) fn parse_digest_md5(s: &str) -> Option<DigestMd5> {
    let mut raw = [0u8; 16];
    decode_hex_or_base64(s, &mut raw).then_some(DigestMd5 { raw })
}

impl DigestMd5 {
    /// Recomputes the digest for `user` (split at its first `@`) and compares in constant time.
    pub(super) fn verify(&self, user: &str, password: &[u8]) -> bool {
        let (name, realm) = user.split_once('@').unwrap_or((user, ""));
        let computed = md5(&[name.as_bytes(), b":", realm.as_bytes(), b":", password]);
        ct_eq(&computed, &self.raw)
    }
}

/// A digest stored as hex (either case): what tpop3d accepts without a prefix.
pub(super) fn parse_hex(alg: Alg, s: &str) -> Option<Digest> {
    let mut raw = vec![0u8; alg.size()];
    decode_hex(s, &mut raw).then_some(Digest::Plain {
        alg,
        hex: true,
        raw,
    })
}

/// A digest stored as hex or as standard padded base64 (Dovecot guesses the same way, by length).
///
/// The base64 decoder is strict (padding required, no stray bits), so tpop3d's broken `{md5}`
/// encoder output, which never matched there, cannot match a different password here either.
pub(super) fn parse_unsalted(alg: Alg, s: &str) -> Option<Digest> {
    parse_hex(alg, s).or_else(|| {
        let raw = STANDARD.decode(s).ok()?;
        (raw.len() == alg.size()).then_some(Digest::Plain {
            alg,
            hex: false,
            raw,
        })
    })
}

/// A salted digest: base64 of digest || salt, salt at least one byte.
pub(super) fn parse_salted(alg: Alg, s: &str) -> Option<Digest> {
    let raw = STANDARD.decode(s).ok()?;
    (raw.len() > alg.size()).then_some(Digest::Salted { alg, raw })
}

/// `{mysql}`: 16 (or 8) lower-case hex digits as `PASSWORD()` printed them, each 32-bit word with
/// its top bit clear (the function masks it off, so anything else cannot be its output).
pub(super) fn parse_mysql(s: &str) -> Option<Digest> {
    let lower_hex = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex || (s.len() != 16 && s.len() != 8) {
        return None;
    }
    let mut expected = vec![0u8; s.len() / 2];
    if !decode_hex(s, &mut expected) || expected.chunks(4).any(|word| word[0] & 0x80 != 0) {
        return None;
    }
    Some(Digest::Mysql { expected })
}

/// MySQL's pre-4.1 `PASSWORD()` (`hash_password()` in its sources): spaces and tabs are skipped.
///
/// MySQL computes in `unsigned long`; only the low 31 bits are kept and every operation (add,
/// multiply, left shift, xor) only carries upwards, so wrapping 32-bit arithmetic is exact.
fn mysql_old_password(password: &[u8]) -> [u32; 2] {
    let mut nr: u32 = 1_345_345_333;
    let mut nr2: u32 = 0x1234_5671;
    let mut add: u32 = 7;
    for &c in password.iter().filter(|&&c| c != b' ' && c != b'\t') {
        let tmp = u32::from(c);
        nr ^= (nr & 63)
            .wrapping_add(add)
            .wrapping_mul(tmp)
            .wrapping_add(nr << 8);
        nr2 = nr2.wrapping_add((nr2 << 8) ^ nr);
        add = add.wrapping_add(tmp);
    }
    [nr & 0x7fff_ffff, nr2 & 0x7fff_ffff]
}

/// MD5 of the concatenation of `parts` (APOP hashes timestamp || secret).
pub(super) fn md5(parts: &[&[u8]]) -> Vec<u8> {
    Alg::Md5.hash(parts)
}

/// Lower-case hex MD5, as `{md5}` is written.
pub(super) fn md5_hex(data: &[u8]) -> String {
    md5(&[data]).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of a stored cleartext and a password.
///
/// Both sides are hashed first so that the comparison takes the same time whatever the lengths
/// (a plain slice comparison returns early on a length mismatch and would leak the length).
pub(super) fn plain_eq(clear: &str, password: &[u8]) -> bool {
    ct_eq(
        &Alg::Sha256.hash(&[clear.as_bytes()]),
        &Alg::Sha256.hash(&[password]),
    )
}
