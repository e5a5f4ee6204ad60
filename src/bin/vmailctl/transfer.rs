//! `vmailctl export` and `vmailctl import`: a whole site as JSON Lines (see jsonl.rs).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use vmailsql::{ErrorKind, ImportProblem, Record};

use crate::cli::{ExportArgs, ImportArgs};
use crate::context::Context;
use crate::exit::{self, Failure, Outcome};
use crate::jsonl;
use crate::output::Report;
use crate::progress::Progress;

pub fn export(ctx: &Context, args: ExportArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let records = vmail.export()?;
    let io_error = |e: std::io::Error| {
        Failure::of_kind(
            vmailsql::ErrorKind::Internal,
            format!("cannot write the export: {e}"),
        )
    };
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(private_file(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut progress = Progress::new("export", records.len());
    for record in &records {
        writeln!(sink, "{}", jsonl::to_line(record)).map_err(io_error)?;
        progress.step();
    }
    sink.flush().map_err(io_error)?;
    let Some(path) = args.output else {
        return Ok(Report::silent());
    };
    let counts = counts(&records);
    Ok(Report::changed(
        format!("exported {} to {}", summary(&counts), path.display()),
        json!({ "file": path, "records": counts }),
    ))
}

/// The export holds every password hash of the site: 0600, also when the file existed before.
fn private_file(path: &Path) -> Outcome<std::fs::File> {
    let cannot =
        |e: std::io::Error| Failure::usage(format!("cannot create {}: {e}", path.display()));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(cannot)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(cannot)?;
    Ok(file)
}

/// Reads and checks everything, then writes all of it in one transaction, or nothing. The
/// input is read from a private copy (standard input can be read only once, and a file could
/// change between passes), a record at a time: a million popboxes are never held at once.
pub fn import(ctx: &Context, args: ImportArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let (spool, lines) = spool(args.file.as_deref())?;
    let scan = scan(&spool, lines)?;
    let (spool, total) = (&spool, scan.lines.len());
    let source = |label| move || records(spool, label, total);
    if args.dry_run {
        let problems = vmail.check_import_from(source("check"))?;
        if !problems.is_empty() {
            return Err(refused(&problems, &scan.lines));
        }
        let human = format!(
            "{} checked; nothing was written (dry run)",
            summary(&scan.counts)
        );
        return Ok(Report::new(
            human,
            json!({ "ok": true, "dry_run": true, "records": scan.counts }),
        ));
    }
    let report = match vmail.import_from(source("import")) {
        Ok(report) => report,
        Err(e) => {
            // A record was refused: list every problem, as a dry run would have.
            if record_of(&e).is_some() {
                let problems = vmail.check_import_from(source("check"))?;
                if !problems.is_empty() {
                    return Err(refused(&problems, &scan.lines));
                }
            }
            return Err(import_failed(&e, &scan.lines));
        }
    };
    Ok(Report::changed(
        format!("imported {}", summary(&scan.counts)),
        json!({ "dry_run": false, "records": {
            "domain": report.domains, "alias": report.aliases,
            "popbox": report.popboxes, "forwarder": report.forwarders,
        }}),
    ))
}

/// The failure for records that cannot be imported, each problem with its line.
fn refused(problems: &[ImportProblem], lines: &[usize]) -> Failure {
    let worst = problems
        .iter()
        .max_by_key(|p| exit::severity(exit::for_kind(p.error.kind())))
        .map_or(ErrorKind::InvalidInput, |p| p.error.kind());
    let mut failure = Failure::of_kind(
        worst,
        format!(
            "{} record(s) cannot be imported; nothing was written",
            problems.len()
        ),
    );
    failure.problems = problems
        .iter()
        .map(|p| format!("line {}: {}", lines[p.index], p.error))
        .collect();
    failure
}

/// The record number (from 1) that the library's import error names, if it names one.
fn record_of(e: &vmailsql::Error) -> Option<(usize, String)> {
    let message = e.to_string();
    let (n, rest) = message.strip_prefix("record ")?.split_once(':')?;
    Some((n.parse().ok()?, rest.to_string()))
}

fn import_failed(e: &vmailsql::Error, lines: &[usize]) -> Failure {
    // The library numbers records from 1 in file order; say which line that was.
    let line = record_of(e)
        .and_then(|(n, rest)| Some(format!("line {}:{rest}", lines.get(n.checked_sub(1)?)?)));
    Failure::of_kind(
        e.kind(),
        format!(
            "import failed, nothing was written: {}",
            line.unwrap_or_else(|| e.to_string())
        ),
    )
}

/// A private, already unlinked copy of the input: the import reads it several times, and
/// nobody else can change or read it meanwhile (it holds password hashes).
/// Also says how many lines it holds, for the progress bar.
fn spool(file: Option<&Path>) -> Outcome<(File, usize)> {
    let (mut input, name): (Box<dyn Read>, String) = match file {
        Some(path) if path != Path::new("-") => {
            let f = File::open(path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            (Box::new(f), path.display().to_string())
        }
        _ => (Box::new(std::io::stdin().lock()), "standard input".into()),
    };
    let dir = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!("vmailctl-import.{}.{nanos}", std::process::id()));
    let cannot = |e: std::io::Error| {
        Failure::usage(format!(
            "cannot make a private copy of the input in {} (set TMPDIR): {e}",
            dir.display()
        ))
    };
    // create_new: never follows a link planted at that name.
    let mut copy = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(cannot)?;
    let _ = std::fs::remove_file(&path);
    let mut lines = 0;
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::usage(format!("cannot read {name}: {e}"))),
        };
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        copy.write_all(&buf[..n]).map_err(cannot)?;
    }
    Ok((copy, lines + 1))
}

