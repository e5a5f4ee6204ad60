//! Cross-checks `vmailsql::password` against the tools that write and read the same hashes on a
//! Debian mail server: `doveadm pw` (dovecot-core), `openssl passwd` (openssl), `mkpasswd`
//! (whois) and the system crypt(3) (libxcrypt, through Python's `crypt` module or Perl).
//!
//! Hashes are generated at test time with random salts, so this is not a replay of fixed vectors.
//! A missing tool fails the test with the Debian package to install: it never skips silently,
//! because a skipped interoperability test looks exactly like a passing one.

use std::io::ErrorKind as IoErrorKind;
use std::process::{Command, Output};
use std::thread;

use vmailsql::password::{self, Scheme};

/// "secret" and "pässwörd" (UTF-8, NFC), the two passwords of the legacy contract's vectors.
const PASSWORDS: [&str; 2] = ["secret", "p\u{e4}ssw\u{f6}rd"];
const WRONG: &str = "wrong-password";

/// Runs a tool; a missing program fails the test, naming the package that provides it.
fn run(program: &str, args: &[&str], package: &str) -> Output {
    match Command::new(program).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == IoErrorKind::NotFound => panic!(
            "`{program}` is not installed: this test needs it. \
             Install the Debian package `{package}` (apt-get install {package})."
        ),
        Err(e) => panic!("cannot run `{program}`: {e}"),
    }
}

/// Runs a tool that must succeed and returns its trimmed standard output.
fn output(program: &str, args: &[&str], package: &str) -> String {
    let out = run(program, args, package);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("tool output is UTF-8")
        .trim_end_matches('\n')
        .to_string()
}

/// `stored` verifies `pw`, rejects a wrong password and is identified.
#[track_caller]
fn check(stored: &str, pw: &str, origin: &str) {
    assert!(
        password::verify(stored, pw),
        "{origin}: {stored} must verify {pw:?}"
    );
    assert!(
        !password::verify(stored, WRONG),
        "{origin}: {stored} must reject a wrong password"
    );
    assert!(
        password::identify(stored).is_some(),
        "{origin}: {stored} must be identified"
    );
}

/// crypt(3) of the system (libxcrypt on Debian): Python's `crypt` module where it still exists
/// (removed in Python 3.13), else Perl's built-in `crypt`, which calls the same library.
fn system_crypt(pw: &str, setting: &str) -> String {
    const PY: &str = "import sys, warnings\n\
                      warnings.simplefilter('ignore')\n\
                      import crypt\n\
                      print(crypt.crypt(sys.argv[1], sys.argv[2]) or '')";
    match Command::new("python3")
        .args(["-c", PY, pw, setting])
        .output()
    {
        Ok(out) if out.status.success() => {
            return String::from_utf8(out.stdout)
                .expect("crypt output is ASCII")
                .trim_end()
                .to_string();
        }
        // No python3, or one without the crypt module: Perl reaches the same crypt(3).
        Ok(_) => {}
        Err(e) if e.kind() == IoErrorKind::NotFound => {}
        Err(e) => panic!("cannot run python3: {e}"),
    }
    output(
        "perl",
        &["-e", "print crypt($ARGV[0], $ARGV[1])", pw, setting],
        "perl-base (or python3 <= 3.12 for its crypt module)",
    )
}

/// The login `{DIGEST-MD5}` hashes are made for (`doveadm pw -u`): the library passes the
/// popbox's own `local_part@domain`.
const DIGEST_USER: &str = "alice@example.org";

/// Every scheme `doveadm pw -l` lists (the authoritative list of the installed Dovecot).
fn doveadm_schemes() -> Vec<String> {
    let listed = output("doveadm", &["pw", "-l"], "dovecot-core");
    let schemes: Vec<String> = listed.split_whitespace().map(str::to_string).collect();
    // Dovecot 2.3.19 lists 31; a short list means the output was not what this test reads.
    assert!(schemes.len() >= 20, "doveadm pw -l listed only {listed:?}");
    schemes
}

