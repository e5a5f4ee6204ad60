//! Does a login's time tell whether the account exists? For each stored scheme family, the
//! median time of a wrong password for an existing popbox against the same for an unknown user
//! (the baseline, measured interleaved in the same run), and the same for APOP. Asserts nothing.
//!
//! ```text
//! cargo run --release --example bench_login_timing -- [ROUNDS]      (default 100)
//! ```
//!
//! The raw column is one bare `password::verify` of that popbox's hash, without the library's
//! padding: what the login would cost if it were not padded.

use std::time::{Duration, Instant};

use vmailsql::password::{self, Scheme};
use vmailsql::{NewDomain, Popbox, Vmail};

const RIGHT: &str = "right password";
const TIMESTAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

/// One row of the table: a family's name, its stored hash, and the unknown and known probes.
type Series<'a> = (String, Option<String>, Probe<'a>, Probe<'a>);
/// One timed login attempt.
type Probe<'a> = Box<dyn Fn() + 'a>;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The families, each as (popbox name, stored hash or NULL).
fn families() -> Vec<(&'static str, Option<String>)> {
    let made = |s| Some(password::hash(s, RIGHT).unwrap());
    vec![
        ("md5", made(Scheme::Md5)),
        ("des-crypt", Some("{crypt}abNANd1rDfiNc".into())),
        ("md5-crypt", made(Scheme::CryptMd5)),
        ("sha512-crypt", made(Scheme::Crypt)),
        ("bcrypt", made(Scheme::BlfCrypt)),
        ("argon2id", made(Scheme::Argon2id)),
        ("plaintext", made(Scheme::Plaintext)),
        // Dovecot 2.3's challenge-response and one-time schemes, written by
        // `doveadm pw -s SCHEME -p 'right password'` (DIGEST-MD5 with `-u digest-md5@example.org`).
        ("scram-sha-256", Some("{SCRAM-SHA-256}4096,+59Cr+wQ4ynqdOc1EHpXvA==,gG+h2tKu9bOO/LSN3oHppyfwTVotnL9EQAgIIPPXAFw=,EU4XIgGG2dMP53Gzl627f7NU4QmBfj5tFi5vX7WCkSk=".into())),
        ("cram-md5", Some("{CRAM-MD5}ff1cc8f485ec4afb6e7d60b3bad5ddc371cc27b129fc8c3c23b96c7c08f4a21f".into())),
        ("digest-md5", Some("{DIGEST-MD5}b106c85077a21197a67727822411fa21".into())),
        ("otp", Some("{OTP}sha1 1024 06325b9c6ec001e2 1c2db8492ed6a594".into())),
        ("null-hash", None),
    ]
}

fn main() -> vmailsql::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(100, |a| a.parse().expect("ROUNDS is a number"));
    let dir = tempfile_dir();
    let vmail = Vmail::open_url(&format!("sqlite://{dir}/timing.db"))?;
    vmail.create_schema()?;
    vmail.add_domain(&NewDomain::new(
        "example.org",
        "/var/mail/example.org",
        "vmail",
    ))?;
    let families = families();
    for (name, hash) in &families {
        vmail.add_popbox_record(&Popbox {
            domain: "example.org".into(),
            local_part: (*name).into(),
            password_hash: hash.clone(),
            mbox_name: None,
        })?;
    }
    // Warm-up: every kind of stored value once, as a running daemon would have seen them.
    for (name, _) in &families {
        let _ = vmail.authenticate(&format!("{name}@example.org"), "wrong");
    }
    println!(
        "policy scheme: {} (default); rounds: {rounds}; load average at start: {}",
        Scheme::default(),
        load_average()
    );
    println!("| stored scheme | raw verify (ms) | unknown user (ms) | wrong password (ms) | wrong / unknown |");
    println!("|---|---:|---:|---:|---:|");
    let wrong_digest = "0".repeat(32);
    let mut series: Vec<Series<'_>> = Vec::new();
    for (name, hash) in &families {
        let known = format!("{name}@example.org");
        let unknown = format!("nobody-{name}@example.org");
        let v = &vmail;
        series.push((
            (*name).to_string(),
            hash.clone(),
            Box::new(move || assert!(v.authenticate(&unknown, "wrong").is_err())),
            Box::new(move || assert!(v.authenticate(&known, "wrong").is_err())),
        ));
    }
    let v = &vmail;
    let digest = wrong_digest.as_str();
    series.push((
        "APOP ({plaintext})".into(),
        None,
        Box::new(move || {
            assert!(v
                .authenticate_apop("nobody@example.org", TIMESTAMP, digest)
                .is_err())
        }),
        Box::new(move || {
            assert!(v
                .authenticate_apop("plaintext@example.org", TIMESTAMP, digest)
                .is_err())
        }),
    ));
    let mut worst: f64 = 0.0;
    for (name, hash, unknown, known) in &series {
        let (mut u, mut k) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            u.push(time(unknown));
            k.push(time(known));
        }
        let raw = hash.as_deref().map_or("-".to_string(), |h| {
            let verify = || {
                let _ = password::verify_user(h, "digest-md5@example.org", "wrong");
            };
            ms(median((0..5).map(|_| time(verify)).collect()))
        });
        let (u, k) = (median(u), median(k));
        let ratio = k.as_secs_f64() / u.as_secs_f64();
        worst = worst.max((ratio - 1.0).abs());
        println!("| {name} | {raw} | {} | {} | {ratio:.3} |", ms(u), ms(k));
    }
    println!(
        "largest difference: {:.1}%; load average at end: {}",
        worst * 100.0,
        load_average()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A private directory for the SQLite file (no fixed path under /tmp).
fn tempfile_dir() -> String {
    let base = std::env::temp_dir().join(format!("vmailsql-timing-{}", std::process::id()));
    std::fs::create_dir(&base).expect("create a private directory");
    base.display().to_string()
}
