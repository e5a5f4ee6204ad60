//! Password hashes as vmail-sql stores them: `{scheme}hash` or a bare hash.
//!
//! INTERFACE (implemented by the password helper; the rest of the crate uses only these items).
//!
//! Reading follows two masters at once. tpop3d (the seed's POP3 daemon) knows `{md5}`, `{crypt}`,
//! `{crypt_md5}`, `{plaintext}`, `{mysql}` and `{sha1}`, and treats a value without a prefix as hex
//! MD5. Dovecot reads the same column with its own names (`{PLAIN-MD5}`, `{SSHA}`,
//! `{SHA512-CRYPT}`, `{ARGON2ID}`, ...), case-insensitively, and accepts bare `$1$`-style crypt
//! strings. Prefixes are matched case-insensitively, so every value either daemon accepted still
//! verifies. Anything unknown, empty or malformed never verifies.
//!
//! Dovecot 2.3's challenge-response and one-time schemes (`{CRAM-MD5}`, `{DIGEST-MD5}`,
//! `{SCRAM-SHA-1}`, `{SCRAM-SHA-256}`, `{OTP}`) and its `{PLAIN-MD4}` and `{PLAIN-TRUNC}` verify
//! a plaintext password the way Dovecot's own plaintext logins check them. `{DIGEST-MD5}` hashes
//! the login name too, so it verifies only through [`verify_user`] (the login paths pass the
//! popbox's own `local_part@domain`).
//!
//! Writing always stores the `{prefix}`, so a site can later change its policy and tell old
//! hashes from new ones ([`identify`]).
//!
//! Every comparison of a computed value with a stored one is constant-time (`subtle`), and every
//! scheme is implemented natively: nothing shells out, nothing depends on the libc's `crypt(3)`.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind, Result};

mod cram;
mod crypt;
mod digest;
mod kdf;
pub mod limits;
mod otp;
mod pbkdf;
mod policy;
mod scram;
#[cfg(test)]
mod tests;

use crypt::CryptHash;
use digest::Digest;

/// A scheme the library can write new hashes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// `{crypt}$6$...`: SHA-512-crypt under tpop3d's `{crypt}`; tpop3d, Dovecot 2.3 and Exim's
    /// `crypteq` all verify it. The default.
    #[default]
    Crypt,
    /// `{SHA512-CRYPT}$6$...` (Dovecot's name).
    Sha512Crypt,
    /// `{SHA256-CRYPT}$5$...`.
    Sha256Crypt,
    /// `{BLF-CRYPT}$2y$...` (bcrypt, cost 10).
    BlfCrypt,
    /// `{ARGON2ID}$argon2id$...` (Dovecot-compatible PHC string).
    Argon2id,
    /// `{crypt}$y$...` (yescrypt, Debian's shadow default).
    Yescrypt,
    /// `{crypt_md5}$1$...` (legacy, weak; only for sites that still need it).
    CryptMd5,
    /// `{md5}` + 32 hex digits (legacy, weak).
    Md5,
    /// `{plaintext}` cleartext (needed for APOP).
    Plaintext,
}

/// What a stored hash is, for health reports and upgrade decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredScheme {
    /// A stable display name such as `"MD5 (hex)"`, `"SHA-512-crypt"`, `"DES crypt"`.
    pub name: &'static str,
    /// True for schemes a policy should replace: unsalted digests, DES, MD5-crypt, old MySQL,
    /// SHA1/SSHA. Not for SHA-crypt, bcrypt, yescrypt, Argon2. Plaintext counts as weak.
    pub weak: bool,
    /// True for `{plaintext}` (and Dovecot's PLAIN/CLEAR/CLEARTEXT).
    pub plaintext: bool,
    /// True when its cost parameters exceed [`limits`]: it is never computed, a login with it
    /// fails as unsafe stored data, and the library refuses to store it.
    pub too_costly: bool,
    /// True for `{DIGEST-MD5}`, which hashes the login name with the password: only
    /// [`verify_user`] can check it ([`verify`] never matches it).
    pub needs_user: bool,
}

/// Longest password [`hash`] accepts and the crypt(3) family verifies, in bytes.
///
/// libxcrypt refuses longer passphrases (`CRYPT_MAX_PASSPHRASE_SIZE` is 512 with the NUL), so no
/// stored crypt hash can come from one; the limit also bounds SHA-crypt's quadratic cost in the
/// password length, which a hostile client could otherwise exploit.
pub const MAX_PASSWORD_LEN: usize = 511;