/// `doveadm pw -s SCHEME` writes `{SCHEME}hash` for every scheme `doveadm pw -l` lists; each must
/// verify here (DIGEST-MD5 with its login) and refuse a wrong password, except what Dovecot
/// itself refuses: its PLAIN-TRUNC output lacks the `N-` length prefix, and both Dovecot and the
/// library refuse that, while the prefixed form verifies in both.
#[test]
fn doveadm_hashes_verify() {
    let schemes = doveadm_schemes();
    // One thread per scheme: the Argon2 checks take seconds each in a debug build.
    thread::scope(|s| {
        for scheme in &schemes {
            s.spawn(move || {
                for pw in PASSWORDS {
                    let mut args = vec!["pw", "-s", scheme, "-p", pw];
                    if scheme == "DIGEST-MD5" {
                        args.extend(["-u", DIGEST_USER]);
                    }
                    let stored = output("doveadm", &args, "dovecot-core");
                    assert!(
                        stored.starts_with(&format!("{{{scheme}}}")),
                        "doveadm wrote {stored:?} for {scheme}"
                    );
                    let origin = format!("doveadm pw -s {scheme}");
                    match scheme.as_str() {
                        "PLAIN-TRUNC" => plain_trunc_agrees(&stored, pw),
                        "DIGEST-MD5" => {
                            check_user(&stored, DIGEST_USER, pw, &origin);
                            assert!(!password::verify(&stored, pw), "{origin}: needs the user");
                            assert!(
                                !password::verify_user(&stored, "bob@example.org", pw),
                                "{origin}: another user must not match"
                            );
                        }
                        _ => check(&stored, pw, &origin),
                    }
                }
            });
        }
    });
}

/// `stored` verifies `pw` for `user`, rejects a wrong password and is identified.
#[track_caller]
fn check_user(stored: &str, user: &str, pw: &str, origin: &str) {
    assert!(
        password::verify_user(stored, user, pw),
        "{origin}: {stored} must verify {pw:?} for {user}"
    );
    assert!(
        !password::verify_user(stored, user, WRONG),
        "{origin}: {stored} must reject a wrong password"
    );
    assert!(
        password::identify(stored).is_some(),
        "{origin}: {stored} must be identified"
    );
}

/// Whether `doveadm pw -t STORED -p PW` verifies (exit 0).
fn doveadm_accepts(stored: &str, pw: &str) -> bool {
    run("doveadm", &["pw", "-t", stored, "-p", pw], "dovecot-core")
        .status
        .success()
}

/// PLAIN-TRUNC as doveadm writes it (no length prefix): Dovecot and the library both refuse it;
/// with the prefix both verify it, a longer password by its first N bytes too.
fn plain_trunc_agrees(stored: &str, pw: &str) {
    assert!(
        !doveadm_accepts(stored, pw),
        "Dovecot now verifies {stored}"
    );
    assert!(!password::verify(stored, pw), "{stored} must not verify");
    let prefixed = format!("{{PLAIN-TRUNC}}{}-{pw}", pw.len());
    for (candidate, expect) in [
        (pw.to_string(), true),
        (format!("{pw}-and-more"), true),
        (WRONG.to_string(), false),
    ] {
        assert_eq!(
            doveadm_accepts(&prefixed, &candidate),
            expect,
            "doveadm: {prefixed} {candidate:?}"
        );
        assert_eq!(
            password::verify(&prefixed, &candidate),
            expect,
            "{prefixed} {candidate:?}"
        );
    }
}

/// `openssl passwd -1/-5/-6` write bare crypt strings, read under `{crypt}` and Dovecot's names.
#[test]
fn openssl_hashes_verify() {
    for (flag, prefixes) in [
        ("-1", ["{crypt}", "{crypt_md5}", "{MD5-CRYPT}", ""]),
        ("-5", ["{crypt}", "{SHA256-CRYPT}", "{CRYPT}", ""]),
        ("-6", ["{crypt}", "{SHA512-CRYPT}", "{CRYPT}", ""]),
    ] {
        for pw in PASSWORDS {
            let hash = output("openssl", &["passwd", flag, pw], "openssl");
            for prefix in prefixes {
                check(
                    &format!("{prefix}{hash}"),
                    pw,
                    &format!("openssl passwd {flag}"),
                );
            }
        }
    }
}

