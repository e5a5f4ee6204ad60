//! The memory-hard schemes: yescrypt (`$y$`, libxcrypt's format) and Argon2 (`$argon2i$`,
//! `$argon2id$`, the PHC strings Dovecot writes through libsodium).
//!
//! Their cost parameters come from the stored string, that is from the database. Memory is
//! allocated up front and an allocation failure aborts the whole process (an Exim or POP3
//! daemon), so a stored value asking for more than [`MAX_MEMORY`] is treated as malformed. Work
//! beyond [`super::limits`] is recognised but never computed.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params as ArgonParams, Version};
use subtle::ConstantTimeEq;
use yescrypt::{Params as YescryptParams, PasswordHasher as _, PasswordVerifier as _, Yescrypt};

use super::crypt::random_bytes;
use super::limits;
use crate::error::{Error, ErrorKind, Result};

/// The most memory a stored value may make one verification allocate: 1 GiB, libsodium's
/// "sensitive" Argon2 level and libxcrypt's highest yescrypt cost.
const MAX_MEMORY: u64 = 1 << 30;

/// yescrypt's crypt-base64 alphabet.
const HASH64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `$y$params$salt$hash` as libxcrypt writes it: the 32-byte hash is 43 characters.
///
/// The exact hash length matters beyond tidiness: the crate compares as many bytes as the
/// stored string decodes to, so an empty hash field would otherwise match every password.
pub(super) fn yescrypt_plausible(s: &str) -> bool {
    yescrypt_params(s).is_some()
}

fn yescrypt_params(s: &str) -> Option<YescryptParams> {
    let rest = s.strip_prefix("$y$")?;
    let mut fields = rest.split('$');
    let (params, salt, hash) = (fields.next()?, fields.next()?, fields.next()?);
    let alphabet = |f: &str| f.bytes().all(|b| HASH64.contains(&b));
    let shape = fields.next().is_none()
        && !params.is_empty()
        && !salt.is_empty()
        && hash.len() == 43
        && alphabet(params)
        && alphabet(salt)
        && alphabet(hash);
    if !shape {
        return None;
    }
    let parsed: YescryptParams = params.parse().ok()?;
    // V is 128 * r * N bytes, B another 128 * r * p.
    let memory = u64::from(parsed.r())
        .checked_mul(128)?
        .checked_mul(parsed.n().checked_add(u64::from(parsed.p()))?)?;
    (memory <= MAX_MEMORY).then_some(parsed)
}

/// True when a (plausible) yescrypt string asks for more work than a login may spend.
pub(super) fn yescrypt_too_costly(s: &str) -> bool {
    yescrypt_params(s).is_none_or(|p| {
        u64::from(p.r())
            .saturating_mul(128)
            .saturating_mul(p.n())
            .saturating_mul(u64::from(p.p()))
            > limits::MAX_YESCRYPT_WORK
    })
}

/// Verifies a yescrypt string. The crate's verifier is used because it alone decodes the salt the
/// way libxcrypt does; it compares in constant time (`ctutils`), after [`yescrypt_plausible`]
/// has checked the shape and the memory cost.
pub(super) fn verify_yescrypt(s: &str, password: &[u8]) -> bool {
    yescrypt_params(s).is_some()
        && !yescrypt_too_costly(s)
        && Yescrypt::default().verify_password(password, s).is_ok()
}

/// A new `$y$j9T$...` hash: libxcrypt's default cost (N=4096, r=32: 16 MiB), 16-byte salt.
pub(super) fn hash_yescrypt(password: &str) -> Result<String> {
    let salt = random_bytes::<16>()?;
    let hash = Yescrypt::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("yescrypt failed: {e}")))?;
    Ok(hash.as_str().to_string())
}

/// Parses a PHC Argon2 string of the expected variant into everything needed to recompute it.
fn argon2_parts(s: &str, id: bool) -> Option<(Argon2<'static>, Vec<u8>, Vec<u8>)> {
    let phc = PasswordHash::new(s).ok()?;
    let want = if id {
        Algorithm::Argon2id
    } else {
        Algorithm::Argon2i
    };
    if Algorithm::try_from(phc.algorithm).ok()? != want {
        return None;
    }
    // No `v=` means the original 1.0 (0x10) algorithm, as in libsodium and the reference code.
    let version = match phc.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::V0x10,
    };
    let params = ArgonParams::try_from(&phc).ok()?;
    if u64::from(params.m_cost()) * 1024 > MAX_MEMORY {
        return None;
    }
    let expected = phc.hash?.as_bytes().to_vec();
    let mut buf = [0u8; 64];
    let salt = phc.salt?.decode_b64(&mut buf).ok()?.to_vec();
    // Argon2's own minimum: shorter salts cannot have been produced by any conforming writer.
    if salt.len() < 8 {
        return None;
    }
    Some((Argon2::new(want, version, params), salt, expected))
}

/// True for a well-formed Argon2 string of the expected variant within the memory cap.
pub(super) fn argon2_plausible(s: &str, id: bool) -> bool {
    argon2_parts(s, id).is_some()
}

/// True when a (plausible) Argon2 string asks for more work than a login may spend.
pub(super) fn argon2_too_costly(s: &str) -> bool {
    let id = s.starts_with("$argon2id$");
    argon2_parts(s, id).is_none_or(|(a, _, _)| {
        let params = a.params();
        u64::from(params.m_cost()) * u64::from(params.t_cost()) > limits::MAX_ARGON2_KIB_PASSES
    })
}

/// Recomputes an Argon2 hash with the stored parameters and compares in constant time.
pub(super) fn verify_argon2(s: &str, password: &[u8]) -> bool {
    let id = s.starts_with("$argon2id$");
    let Some((argon2, salt, expected)) = argon2_parts(s, id) else {
        return false;
    };
    if argon2_too_costly(s) {
        return false;
    }
    let mut computed = vec![0u8; expected.len()];
    argon2
        .hash_password_into(password, &salt, &mut computed)
        .is_ok()
        && bool::from(computed.ct_eq(&expected))
}

/// A new `$argon2id$v=19$m=19456,t=2,p=1$...` hash with a 16-byte salt and 32-byte output.
pub(super) fn hash_argon2id(password: &str) -> Result<String> {
    let salt = random_bytes::<16>()?;
    let failed = |e: argon2::password_hash::Error| {
        Error::new(ErrorKind::Internal, format!("Argon2 failed: {e}"))
    };
    let salt = SaltString::encode_b64(&salt).map_err(failed)?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(failed)?;
    Ok(hash.to_string())
}
