//! SQLite resolution throughput on one thread, against one primary-key SELECT on the same file
//! in the same run. Run by `bench/run-all`; prints one `key=value` line per size.
//!
//! ```text
//! cargo run --release --example bench_sqlite -- DIR POPBOXES...
//! ```
//!
//! Data per size N (as bench/exim-bench.py): N/100 domains, N popboxes, N/10 forwarders, a
//! catch-all on every tenth domain, an alias for every tenth domain. The address mix cycles
//! through popboxes, aliased popboxes, forwarders, catch-all and unknown local parts.

use std::path::Path;
use std::time::{Duration, Instant};

use vmailsql::{Config, Vmail};

fn load(path: &Path, popboxes: usize) -> rusqlite::Result<usize> {
    let domains = (popboxes / 100).max(10);
    let vmail = Vmail::open_url(&format!("sqlite://{}", path.display())).expect("open");
    vmail.create_schema().expect("schema");
    drop(vmail);
    let mut conn = rusqlite::Connection::open(path)?;
    let tx = conn.transaction()?;
    {
        let mut d = tx.prepare("INSERT INTO domain VALUES (?1, 'vmail', NULL, ?2, NULL)")?;
        for i in 0..domains {
            d.execute((format!("d{i}.example"), format!("/var/mail/d{i}")))?;
        }
        let mut p = tx.prepare("INSERT INTO popbox VALUES (?1, ?2, '{crypt}x', ?2)")?;
        for j in 0..popboxes {
            p.execute((format!("d{}.example", j % domains), format!("u{j}")))?;
        }
        let mut f = tx.prepare("INSERT INTO forwarder VALUES (?1, ?2, ?3)")?;
        for k in 0..popboxes / 10 {
            f.execute((
                format!("d{}.example", k % domains),
                format!("f{k}"),
                format!("t{k}@remote.example"),
            ))?;
        }
        for i in (0..domains).step_by(10) {
            f.execute((
                format!("d{i}.example"),
                "_default_",
                "catchall@remote.example",
            ))?;
        }
        let mut a = tx.prepare("INSERT INTO domain_alias (domain_name, alias) VALUES (?1, ?2)")?;
        for i in (0..domains).step_by(10) {
            a.execute((format!("d{i}.example"), format!("a{i}.example")))?;
        }
    }
    tx.commit()?;
    conn.execute_batch("ANALYZE")?;
    Ok(domains)
}

fn addresses(popboxes: usize, domains: usize) -> Vec<(String, String)> {
    (0..4096usize)
        .map(|i| {
            let n = i.wrapping_mul(7919) % popboxes;
            let d = n % domains;
            match i % 5 {
                0 | 1 => (format!("u{n}"), format!("d{d}.example")),
                2 => (
                    format!("u{}", n - d % 10),
                    format!("a{}.example", d - d % 10),
                ),
                3 => (
                    format!("f{}", n / 10),
                    format!("d{}.example", (n / 10) % domains),
                ),
                _ => (format!("nx{n}"), format!("d{}.example", d - d % 10)),
            }
        })
        .collect()
}

/// Operations per second of `op` over `rounds` passes of `n` items, best of three.
fn rate(n: usize, rounds: usize, mut op: impl FnMut(usize)) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for i in 0..n * rounds {
                op(i % n);
            }
            (n * rounds) as f64 / t.elapsed().as_secs_f64().max(1e-9)
        })
        .fold(0.0, f64::max)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: bench_sqlite DIR POPBOXES...");
    for size in args.filter_map(|s| s.parse::<usize>().ok()) {
        let path = Path::new(&dir).join(format!("bench-{size}.db"));
        let _ = std::fs::remove_file(&path);
        let t = Instant::now();
        let domains = load(&path, size).expect("load");
        let load_s = t.elapsed().as_secs_f64();
        let list = addresses(size, domains);
        let url = format!("sqlite://{}", path.display());
        let open = |age: u64| {
            let mut c = Config::with_database(&url);
            c.domain_cache_max_age = Some(Duration::from_secs(age));
            Vmail::open(c).expect("open")
        };
        let cold = open(0);
        let warm = open(3600);
        let conn = rusqlite::Connection::open(&path).expect("open");
        let mut pk = conn
            .prepare("SELECT mbox_name FROM popbox WHERE domain_name = ?1 AND local_part = ?2")
            .expect("prepare");
        let rounds = 25;
        let pk_rate = rate(list.len(), rounds, |i| {
            let (l, d) = &list[i];
            let _: Option<Option<String>> =
                pk.query_row((d, l), |r| r.get(0)).map(Some).unwrap_or(None);
        });
        let cold_rate = rate(list.len(), rounds, |i| {
            let (l, d) = &list[i];
            let _ = cold.resolve_parts(l, d);
        });
        let warm_rate = rate(list.len(), rounds, |i| {
            let (l, d) = &list[i];
            let _ = warm.resolve_parts(l, d);
        });
        println!(
            "popboxes={size} load_s={load_s:.1} pk_per_s={pk_rate:.0} resolve_per_s={cold_rate:.0} \
             resolve_cached_domain_per_s={warm_rate:.0} resolve_x_pk={:.2}",
            pk_rate / cold_rate
        );
        let _ = std::fs::remove_file(&path);
    }
}