/// `mkpasswd -m METHOD` (libxcrypt): every `{crypt}` format, yescrypt and DES included.
#[test]
fn mkpasswd_hashes_verify() {
    let methods: [&[&str]; 7] = [
        &["-m", "yescrypt"],
        &["-m", "des"],
        &["-m", "md5crypt"],
        &["-m", "sha256crypt"],
        &["-m", "sha512crypt"],
        &["-m", "sha512crypt", "-R", "10000"],
        &["-m", "bcrypt", "-R", "5"],
    ];
    thread::scope(|s| {
        for method in methods {
            s.spawn(move || {
                for pw in PASSWORDS {
                    let mut args = method.to_vec();
                    args.push(pw);
                    let hash = output("mkpasswd", &args, "whois");
                    check(
                        &format!("{{crypt}}{hash}"),
                        pw,
                        &format!("mkpasswd {}", method.join(" ")),
                    );
                }
            });
        }
    });
}

/// The system crypt(3) with settings for each format, yescrypt with a fresh salt.
#[test]
fn system_crypt_hashes_verify() {
    // A fresh salt for each run: the random part of one of our own SHA-512-crypt hashes.
    let ours = password::hash(Scheme::Crypt, "salt source").unwrap();
    let salt = &ours["{crypt}$6$".len()..][..16];
    let settings = [
        format!("$y$j9T${salt}"),
        format!("$6${salt}"),
        format!("$6$rounds=6000${salt}"),
        format!("$5${salt}"),
        format!("$1${}", &salt[..8]),
        salt[..2].to_string(),
    ];
    for setting in &settings {
        for pw in PASSWORDS {
            let hash = system_crypt(pw, setting);
            assert!(
                hash.len() > setting.len(),
                "crypt(3) refused {setting}: {hash:?}"
            );
            check(
                &format!("{{crypt}}{hash}"),
                pw,
                &format!("crypt(3) {setting}"),
            );
        }
    }
}

/// The other direction: what `hash()` writes, Dovecot verifies (`doveadm pw -t` exits 0) and
/// rejects with a wrong password.
#[test]
fn our_hashes_pass_doveadm() {
    let schemes = [
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::BlfCrypt,
        Scheme::Argon2id,
        // tpop3d's names that Dovecot reads as its own CRYPT and MD5.
        Scheme::Crypt,
        Scheme::Yescrypt,
        Scheme::Md5,
    ];
    thread::scope(|s| {
        for scheme in schemes {
            s.spawn(move || {
                for pw in PASSWORDS {
                    let stored = password::hash(scheme, pw).unwrap();
                    let good = run("doveadm", &["pw", "-t", &stored, "-p", pw], "dovecot-core");
                    assert!(
                        good.status.success(),
                        "doveadm pw -t rejected our {scheme} hash {stored}: {}",
                        String::from_utf8_lossy(&good.stderr)
                    );
                    let bad = run(
                        "doveadm",
                        &["pw", "-t", &stored, "-p", WRONG],
                        "dovecot-core",
                    );
                    assert!(
                        !bad.status.success(),
                        "doveadm pw -t accepted a wrong password for {stored}"
                    );
                }
            });
        }
    });
}

/// What `hash()` writes for `{crypt}` (and the other crypt(3) formats), the system crypt(3)
/// reproduces: `crypt(pw, h) == h`, which is how tpop3d and Exim's `crypteq` check it.
#[test]
fn our_crypt_hashes_pass_system_crypt() {
    let schemes = [
        (Scheme::Crypt, "{crypt}$6$"),
        (Scheme::Yescrypt, "{crypt}$y$"),
        (Scheme::Sha512Crypt, "{SHA512-CRYPT}$6$"),
        (Scheme::Sha256Crypt, "{SHA256-CRYPT}$5$"),
        (Scheme::BlfCrypt, "{BLF-CRYPT}$2y$"),
        (Scheme::CryptMd5, "{crypt_md5}$1$"),
    ];
    for (scheme, prefix) in schemes {
        for pw in PASSWORDS {
            let stored = password::hash(scheme, pw).unwrap();
            assert!(stored.starts_with(prefix), "{scheme}: {stored}");
            let bare = &stored[stored.find('}').unwrap() + 1..];
            assert_eq!(
                system_crypt(pw, bare),
                bare,
                "crypt(3) does not reproduce our {scheme} hash"
            );
            assert_ne!(system_crypt(WRONG, bare), bare);
        }
    }
}
