//! Library-level lookup benchmark: the seed's Exim queries (string-built, unindexable joins)
//! against `Vmail::resolve` (one indexed round trip), with a bare `SELECT 1` round trip measured
//! in the same run as the baseline. Run through `bench/lib-bench.sh`, which starts a throw-away
//! MariaDB and loads the tables.
//!
//! ```text
//! cargo run --release --example bench_resolve -- MYSQL_URL POPBOXES ROUNDS
//! ```

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use vmailsql::{password, Vmail};

/// The seed's three director queries, in routing order, with its string substitution.
fn seed_route(conn: &mut mysql::Conn, local: &str, domain: &str) -> usize {
    let q = |s: &str| s.replace('\'', "\\'");
    let (l, d) = (q(local), q(domain));
    let forward = format!(
        "select remote_name from forwarder left join domain_alias on domain_alias.domain_name = forwarder.domain_name \
         where local_part = '{l}' and (forwarder.domain_name = '{d}' or alias = '{d}')"
    );
    let popbox = format!(
        "select mbox_name from popbox left join domain_alias on domain_alias.domain_name = popbox.domain_name \
         where local_part = '{l}' and (popbox.domain_name = '{d}' or alias = '{d}')"
    );
    let default = format!(
        "select remote_name from forwarder left join domain_alias on domain_alias.domain_name = forwarder.domain_name \
         where local_part = '_default_' and (forwarder.domain_name = '{d}' or domain_alias.alias = '{d}')"
    );
    let mut queries = 0;
    for sql in [forward, popbox, default] {
        queries += 1;
        let rows: Vec<mysql::Row> = conn.query(sql).expect("seed query");
        if !rows.is_empty() {
            break;
        }
    }
    queries
}

fn time_per_op(rounds: usize, mut op: impl FnMut(usize)) -> Duration {
    // warm up (connection, statement cache, buffer pool)
    for i in 0..rounds.min(50) {
        op(i);
    }
    let start = Instant::now();
    for i in 0..rounds {
        op(i);
    }
    start.elapsed() / rounds as u32
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: bench_resolve MYSQL_URL POPBOXES ROUNDS");
    let popboxes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(500);
    let domains = (popboxes / 10).max(1);

    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    let vmail = Vmail::open_url(&url).unwrap();
    // addresses spread over the table: popboxes, forwarders, catch-all, unknown domain
    let address = |i: usize| {
        let n = (i * 7919) % popboxes;
        match i % 4 {
            0 => (format!("u{n}"), format!("d{}.example", n % domains)),
            1 => (format!("f{n}"), format!("d{}.example", n % domains)),
            2 => (format!("nobody{n}"), format!("d{}.example", n % domains)),
            _ => (format!("u{n}"), "not-local.example".to_string()),
        }
    };
    let select1 = time_per_op(rounds, |_| {
        let _: Option<u8> = conn.query_first("SELECT 1").unwrap();
    });
    let mut seed_queries = 0;
    let seed = time_per_op(rounds, |i| {
        let (l, d) = address(i);
        seed_queries += seed_route(&mut conn, &l, &d);
    });
    let lib = time_per_op(rounds, |i| {
        let (l, d) = address(i);
        let _ = vmail.resolve_parts(&l, &d);
    });
    let ratio = |d: Duration| d.as_secs_f64() / select1.as_secs_f64();
    println!(
        "popboxes={popboxes} rounds={rounds} select1={:.1}us seed={:.1}us ({:.1}x select1, {:.2} queries/address) \
         vmailsql={:.1}us ({:.1}x select1, 1 query/address) speedup={:.1}x",
        select1.as_secs_f64() * 1e6,
        seed.as_secs_f64() * 1e6,
        ratio(seed),
        seed_queries as f64 / (rounds + rounds.min(50)) as f64,
        lib.as_secs_f64() * 1e6,
        ratio(lib),
        seed.as_secs_f64() / lib.as_secs_f64()
    );

    // password verification cost per scheme (what a POP3 login pays), against hex MD5
    let md5 = time_per_op(200, |_| {
        password::verify("{md5}5ebe2294ecd0e0f08eab7690d2a6ee69", "secret");
    });
    for scheme in [
        password::Scheme::Crypt,
        password::Scheme::BlfCrypt,
        password::Scheme::Argon2id,
    ] {
        let stored = password::hash(scheme, "secret").unwrap();
        let t = time_per_op(5, |_| {
            password::verify(&stored, "secret");
        });
        println!(
            "verify {:<14} {:>9.1}us ({:.0}x hex MD5 at {:.2}us)",
            scheme.name(),
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() / md5.as_secs_f64(),
            md5.as_secs_f64() * 1e6
        );
    }
}
