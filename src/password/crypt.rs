//! The crypt(3) family: DES, MD5-crypt (`$1$`), SHA-crypt (`$5$`, `$6$`), bcrypt (`$2a$`,
//! `$2b$`, `$2y$`), plus dispatch to yescrypt (`$y$`) and Argon2 (`$argon2i$`, `$argon2id$`) in
//! [`super::kdf`].
//!
//! Stored strings are parsed strictly here, before any third-party code sees them: pwhash's own
//! parsers panic or underflow on some malformed input, and a string that no crypt(3) could have
//! written must be reported as malformed by `identify` rather than merely fail to match. Verifying
//! recomputes the whole string with pwhash's `hash_with` and compares it in constant time (pwhash's
//! `verify` helpers are not used: they swallow errors and we want one comparison routine).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pwhash::bcrypt::{BcryptSetup, BcryptVariant};
use pwhash::HashSetup;

use super::{ct_eq, kdf, limits, MAX_PASSWORD_LEN};
use crate::error::{Error, ErrorKind, Result};

/// The characters of crypt's base64 (the same set, in another order, for bcrypt).
const HASH64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which crypt format a string is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Des,
    Md5,
    Sha256,
    Sha512,
    Bcrypt,
    Yescrypt,
    Argon2i,
    Argon2id,
}

impl Kind {
    /// What `{crypt}` accepts: the formats of the system crypt(3) (libxcrypt on Debian).
    pub(super) const SYSTEM: [Kind; 6] = [
        Kind::Des,
        Kind::Md5,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Bcrypt,
        Kind::Yescrypt,
    ];
    /// What is accepted without any prefix (Dovecot style): the `$id$` formats, never DES, whose
    /// 13 characters could just as well be a cleartext password.
    pub(super) const BARE: [Kind; 5] = [
        Kind::Md5,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Bcrypt,
        Kind::Yescrypt,
    ];
}

/// A validated crypt string and the parameters needed to recompute it.
pub(super) struct CryptHash<'a> {
    kind: Kind,
    /// The whole string, compared against the recomputed one.
    full: &'a str,
    /// DES: the 2-character salt; MD5/SHA: the salt; bcrypt: the 22-character salt.
    salt: &'a str,
    /// SHA-crypt `rounds=`, bcrypt cost.
    rounds: Option<u32>,
}

fn is_hash64(s: &str) -> bool {
    s.bytes().all(|b| HASH64.contains(&b))
}

/// Splits `s` at its first `$`: `(before, after)`.
fn field(s: &str) -> Option<(&str, &str)> {
    s.split_once('$')
}

/// Parses `s` as one of `kinds`; `None` when it is another format or malformed.
pub(super) fn parse<'a>(s: &'a str, kinds: &[Kind]) -> Option<CryptHash<'a>> {
    let (kind, rest) = if let Some(rest) = s.strip_prefix("$1$") {
        (Kind::Md5, rest)
    } else if let Some(rest) = s.strip_prefix("$5$") {
        (Kind::Sha256, rest)
    } else if let Some(rest) = s.strip_prefix("$6$") {
        (Kind::Sha512, rest)
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|m| s.starts_with(m)) {
        (Kind::Bcrypt, s)
    } else if s.starts_with("$y$") {
        (Kind::Yescrypt, s)
    } else if s.starts_with("$argon2id$") {
        (Kind::Argon2id, s)
    } else if s.starts_with("$argon2i$") {
        (Kind::Argon2i, s)
    } else {
        (Kind::Des, s)
    };
    if !kinds.contains(&kind) {
        return None;
    }
    let mut hash = CryptHash {
        kind,
        full: s,
        salt: "",
        rounds: None,
    };
    let ok = match kind {
        Kind::Des => {
            // 2 salt characters and 11 of hash; libxcrypt rejects anything outside the alphabet.
            hash.salt = s.get(..2)?;
            s.len() == 13 && is_hash64(s)
        }
        Kind::Md5 => {
            // glibc would silently truncate a longer salt and then never reproduce the string.
            let (salt, digest) = field(rest)?;
            hash.salt = salt;
            salt.len() <= 8 && is_hash64(salt) && digest.len() == 22 && is_hash64(digest)
        }
        Kind::Sha256 | Kind::Sha512 => {
            let (rounds, rest) = match rest.strip_prefix("rounds=") {
                Some(r) => {
                    let (n, rest) = field(r)?;
                    (Some(parse_rounds(n)?), rest)
                }
                None => (None, rest),
            };
            let (salt, digest) = field(rest)?;
            let len = if kind == Kind::Sha256 { 43 } else { 86 };
            hash.salt = salt;
            hash.rounds = rounds;
            salt.len() <= 16 && is_hash64(salt) && digest.len() == len && is_hash64(digest)
        }
        Kind::Bcrypt => {
            // $2b$NN$ + 22 characters of salt + 31 of hash.
            let cost = s.get(4..6)?;
            let canonical = s.len() == 60 && s.as_bytes()[6] == b'$' && is_hash64(&s[7..]);
            let cost = cost
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| cost.parse::<u32>().ok())
                .flatten()
                .filter(|c| (4..=31).contains(c));
            hash.rounds = cost;
            hash.salt = s.get(7..29)?;
            canonical && cost.is_some()
        }
        Kind::Yescrypt => kdf::yescrypt_plausible(s),
        Kind::Argon2i | Kind::Argon2id => kdf::argon2_plausible(s, kind == Kind::Argon2id),
    };
    ok.then_some(hash)
}

