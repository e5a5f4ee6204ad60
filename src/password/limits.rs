//! The most work one stored hash may ask of a login.
//!
//! Cost parameters live in the stored string, that is in the database, and every login attempt
//! recomputes the hash: one `$2b$31$` row (bcrypt cost 31) or SHA-512-crypt with
//! `rounds=999999999` lets anyone who can try logins burn the server's CPU for minutes per attempt.
//! Values above these limits are refused when written ([`crate::Vmail::add_popbox_record`],
//! [`crate::Vmail::set_popbox_hash`]), never computed at login (the login fails as unsafe stored
//! data: the daemon defers) and listed by `vmailctl check`. Each limit is about 0.3 to 0.7 s of one
//! core (SCRAM's and OTP's far less: 100 times Dovecot's defaults), far above every scheme's
//! default, which the library writes.

/// SHA-256/512-crypt `rounds=`: 100 times the default of 5000.
pub const MAX_SHA_CRYPT_ROUNDS: u32 = 500_000;
/// bcrypt cost (2^cost rounds): the library writes 10; 12 is four times that.
pub const MAX_BCRYPT_COST: u32 = 12;
/// Dovecot `{PBKDF2}` iterations (HMAC-SHA1): 100 times `doveadm pw`'s default of 5000.
pub const MAX_PBKDF2_ROUNDS: u32 = 500_000;
/// SCRAM-SHA-1 and SCRAM-SHA-256 iterations (PBKDF2 over the hash): 100 times what `doveadm pw`
/// writes (4096). Cheaper than the others at its limit (4096 took 0.6 ms in a release build,
/// `examples/bench_login_timing.rs`, so about 60 ms), like the PBKDF2 limit it sits beside.
pub const MAX_SCRAM_ROUNDS: u32 = 409_600;
/// OTP sequence number (each step is one hash of 8 bytes): 100 times what `doveadm pw` writes
/// (1024; 0.09 ms), so about 10 ms at the limit; OTP's own tools count down from at most 9999.
pub const MAX_OTP_SEQUENCE: u32 = 102_400;
/// Argon2 memory (KiB) times passes: 1 GiB-pass; libsodium's "moderate" level (256 MiB, 3 passes)
/// is within it, its "sensitive" level (1 GiB, 4 passes) is not. The library writes 19 MiB x 2.
pub const MAX_ARGON2_KIB_PASSES: u64 = 1 << 20;
/// yescrypt memory times parallelism, in bytes (128 * r * N * p): 1 GiB. The library writes
/// libxcrypt's default, 16 MiB.
pub const MAX_YESCRYPT_WORK: u64 = 1 << 30;

/// Refuses a stored value whose cost exceeds these limits, before it is written.
///
/// # Errors
/// `InvalidInput` naming the limits.
pub(crate) fn refuse_over_cost(stored: &str) -> crate::Result<()> {
    if super::identify(stored).is_some_and(|s| s.too_costly) {
        return Err(crate::Error::invalid(format!(
            "password hash asks for more work than a login may spend (limits: SHA-crypt \
             rounds={MAX_SHA_CRYPT_ROUNDS}, bcrypt cost {MAX_BCRYPT_COST}, PBKDF2 \
             {MAX_PBKDF2_ROUNDS} rounds, SCRAM {MAX_SCRAM_ROUNDS} iterations, OTP sequence \
             {MAX_OTP_SEQUENCE}, Argon2 {MAX_ARGON2_KIB_PASSES} KiB x passes, yescrypt \
             {MAX_YESCRYPT_WORK} bytes x p)"
        )));
    }
    Ok(())
}