/// What a first reading of the input found.
struct Scan {
    /// The line number of each record, in order.
    lines: Vec<usize>,
    counts: BTreeMap<&'static str, usize>,
}

/// Reads every line once: every unreadable line is reported, not just the first.
fn scan(spool: &File, lines: usize) -> Outcome<Scan> {
    let mut scan = Scan {
        lines: Vec::new(),
        counts: counts(&[]),
    };
    let mut bad = Vec::new();
    let mut progress = Progress::new("read", lines);
    for line in Lines::of(spool).map_err(read_failed)? {
        let (number, parsed) = line.map_err(read_failed)?;
        progress.step();
        match parsed {
            Ok(record) => {
                scan.lines.push(number);
                *scan.counts.entry(jsonl::type_name(&record)).or_default() += 1;
            }
            Err(why) => bad.push(format!("line {number}: {why}")),
        }
    }
    if !bad.is_empty() {
        let mut failure = Failure::usage(format!(
            "{} line(s) are not vmailctl export records; nothing was written",
            bad.len()
        ));
        failure.problems = bad;
        return Err(failure);
    }
    if scan.lines.is_empty() {
        return Err(Failure::usage("no records to import"));
    }
    Ok(scan)
}

fn read_failed(e: std::io::Error) -> Failure {
    Failure::usage(format!("cannot read the input: {e}"))
}

/// The records of the spool from the first, for one pass of the library's import.
fn records(
    spool: &File,
    label: &'static str,
    total: usize,
) -> vmailsql::Result<impl Iterator<Item = vmailsql::Result<Record>>> {
    let io = |e: std::io::Error| {
        vmailsql::Error::new(ErrorKind::Internal, format!("cannot read the input: {e}"))
    };
    let mut progress = Progress::new(label, total);
    Ok(Lines::of(spool).map_err(io)?.map(move |line| {
        let (number, parsed) = line.map_err(io)?;
        progress.step();
        parsed.map_err(|why| {
            vmailsql::Error::new(ErrorKind::InvalidInput, format!("line {number}: {why}"))
        })
    }))
}

/// The non-blank lines of the spool from its start, each parsed where it was read (no copy of
/// the line), with its number (from 1).
struct Lines {
    reader: BufReader<File>,
    number: usize,
    buf: String,
}

impl Lines {
    fn of(spool: &File) -> std::io::Result<Lines> {
        let mut file = spool.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 16, file),
            number: 0,
            buf: String::new(),
        })
    }
}

impl Iterator for Lines {
    type Item = std::io::Result<(usize, Result<Record, String>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.number += 1,
                Err(e) => return Some(Err(e)),
            }
            let line = self.buf.trim();
            if !line.is_empty() {
                return Some(Ok((self.number, jsonl::from_line(line))));
            }
        }
    }
}

fn counts(records: &[Record]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = ["domain", "alias", "popbox", "forwarder"]
        .into_iter()
        .map(|t| (t, 0))
        .collect();
    for record in records {
        *counts.entry(jsonl::type_name(record)).or_default() += 1;
    }
    counts
}

fn summary(counts: &BTreeMap<&'static str, usize>) -> String {
    let get = |t| counts.get(t).copied().unwrap_or(0);
    format!(
        "{}, {}, {} and {}",
        crate::names::count(get("domain"), "domain"),
        crate::names::count(get("alias"), "alias"),
        crate::names::count(get("popbox"), "popbox"),
        crate::names::count(get("forwarder"), "forwarder")
    )
}
