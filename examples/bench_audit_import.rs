//! What the audit log costs an import: 100k records (one domain, its popboxes and forwarders)
//! imported with `audit = on` and with `audit = off`, alternately into fresh databases, several
//! rounds each. The import writes one audit record (counts and a BLAKE3 digest of the records)
//! in its transaction; the ratios show what that adds: wall time, and CPU time (this process
//! plus, on MySQL, the server's, when its pid is in `VMAILSQL_BENCH_SERVER_PID`), which a busy
//! machine disturbs less. Prints the load average too: the machine may be shared.
//!
//! ```text
//! cargo run --release --example bench_audit_import -- [RECORDS] [ROUNDS] [mysql://...]
//! cargo run --release --example bench_audit_import -- --once on|off [RECORDS] [mysql://...]
//! ```
//!
//! Without a MySQL URL it runs on SQLite files in a temporary directory; with one, it creates
//! and drops throw-away databases on that server (the URL's account needs CREATE and DROP).
//! `--once` runs one import, for `valgrind --tool=callgrind` (bench/audit-bench.sh counts the
//! instructions of `Vmail::import` alone, a figure the machine's load does not change).

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

/// CPU time used so far by every thread of a process (`self` or a pid), from the scheduler's
/// nanosecond counters.
fn cpu(pid: &str) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// What one import took: wall time, and the CPU time of this process and the server.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

fn one_import(url: &str, audit: AuditMode, input: &[Record], server: Option<&str>) -> Took {
    let mut config = Config::with_database(url);
    config.audit = audit;
    let vmail = Vmail::open(config).expect("open");
    vmail.create_schema().expect("schema");
    let cpu_now = || cpu("self") + server.map_or(Duration::ZERO, cpu);
    let (cpu_before, started) = (cpu_now(), Instant::now());
    let report = vmail.import(input).expect("import");
    let took = Took {
        wall: started.elapsed(),
        cpu: cpu_now() - cpu_before,
    };
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

/// `--once on|off RECORDS [mysql://...]`: one import.
fn once(args: &[String]) {
    let audit = match args.first().map(String::as_str) {
        Some("on") => AuditMode::On,
        Some("off") => AuditMode::Off,
        other => panic!("--once on|off, not {other:?}"),
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mysql = args.get(2).map(String::as_str);
    let (url, drop) = fresh(mysql, dir.path(), 0);
    let took = one_import(&url, audit, &records(n), None);
    if let (Some(base), Some(name)) = (mysql, drop) {
        admin_sql(base, &format!("DROP DATABASE {name}"));
    }
    println!(
        "audit={audit:?} records={n} took={:.3}s",
        took.wall.as_secs_f64()
    );
}

/// The median of the rounds' on/off ratios: each round's two imports ran back to back, under
/// much the same load, so theirs is the steadiest figure on a shared machine.
fn paired(on: &[Took], off: &[Took], of: fn(&Took) -> Duration) -> f64 {
    let mut ratios: Vec<f64> = on
        .iter()
        .zip(off)
        .map(|(a, b)| of(a).as_secs_f64() / of(b).as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn median(times: &[Took], of: fn(&Took) -> Duration) -> f64 {
    let mut t: Vec<Duration> = times.iter().map(of).collect();
    t.sort();
    t[t.len() / 2].as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--once") {
        return once(&args[2..]);
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let mysql = args.get(3).map(String::as_str);
    let server = std::env::var("VMAILSQL_BENCH_SERVER_PID").ok();
    let server = server.as_deref().filter(|_| mysql.is_some());
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
            times.push(one_import(&url, audit, &input, server));
            if let (Some(base), Some(name)) = (mysql, drop) {
                admin_sql(base, &format!("DROP DATABASE {name}"));
            }
        }
    }
    let wall = |t: &Took| t.wall;
    let cpu = |t: &Took| t.cpu;
    let best = |t: &[Took]| t.iter().map(wall).min().unwrap_or_default().as_secs_f64();
    let backend = if mysql.is_some() { "mysql" } else { "sqlite" };
    let whose = if server.is_some() {
        "client+server"
    } else {
        "client"
    };
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "backend={backend} records={n} rounds={rounds} load average at start: {}\n  \
         wall: best off={:.3}s on={:.3}s; median off={:.3}s on={:.3}s; \
         median of the rounds' on/off={:.3}\n  \
         cpu ({whose}): median off={:.3}s on={:.3}s; median of the rounds' on/off={:.3}",
        load.join(" "),
        best(&off),
        best(&on),
        median(&off, wall),
        median(&on, wall),
        paired(&on, &off, wall),
        median(&off, cpu),
        median(&on, cpu),
        paired(&on, &off, cpu),
    );
}