impl Scheme {
    /// Every scheme, in the order of the enum (for help texts and completions).
    pub const ALL: [Scheme; 9] = [
        Scheme::Crypt,
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::BlfCrypt,
        Scheme::Argon2id,
        Scheme::Yescrypt,
        Scheme::CryptMd5,
        Scheme::Md5,
        Scheme::Plaintext,
    ];

    /// Parses a policy name, case-insensitive: "crypt" (default, {crypt}$6$), "SHA512-CRYPT",
    /// "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "YESCRYPT", "CRYPT_MD5"/"MD5-CRYPT", "MD5",
    /// "PLAINTEXT"/"PLAIN". Error kind InvalidInput otherwise.
    ///
    /// `CRYPT-MD5` (the seed README's spelling) is accepted as well.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for any other name; the message lists the valid ones.
    pub fn parse(name: &str) -> Result<Scheme> {
        let scheme = match name.trim().to_ascii_uppercase().as_str() {
            "CRYPT" => Scheme::Crypt,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "ARGON2ID" => Scheme::Argon2id,
            "YESCRYPT" => Scheme::Yescrypt,
            "CRYPT_MD5" | "CRYPT-MD5" | "MD5-CRYPT" => Scheme::CryptMd5,
            "MD5" => Scheme::Md5,
            "PLAINTEXT" | "PLAIN" => Scheme::Plaintext,
            _ => {
                let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.name()).collect();
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "unknown password scheme {name:?} (known: {})",
                        names.join(", ")
                    ),
                ));
            }
        };
        Ok(scheme)
    }

    /// The canonical name used in config files ("crypt", "SHA512-CRYPT", ...).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Crypt => "crypt",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Yescrypt => "YESCRYPT",
            Scheme::CryptMd5 => "CRYPT_MD5",
            Scheme::Md5 => "MD5",
            Scheme::Plaintext => "PLAINTEXT",
        }
    }
}

impl FromStr for Scheme {
    type Err = Error;