/// SHA-crypt's `rounds=N`: decimal without leading zeros, within glibc's range (glibc clamps other
/// values and writes the clamped number, so such a string can never be reproduced).
fn parse_rounds(n: &str) -> Option<u32> {
    let canonical = !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit());
    let rounds = n.parse::<u32>().ok().filter(|_| canonical)?;
    (1000..=999_999_999).contains(&rounds).then_some(rounds)
}

impl CryptHash<'_> {
    /// The stable display name reported by `identify`.
    pub(super) fn name(&self) -> &'static str {
        match self.kind {
            Kind::Des => "DES crypt",
            Kind::Md5 => "MD5-crypt",
            Kind::Sha256 => "SHA-256-crypt",
            Kind::Sha512 => "SHA-512-crypt",
            Kind::Bcrypt => "bcrypt",
            Kind::Yescrypt => "yescrypt",
            Kind::Argon2i => "Argon2i",
            Kind::Argon2id => "Argon2id",
        }
    }

    /// DES and MD5-crypt are weak; the others are today's recommendations.
    pub(super) fn weak(&self) -> bool {
        matches!(self.kind, Kind::Des | Kind::Md5)
    }

    /// The cost part of the string: rounds or cost, or the whole parameter field of yescrypt and
    /// Argon2 (everything before the salt).
    pub(super) fn cost_params(&self) -> String {
        match self.kind {
            Kind::Sha256 | Kind::Sha512 => format!("rounds={}", self.rounds.unwrap_or(5000)),
            Kind::Bcrypt => self.rounds.unwrap_or(0).to_string(),
            Kind::Yescrypt | Kind::Argon2i | Kind::Argon2id => {
                let fields: Vec<&str> = self.full.split('$').collect();
                fields[..fields.len().saturating_sub(2)].join("$")
            }
            Kind::Des | Kind::Md5 => String::new(),
        }
    }

    /// True when the stored cost is beyond [`super::limits`]: such a value is never computed.
    pub(super) fn too_costly(&self) -> bool {
        let rounds = self.rounds.unwrap_or(0);
        match self.kind {
            Kind::Sha256 | Kind::Sha512 => rounds > limits::MAX_SHA_CRYPT_ROUNDS,
            Kind::Bcrypt => rounds > limits::MAX_BCRYPT_COST,
            Kind::Yescrypt => kdf::yescrypt_too_costly(self.full),
            Kind::Argon2i | Kind::Argon2id => kdf::argon2_too_costly(self.full),
            Kind::Des | Kind::Md5 => false,
        }
    }

    /// Recomputes the hash of `password` with the stored parameters; constant-time comparison.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        if self.too_costly() {
            return false;
        }
        // A C string ends at NUL, so crypt(3) never hashed one; libxcrypt refuses long passphrases.
        if password.contains(&0) || password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        // Defence in depth: the stored string was validated, but it is still database input fed
        // to third-party code that uses assertions. A panic here must mean "no", not a crash of
        // the Exim or POP3 process.
        catch_unwind(AssertUnwindSafe(|| self.verify_inner(password))).unwrap_or(false)
    }

    fn verify_inner(&self, password: &[u8]) -> bool {
        let computed = match self.kind {
            #[allow(deprecated)] // deprecated for new hashes only; we never write DES
            Kind::Des => pwhash::unix_crypt::hash_with(self.salt, password),
            #[allow(deprecated)] // deprecated for new hashes only; written on request only
            Kind::Md5 => pwhash::md5_crypt::hash_with(self.setup(), password),
            #[allow(deprecated)] // pwhash prefers SHA-512-crypt; Dovecot's SHA256-CRYPT needs this
            Kind::Sha256 => pwhash::sha256_crypt::hash_with(self.setup(), password),
            Kind::Sha512 => pwhash::sha512_crypt::hash_with(self.setup(), password),
            Kind::Bcrypt => {
                // pwhash computes every variant as $2b$; 2a/2y only differ for inputs that the
                // old buggy implementations mishandled, which is what libxcrypt also assumes.
                let variant = match self.full.as_bytes()[2] {
                    b'a' => BcryptVariant::V2a,
                    b'y' => BcryptVariant::V2y,
                    _ => BcryptVariant::V2b,
                };
                let setup = BcryptSetup {
                    salt: Some(self.salt),
                    cost: self.rounds,
                    variant: Some(variant),
                };
                pwhash::bcrypt::hash_with(setup, password)
            }
            Kind::Yescrypt => return kdf::verify_yescrypt(self.full, password),
            Kind::Argon2i | Kind::Argon2id => return kdf::verify_argon2(self.full, password),
        };
        computed.is_ok_and(|c| ct_eq(c.as_bytes(), self.full.as_bytes()))
    }

    fn setup(&self) -> HashSetup<'_> {
        HashSetup {
            salt: Some(self.salt),
            rounds: self.rounds,
        }
    }
}

