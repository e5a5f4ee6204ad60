//! `vmailctl export` and `vmailctl import`: a whole site as JSON Lines (see jsonl.rs).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde_json::json;
use vmailsql::{ErrorKind, ImportProblem, Record};

use crate::cli::{ExportArgs, ImportArgs};
use crate::context::Context;
use crate::exit::{self, Failure, Outcome};
use crate::jsonl;
use crate::output::Report;
use crate::progress::Progress;
use crate::spool::{self, Lines};

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
/// input is parsed once into a private copy (standard input can be read only once, and a file
/// could change between passes), which the library's passes read a record at a time: a
/// million popboxes are never held at once.
pub fn import(ctx: &Context, args: ImportArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let (input, lines) = spool::copy_input(args.file.as_deref())?;
    let (scan, spool) = scan(&input, lines)?;
    drop(input);
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

/// What the reading of the input found.
struct Scan {
    /// The line number of each record, in order.
    lines: Vec<usize>,
    counts: BTreeMap<&'static str, usize>,
}

/// Parses every line once, into the compact private copy that the import's passes read:
/// every unreadable line is reported, not just the first.
fn scan(input: &File, lines: usize) -> Outcome<(Scan, File)> {
    let mut scan = Scan {
        lines: Vec::new(),
        counts: counts(&[]),
    };
    let mut bad = Vec::new();
    let mut spool = spool::Writer::new()?;
    let mut progress = Progress::new("read", lines);
    for line in Lines::of(input).map_err(read_failed)? {
        let (number, parsed) = line.map_err(read_failed)?;
        progress.step();
        match parsed {
            Ok(record) => {
                scan.lines.push(number);
                *scan.counts.entry(jsonl::type_name(&record)).or_default() += 1;
                if bad.is_empty() {
                    spool.push(&record).map_err(copy_failed)?;
                }
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
    Ok((scan, spool.finish().map_err(copy_failed)?))
}

fn read_failed(e: std::io::Error) -> Failure {
    Failure::usage(format!("cannot read the input: {e}"))
}

fn copy_failed(e: std::io::Error) -> Failure {
    Failure::usage(format!("cannot write the private copy of the input: {e}"))
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
    Ok(spool::Reader::of(spool).map_err(io)?.map(move |record| {
        progress.step();
        record.map_err(io)
    }))
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
