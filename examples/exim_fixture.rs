//! Measuring helper for `bench/exim-bench.py`: the round-trip baseline and the library's own
//! resolution cost, measured against the same MariaDB as the Exim runs.
//!
//! ```text
//! exim_fixture select1 MYSQL_URL ROUNDS          bare `SELECT 1` on one held connection
//! exim_fixture interleaved CONFIG MYSQL_URL < addresses   per address, one after another: a
//!                          primary-key SELECT (popbox), Vmail::resolve without the domain
//!                          cache, and with the domains checked first (stdin's first line: the
//!                          popbox addresses the PK SELECT reads, separated by spaces)
//! exim_fixture auth CONFIG ADDRESS ROUNDS        authenticate against bare hash verification
//! exim_fixture connect CONFIG ROUNDS             a process's first connection, then reconnections
//! ```
//!
//! Each prints one line of `key=value` pairs (microseconds).

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use vmailsql::{Config, Vmail};

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let total: Duration = samples.iter().sum();
    let n = samples.len().max(1);
    format!(
        "n={} p50_us={:.1} mean_us={:.1} p90_us={:.1}",
        samples.len(),
        us(samples[samples.len() / 2]),
        us(total) / n as f64,
        us(samples[samples.len() * 9 / 10])
    )
}

fn select1(url: &str, rounds: usize) -> Result<String, String> {
    let opts = mysql::Opts::from_url(url).map_err(|e| format!("bad URL: {e}"))?;
    let mut conn = mysql::Conn::new(opts).map_err(|e| format!("connect: {e}"))?;
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds + 50 {
        let t = Instant::now();
        let one: Option<u8> = conn.query_first("SELECT 1").map_err(|e| e.to_string())?;
        if one != Some(1) {
            return Err("SELECT 1 did not return 1".into());
        }
        if i >= 50 {
            samples.push(t.elapsed());
        }
    }
    Ok(summary(samples))
}

fn stdin_addresses() -> Result<Vec<String>, String> {
    let addresses: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if addresses.is_empty() {
        return Err("no addresses on stdin".into());
    }
    Ok(addresses)
}

/// A handle on `config` with the domain cache set to `max_age` seconds.
fn open(config: &str, max_age: u64) -> Result<Vmail, String> {
    let mut config = Config::load(Some(Path::new(config))).map_err(|e| e.to_string())?;
    config.domain_cache_max_age = Some(Duration::from_secs(max_age));
    Vmail::open(config).map_err(|e| e.to_string())
}

/// `authenticate` against the bare verification of the same stored hash, interleaved.
fn auth(config: &str, address: &str, rounds: usize) -> Result<String, String> {
    let vmail = open(config, 0)?;
    let (local, domain) = address.split_once('@').ok_or("address without @")?;
    let password = "bench-password";
    vmail
        .set_popbox_password(domain, local, password)
        .map_err(|e| e.to_string())?;
    let stored = vmail
        .popbox(domain, local)
        .map_err(|e| e.to_string())?
        .password_hash
        .unwrap_or_default();
    let (mut login, mut bare, mut lookup) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        vmail
            .authenticate(address, password)
            .map_err(|e| e.to_string())?;
        login.push(t.elapsed());
        let t = Instant::now();
        assert!(vmailsql::password::verify(&stored, password));
        bare.push(t.elapsed());
        // The login's own query alone (the same statement, no hash), right after a hash as in
        // a login: what is left of the overhead once the hashing is subtracted.
        assert!(vmailsql::password::verify(&stored, password));
        let t = Instant::now();
        vmail.mailbox(address).map_err(|e| e.to_string())?;
        lookup.push(t.elapsed());
    }
    let p50 = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let (login, bare, lookup) = (p50(login), p50(bare), p50(lookup));
    Ok(format!(
        "authenticate_us={login:.1} verify_us={bare:.1} overhead_pct={:.1} lookup_us={lookup:.1} \
         lookup_pct={:.1}",
        (login / bare - 1.0) * 100.0,
        lookup / bare * 100.0
    ))
}