/// `N` random bytes from the OS.
pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("no random salt from the OS: {e}"),
        )
    })?;
    Ok(buf)
}

/// A random salt of `N` crypt-base64 characters (6 bits each: 256 is a multiple of 64, so taking
/// each byte modulo 64 is unbiased).
fn random_salt<const N: usize>() -> Result<String> {
    let bytes = random_bytes::<N>()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(HASH64[usize::from(b & 63)]))
        .collect())
}

fn hash_failed(e: pwhash::error::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("password hashing failed: {e}"))
}

/// `$6$` + 16 salt characters, default 5000 rounds (written without `rounds=`, like glibc).
pub(super) fn hash_sha512(password: &str) -> Result<String> {
    let salt = random_salt::<16>()?;
    let setup = HashSetup {
        salt: Some(&salt),
        rounds: None,
    };
    pwhash::sha512_crypt::hash_with(setup, password).map_err(hash_failed)
}

/// `$5$` + 16 salt characters, default 5000 rounds.
pub(super) fn hash_sha256(password: &str) -> Result<String> {
    let salt = random_salt::<16>()?;
    let setup = HashSetup {
        salt: Some(&salt),
        rounds: None,
    };
    #[allow(deprecated)] // pwhash prefers SHA-512-crypt; SHA256-CRYPT is an explicit choice
    pwhash::sha256_crypt::hash_with(setup, password).map_err(hash_failed)
}

/// `$1$` + 8 salt characters: legacy, only for sites whose other readers need it.
pub(super) fn hash_md5(password: &str) -> Result<String> {
    let salt = random_salt::<8>()?;
    let setup = HashSetup {
        salt: Some(&salt),
        rounds: None,
    };
    #[allow(deprecated)] // weak on purpose: the administrator asked for CRYPT_MD5
    pwhash::md5_crypt::hash_with(setup, password).map_err(hash_failed)
}

/// `$2y$10$`: Dovecot's BLF-CRYPT variant name, understood by libxcrypt and PHP as well.
pub(super) fn hash_bcrypt(password: &str) -> Result<String> {
    // 22 characters carry 132 bits, of which bcrypt uses 128: 21 random characters, then one
    // whose low 4 bits are zero ('.', 'O', 'e', 'u' in bcrypt's alphabet), so the salt is
    // canonical and survives the decode/encode round trip inside every implementation.
    let mut salt = random_salt::<21>()?;
    let last = random_bytes::<1>()?[0];
    salt.push(char::from(b".Oeu"[usize::from(last & 3)]));
    let setup = BcryptSetup {
        salt: Some(&salt),
        cost: Some(10),
        variant: Some(BcryptVariant::V2y),
    };
    pwhash::bcrypt::hash_with(setup, password).map_err(hash_failed)
}
