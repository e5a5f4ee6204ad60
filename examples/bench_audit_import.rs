//! What the audit log costs an import: 100k records (one domain, its popboxes and forwarders)
//! imported with `audit = on` and with `audit = off`, alternately into fresh databases, the best
//! of several rounds each. The import writes one audit record (counts and a SHA-256 of the rows)
//! in its transaction; the ratio shows what that adds. Prints the load average too: the machine
//! may be shared.
//!
//! ```text
//! cargo run --release --example bench_audit_import -- [RECORDS] [ROUNDS] [mysql://...]
//! ```
//!
//! Without a MySQL URL it runs on SQLite files in a temporary directory; with one, it creates
//! and drops throw-away databases on that server (the URL's account needs CREATE and DROP).

use std::time::{Duration, Instant};

use vmailsql::{AuditMode, Config, Domain, Forwarder, Popbox, Record, Vmail};

fn records(n: usize) -> Vec<Record> {
    let mut out = vec![Record::Domain(Domain {
        name: "bench.example".into(),
        unix_user: Some("vmail".into()),
        password_hash: None,
        path: Some("/var/mail/bench.example".into()),
        max_popbox: None,
    })];
    for i in 1..n {
        out.push(if i % 4 == 0 {
            Record::Forwarder(Forwarder {
                domain: "bench.example".into(),
                local_part: format!("fwd{i}"),
                remote_name: format!("user{i}@remote.example"),
            })
        } else {
            Record::Popbox(Popbox {
                domain: "bench.example".into(),
                local_part: format!("user{i}"),
                password_hash: Some("{md5}5ebe2294ecd0e0f08eab7690d2a6ee69".into()),
                mbox_name: None,
            })
        });
    }
    out
}

/// A fresh database URL for round `n`, and how to drop it afterwards.
fn fresh(base: Option<&str>, dir: &std::path::Path, n: usize) -> (String, Option<String>) {
    match base {
        None => (format!("sqlite://{}/bench{n}.db", dir.display()), None),
        Some(url) => {
            let name = format!("vmailsql_audit_bench_{}_{n}", std::process::id());
            admin_sql(url, &format!("CREATE DATABASE {name}"));
            let (head, tail) = url.split_once('?').map_or((url, ""), |(h, t)| (h, t));
            let head = head.rsplit_once('/').map_or(head, |(h, _)| h);
            let sep = if tail.is_empty() { "" } else { "?" };
            (format!("{head}/{name}{sep}{tail}"), Some(name))
        }
    }
}

fn admin_sql(url: &str, sql: &str) {
    use mysql::prelude::Queryable;
    let opts = mysql::Opts::from_url(url).expect("a mysql:// URL");
    mysql::Conn::new(opts)
        .expect("connect")
        .query_drop(sql)
        .expect(sql);
}

fn one_import(url: &str, audit: AuditMode, input: &[Record]) -> Duration {
    let mut config = Config::with_database(url);
    config.audit = audit;
    let vmail = Vmail::open(config).expect("open");
    vmail.create_schema().expect("schema");
    let started = Instant::now();
    let report = vmail.import(input).expect("import");
    let took = started.elapsed();
    assert_eq!(
        report.domains + report.popboxes + report.forwarders,
        input.len()
    );
    let logged = vmail
        .audit_log(&Default::default())
        .expect("audit log")
        .len();
    assert_eq!(
        logged,
        usize::from(audit == AuditMode::On),
        "one record with audit on"
    );
    took
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let mysql = args.get(3).map(String::as_str);
    let dir = tempfile::tempdir().expect("tempdir");
    let input = records(n);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always meets a cold cache.
        let mut order = [(AuditMode::Off, &mut off), (AuditMode::On, &mut on)];
        if round % 2 == 1 {
            order.reverse();
        }
        for (audit, times) in order {
            let (url, drop) = fresh(
                mysql,
                dir.path(),
                round * 2 + usize::from(audit == AuditMode::On),
            );
            times.push(one_import(&url, audit, &input));
            if let (Some(base), Some(name)) = (mysql, drop) {
                admin_sql(base, &format!("DROP DATABASE {name}"));
            }
        }
    }
    let best = |t: &[Duration]| t.iter().min().copied().unwrap_or_default().as_secs_f64();
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2].as_secs_f64()
    };
    let (b_on, b_off) = (best(&on), best(&off));
    // Each round's two imports ran back to back, under much the same load: their ratio is the
    // steadiest figure on a shared machine.
    let mut paired: Vec<f64> = on
        .iter()
        .zip(&off)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    paired.sort_by(f64::total_cmp);
    let pair = paired[paired.len() / 2];
    let (m_on, m_off) = (median(&mut on), median(&mut off));
    let backend = if mysql.is_some() { "mysql" } else { "sqlite" };
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "backend={backend} records={n} rounds={rounds} best: off={b_off:.3}s on={b_on:.3}s \
         on/off={:.3}; median: off={m_off:.3}s on={m_on:.3}s on/off={:.3}; \
         median of the rounds' on/off={pair:.3}; load average at start: {}",
        b_on / b_off,
        m_on / m_off,
        load.join(" ")
    );
}
