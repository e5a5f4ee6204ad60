//! Measuring helper for `bench/exim-bench.py`: the round-trip baseline and the library's own
//! resolution cost, measured against the same MariaDB as the Exim runs.
//!
//! ```text
//! exim_fixture select1 MYSQL_URL ROUNDS          bare `SELECT 1` on one held connection
//! exim_fixture resolve CONFIG_FILE < addresses   Vmail::resolve per address, one handle
//! ```
//!
//! Each prints one line of `key=value` pairs (microseconds).

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use vmailsql::Vmail;

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

fn resolve(config: &str) -> Result<String, String> {
    let vmail = Vmail::open_config(Some(Path::new(config))).map_err(|e| e.to_string())?;
    let addresses: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let first = addresses.first().ok_or("no addresses on stdin")?;
    // The first call connects; it is not part of the per-address cost.
    let _ = vmail.resolve(first);
    let mut samples = Vec::with_capacity(addresses.len());
    let mut found = 0;
    for address in &addresses {
        let t = Instant::now();
        let r = vmail.resolve(address);
        samples.push(t.elapsed());
        match r {
            Ok(_) => found += 1,
            Err(e) if e.kind() == vmailsql::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{address}: {e}")),
        }
    }
    Ok(format!("{} found={found}", summary(samples)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (Some("select1"), Some(url), rounds) => {
            select1(url, rounds.and_then(|r| r.parse().ok()).unwrap_or(2000))
        }
        (Some("resolve"), Some(config), None) => resolve(config),
        _ => Err(
            "usage: exim_fixture select1 MYSQL_URL [ROUNDS] | resolve CONFIG < addresses".into(),
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