/// The first connection of this process (and its first query), then reconnections: new handles
/// on the same configuration, each connecting afresh.
fn connect(config: &str, rounds: usize) -> Result<String, String> {
    let once = || -> Result<Duration, String> {
        let vmail = open(config, 0)?;
        let t = Instant::now();
        vmail.tables().map_err(|e| e.to_string())?;
        Ok(t.elapsed())
    };
    let first = once()?;
    let mut again = (0..rounds.max(1))
        .map(|_| once())
        .collect::<Result<Vec<_>, _>>()?;
    again.sort();
    let again = again[again.len() / 2];
    Ok(format!(
        "first_us={:.1} again_us={:.1} ratio={:.2}",
        first.as_secs_f64() * 1e6,
        again.as_secs_f64() * 1e6,
        first.as_secs_f64() / again.as_secs_f64()
    ))
}

/// One PK SELECT, `resolve` without and with the domain known, one after another for each
/// address, so that all three see the same scheduling: on two shared vCPUs a round trip costs
/// about 8 us when client and server share a vCPU and about 75 us when they do not, and one
/// process tends to stay in one mode for its whole run. The first stdin line lists the
/// addresses (popboxes by their real domain) the PK SELECT reads, separated by spaces.
fn interleaved(config: &str, url: &str) -> Result<String, String> {
    let opts = mysql::Opts::from_url(url).map_err(|e| format!("bad URL: {e}"))?;
    let mut conn = mysql::Conn::new(opts).map_err(|e| format!("connect: {e}"))?;
    let mut lines = stdin_addresses()?;
    let direct: Vec<String> = lines.remove(0).split(' ').map(str::to_owned).collect();
    if lines.is_empty() {
        return Err("no addresses to resolve after the line of PK addresses".into());
    }
    let (cold, warm) = (open(config, 0)?, open(config, 3600)?);
    for address in &lines {
        let _ = warm.local_domain(address.rsplit('@').next().unwrap_or(""));
    }
    let sql = "SELECT mbox_name FROM popbox WHERE domain_name = ? AND local_part = ?";
    let mut samples = [Vec::new(), Vec::new(), Vec::new()];
    for pass in 0..4 {
        for (i, address) in lines.iter().enumerate() {
            let (local, domain) = direct[i % direct.len()]
                .split_once('@')
                .ok_or("address without @")?;
            let t = Instant::now();
            let _: Option<Option<String>> = conn
                .exec_first(sql, (domain, local))
                .map_err(|e| e.to_string())?;
            let pk = t.elapsed();
            let [cold_t, warm_t] = [&cold, &warm].map(|vmail| {
                let t = Instant::now();
                let r = vmail.resolve(address);
                (t.elapsed(), r)
            });
            for (_, r) in [&cold_t, &warm_t] {
                if let Err(e) = r {
                    if e.kind() != vmailsql::ErrorKind::NotFound {
                        return Err(format!("{address}: {e}"));
                    }
                }
            }
            // The first pass warms both handles' connections and statements.
            if pass > 0 {
                for (s, d) in samples.iter_mut().zip([pk, cold_t.0, warm_t.0]) {
                    s.push(d);
                }
            }
        }
    }
    let [pk, cold, warm] = samples.map(|mut v| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    });
    Ok(format!(
        "pk_us={pk:.1} resolve_us={cold:.1} known_us={warm:.1} resolve_x_pk={:.3} known_x_pk={:.3}",
        cold / pk,
        warm / pk
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (Some("select1"), Some(url), rounds) => {
            select1(url, rounds.and_then(|r| r.parse().ok()).unwrap_or(2000))
        }
        (Some("interleaved"), Some(config), Some(url)) => interleaved(config, url),
        (Some("auth"), Some(config), Some(address)) => auth(
            config,
            address,
            args.get(4).and_then(|r| r.parse().ok()).unwrap_or(200),
        ),
        (Some("connect"), Some(config), rounds) => {
            connect(config, rounds.and_then(|r| r.parse().ok()).unwrap_or(20))
        }
        _ => Err(
            "usage: exim_fixture select1 MYSQL_URL [ROUNDS] | interleaved CONFIG MYSQL_URL < lines | \
                  auth CONFIG ADDRESS [ROUNDS] | \
                  connect CONFIG [ROUNDS]"
                .into(),
        ),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("exim_fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