    fn from_str(name: &str) -> Result<Scheme> {
        Scheme::parse(name)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored value, parsed and validated; what [`verify`] and [`identify`] share.
enum Stored<'a> {
    Digest(Digest),
    Crypt(CryptHash<'a>),
    Pbkdf2(pbkdf::Pbkdf2Hash<'a>),
    Scram(scram::ScramHash),
    CramMd5(cram::CramMd5),
    DigestMd5(digest::DigestMd5),
    Otp(otp::OtpState<'a>),
    Plain(&'a str),
    /// `{PLAIN-TRUNC}N-cleartext`: a cleartext cut to N bytes by a system that stored no more.
    PlainTrunc {
        len: usize,
        clear: &'a str,
    },
}

impl Stored<'_> {
    fn scheme(&self) -> StoredScheme {
        // All of Dovecot's challenge-response and one-time schemes are weak: one MD5 (CRAM-MD5,
        // DIGEST-MD5: password equivalents), a 64-bit OTP chain, or SCRAM's fixed 4096 rounds of
        // a fast hash, the same class as PBKDF2's 5000.
        let (name, weak) = match self {
            Stored::Digest(d) => (d.name(), true),
            Stored::Crypt(c) => (c.name(), c.weak()),
            // Dovecot's 5000 rounds of HMAC-SHA1 are far below today's advice.
            Stored::Pbkdf2(_) => ("PBKDF2-SHA1", true),
            Stored::Scram(s) => (s.name(), true),
            Stored::CramMd5(_) => ("CRAM-MD5 (HMAC-MD5 context)", true),
            Stored::DigestMd5(_) => ("DIGEST-MD5", true),
            Stored::Otp(_) => ("OTP (RFC 2289)", true),
            Stored::Plain(_) => ("plaintext", true),
            Stored::PlainTrunc { .. } => ("truncated plaintext", true),
        };
        StoredScheme {
            name,
            weak,
            // Only a whole cleartext serves APOP; a truncated one cannot.
            plaintext: matches!(self, Stored::Plain(_)),
            too_costly: self.too_costly(),
            needs_user: matches!(self, Stored::DigestMd5(_)),
        }
    }

    fn too_costly(&self) -> bool {
        match self {
            Stored::Crypt(c) => c.too_costly(),
            Stored::Pbkdf2(p) => p.too_costly(),
            Stored::Scram(s) => s.too_costly(),
            Stored::Otp(o) => o.too_costly(),
            Stored::Digest(_)
            | Stored::CramMd5(_)
            | Stored::DigestMd5(_)
            | Stored::Plain(_)
            | Stored::PlainTrunc { .. } => false,
        }
    }
}

/// Splits `{name}rest` into `(Some(name), rest)`, a value without a brace into `(None, value)`.
/// `None` when a brace is opened but never closed, or the name holds odd characters.
fn split_prefix(stored: &str) -> Option<(Option<&str>, &str)> {
    let Some(after) = stored.strip_prefix('{') else {
        return Some((None, stored));
    };
    let end = after.find('}')?;
    let name = &after[..end];
    let plausible = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| (Some(name), &after[end + 1..]))
}

/// Parses a stored value according to its prefix; `None` for anything that must never verify.
fn parse(stored: &str) -> Option<Stored<'_>> {
    use crypt::Kind;
    use digest::Alg;

    let (prefix, body) = split_prefix(stored)?;
    if body.is_empty() {
        return None;
    }
    let Some(prefix) = prefix else {
        // tpop3d: hex MD5. Dovecot (default scheme MD5): that, or a bare crypt string.
        return digest::parse_hex(Alg::Md5, body)
            .map(Stored::Digest)
            .or_else(|| crypt::parse(body, &Kind::BARE).map(Stored::Crypt));
    };
    let as_digest = |d: Option<Digest>| d.map(Stored::Digest);
    let as_crypt = |kinds: &[Kind]| crypt::parse(body, kinds).map(Stored::Crypt);
    match prefix.to_ascii_uppercase().as_str() {
        // tpop3d's {md5} (hex or base64) and Dovecot's MD5 (MD5-crypt or a plain digest).
        "MD5" => {
            as_digest(digest::parse_unsalted(Alg::Md5, body)).or_else(|| as_crypt(&[Kind::Md5]))
        }
        "PLAIN-MD5" | "LDAP-MD5" => as_digest(digest::parse_unsalted(Alg::Md5, body)),
        "PLAIN-MD4" => as_digest(digest::parse_unsalted(Alg::Md4, body)),
        "SHA1" | "SHA" => as_digest(digest::parse_unsalted(Alg::Sha1, body)),
        "SHA256" => as_digest(digest::parse_unsalted(Alg::Sha256, body)),
        "SHA512" => as_digest(digest::parse_unsalted(Alg::Sha512, body)),
        "SMD5" => as_digest(digest::parse_salted(Alg::Md5, body)),
        "SSHA" => as_digest(digest::parse_salted(Alg::Sha1, body)),
        "SSHA256" => as_digest(digest::parse_salted(Alg::Sha256, body)),
        "SSHA512" => as_digest(digest::parse_salted(Alg::Sha512, body)),
        "MYSQL" => as_digest(digest::parse_mysql(body)),
        "PLAINTEXT" | "PLAIN" | "CLEAR" | "CLEARTEXT" => Some(Stored::Plain(body)),
        "PLAIN-TRUNC" => parse_plain_trunc(body),
        "CRAM-MD5" | "HMAC-MD5" => cram::parse(body).map(Stored::CramMd5),
        "DIGEST-MD5" => digest::parse_digest_md5(body).map(Stored::DigestMd5),
        "SCRAM-SHA-1" => scram::parse(scram::Alg::Sha1, body).map(Stored::Scram),
        "SCRAM-SHA-256" => scram::parse(scram::Alg::Sha256, body).map(Stored::Scram),
        "OTP" => otp::parse(body).map(Stored::Otp),
        "CRYPT" => as_crypt(&Kind::SYSTEM),
        "DES-CRYPT" => as_crypt(&[Kind::Des]),
        "PBKDF2" => pbkdf::parse(body).map(Stored::Pbkdf2),
        // `crypt-md5` is the seed README's spelling; tpop3d only knew `crypt_md5`.
        "CRYPT_MD5" | "CRYPT-MD5" | "MD5-CRYPT" => as_crypt(&[Kind::Md5]),
        "SHA256-CRYPT" => as_crypt(&[Kind::Sha256]),
        "SHA512-CRYPT" => as_crypt(&[Kind::Sha512]),
        "BLF-CRYPT" => as_crypt(&[Kind::Bcrypt]),
        "ARGON2I" => as_crypt(&[Kind::Argon2i]),
        "ARGON2ID" => as_crypt(&[Kind::Argon2id]),
        _ => None,
    }
}

/// `N-cleartext`, Dovecot's `{PLAIN-TRUNC}`: N digits (none means 0), a dash, the cleartext.
///
/// Dovecot 2.3's `doveadm pw -s PLAIN-TRUNC` writes the cleartext without the `N-` and then
/// refuses its own output ("missing length: prefix"); such a value never verified there and does
/// not here. An empty cleartext (`0-`, which Dovecot would match with any password) never does.
fn parse_plain_trunc(body: &str) -> Option<Stored<'_>> {
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    let clear = body[digits..].strip_prefix('-')?;
    let len = body[..digits].bytes().fold(0usize, |n, d| {
        n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    });
    (!clear.is_empty()).then_some(Stored::PlainTrunc { len, clear })
}

/// Dovecot's `{PLAIN-TRUNC}` check: when the stored cleartext has exactly the stated length, a
/// longer password matches by its first `len` bytes (the rest was cut off when it was stored);
/// otherwise the whole password must match.
fn plain_trunc_eq(len: usize, clear: &str, password: &[u8]) -> bool {
    let compared = if clear.len() == len && password.len() >= len {
        &password[..len]
    } else {
        password
    };
    digest::plain_eq(clear, compared)
}

/// Constant-time equality of two byte strings of (normally) equal length.
///
/// Lengths are public in every caller (fixed by the scheme), so an early length check leaks
/// nothing about the password.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Verifies `password` against a stored value. False for a wrong password, and also for an empty,
/// unknown-prefix or malformed stored value (never panics, never accepts). Constant-time compare.
///
/// A `{DIGEST-MD5}` value never matches here: it needs the login name ([`verify_user`]).
pub fn verify(stored: &str, password: &str) -> bool {
    verify_bytes(stored, password.as_bytes())
}

/// As [`verify`], for a password that may not be UTF-8: tpop3d compared bytes, so a legacy site
/// may hold hashes of Latin-1 passwords, and POP3 clients send them as they are.
pub fn verify_bytes(stored: &str, password: &[u8]) -> bool {
    verify_parsed(parse(stored), None, password)
}

/// As [`verify`], knowing who logs in: `user` is what `{DIGEST-MD5}` hashed (`doveadm pw -s
/// DIGEST-MD5 -u USER`), `name@realm`. Every other scheme ignores it. The library's login paths
/// pass the popbox's own `local_part@domain` as stored, whatever separator, alias or case the
/// client typed, and a domain administrator's sign-in passes the domain name.
pub fn verify_user(stored: &str, user: &str, password: &str) -> bool {
    verify_bytes_user(stored, user, password.as_bytes())
}

/// As [`verify_user`], for a password that may not be UTF-8.
pub fn verify_bytes_user(stored: &str, user: &str, password: &[u8]) -> bool {
    verify_parsed(parse(stored), Some(user), password)
}

fn verify_parsed(stored: Option<Stored<'_>>, user: Option<&str>, password: &[u8]) -> bool {
    match stored {
        Some(Stored::Digest(d)) => d.verify(password),
        Some(Stored::Crypt(c)) => c.verify(password),
        Some(Stored::Pbkdf2(p)) => p.verify(password),
        Some(Stored::Scram(s)) => s.verify(password),
        Some(Stored::CramMd5(c)) => c.verify(password),
        Some(Stored::DigestMd5(d)) => user.is_some_and(|u| d.verify(u, password)),
        Some(Stored::Otp(o)) => o.verify(password),
        Some(Stored::Plain(clear)) => digest::plain_eq(clear, password),
        Some(Stored::PlainTrunc { len, clear }) => plain_trunc_eq(len, clear, password),
        None => false,
    }
}

/// Hashes `password` with `scheme`, random salt from the OS, returned WITH its `{prefix}`.
///
/// SHA-crypt uses the default 5000 rounds and a 16-character salt, bcrypt `$2y$` cost 10,
/// yescrypt the libxcrypt default (`j9T`, 16 MiB), Argon2id m=19 MiB, t=2, p=1 (RFC 9106's
/// second recommendation: affordable for every POP3 login, verified by Dovecot's libsodium).
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`] for an empty password, one containing NUL (crypt(3) and every C
/// caller end a string there) or one longer than [`MAX_PASSWORD_LEN`] bytes;
/// [`ErrorKind::Internal`] when the OS random generator fails.
pub fn hash(scheme: Scheme, password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "empty password"));
    }
    if password.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "password contains a NUL byte",
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("password longer than {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    let stored = match scheme {
        Scheme::Crypt => format!("{{crypt}}{}", crypt::hash_sha512(password)?),
        Scheme::Sha512Crypt => format!("{{SHA512-CRYPT}}{}", crypt::hash_sha512(password)?),
        Scheme::Sha256Crypt => format!("{{SHA256-CRYPT}}{}", crypt::hash_sha256(password)?),
        Scheme::BlfCrypt => format!("{{BLF-CRYPT}}{}", crypt::hash_bcrypt(password)?),
        Scheme::Argon2id => format!("{{ARGON2ID}}{}", kdf::hash_argon2id(password)?),
        Scheme::Yescrypt => format!("{{crypt}}{}", kdf::hash_yescrypt(password)?),
        Scheme::CryptMd5 => format!("{{crypt_md5}}{}", crypt::hash_md5(password)?),
        Scheme::Md5 => format!("{{md5}}{}", digest::md5_hex(password.as_bytes())),
        Scheme::Plaintext => format!("{{plaintext}}{password}"),
    };
    Ok(stored)
}

/// As [`hash`], for a new password: first refuses one shorter than `min_length` characters
/// (`password_min_length`; [`crate::config::DEFAULT_PASSWORD_MIN_LENGTH`] where no
/// configuration applies). Every entry point that stores or prints a new password's hash comes
/// through here; stored hashes are never judged by the length.
///
/// # Errors
/// As [`hash`], and [`ErrorKind::InvalidInput`] saying how long the password must be.
pub fn hash_new(scheme: Scheme, password: &str, min_length: usize) -> Result<String> {
    if password.contains('\0') {
        return Err(Error::invalid("password contains a NUL byte"));
    }
    policy::check_length(password, min_length)?;
    hash(scheme, password)
}

/// Identifies a stored value (None when unrecognised/malformed).
pub fn identify(stored: &str) -> Option<StoredScheme> {
    parse(stored).map(|s| s.scheme())
}

/// What decides how long verifying `stored` takes: its scheme and cost parameters, without salt
/// or hash (`"SHA-512-crypt rounds=5000"`, `"bcrypt 10"`). `None` when it never verifies. Used to
/// pad every login to the cost of the slowest kind of stored value seen.
pub fn cost_class(stored: &str) -> Option<String> {
    let parsed = parse(stored)?;
    let name = parsed.scheme().name;
    Some(match &parsed {
        Stored::Crypt(c) => format!("{name} {}", c.cost_params()),
        Stored::Pbkdf2(p) => format!("{name} {}", p.rounds),
        Stored::Scram(s) => format!("{name} {}", s.rounds),
        Stored::Otp(o) => format!("{name} {} {}", o.alg_name(), o.sequence),
        Stored::Digest(_)
        | Stored::CramMd5(_)
        | Stored::DigestMd5(_)
        | Stored::Plain(_)
        | Stored::PlainTrunc { .. } => name.to_string(),
    })
}

/// The cleartext of a `{plaintext}` (or {PLAIN}/{CLEAR}/{CLEARTEXT}) value, else None. Used for
/// APOP and Dovecot credentials lookups. An empty cleartext is None: it never verifies either.
pub fn plaintext(stored: &str) -> Option<&str> {
    match parse(stored)? {
        Stored::Plain(clear) => Some(clear),
        _ => None,
    }
}

/// RFC 1939 APOP: true when `digest` (hex, either case) equals hex MD5(timestamp || cleartext)
/// and `stored` is plaintext. Constant-time.
///
/// The timestamp must look like the banner's `<...>` msg-id: an empty one would turn the digest
/// into a replayable password equivalent.
pub fn verify_apop(stored: &str, timestamp: &str, digest: &str) -> bool {
    let Some(clear) = plaintext(stored) else {
        return false;
    };
    if timestamp.len() < 3 || !timestamp.starts_with('<') || !timestamp.ends_with('>') {
        return false;
    }
    let mut client = [0u8; 16];
    if !digest::decode_hex(digest, &mut client) {
        return false;
    }
    let expected = digest::md5(&[timestamp.as_bytes(), clear.as_bytes()]);
    ct_eq(&expected, &client)
}
