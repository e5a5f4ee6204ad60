//! `vmailctl export` and `vmailctl import`: a whole site as JSON Lines (see jsonl.rs).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde_json::json;
use vmailsql::{ImportReport, Record, Vmail};

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

/// Reads and checks everything, then writes all of it in one transaction, or nothing.
pub fn import(ctx: &Context, args: ImportArgs) -> Outcome<Report> {
    let vmail = ctx.vmail()?;
    let text = read_input(args.file.as_deref())?;
    let (lines, records) = parse(&text)?;
    drop(text); // a million records are enough to hold at once
    let problems = vmail.check_import(&records)?;
    if let Some(worst) = problems
        .iter()
        .max_by_key(|p| exit::severity(exit::for_kind(p.error.kind())))
    {
        let mut failure = Failure::of_kind(
            worst.error.kind(),
            format!(
                "{} record(s) cannot be imported; nothing was written",
                problems.len()
            ),
        );
        failure.problems = problems
            .iter()
            .map(|p| format!("line {}: {}", lines[p.index], p.error))
            .collect();
        return Err(failure);
    }
    let counts = counts(&records);
    if args.dry_run {
        let human = format!(
            "{} checked; nothing was written (dry run)",
            summary(&counts)
        );
        return Ok(Report::new(
            human,
            json!({ "ok": true, "dry_run": true, "records": counts }),
        ));
    }
    let report = write_all(&vmail, records, &lines)?;
    Ok(Report::changed(
        format!("imported {}", summary(&counts)),
        json!({ "dry_run": false, "records": {
            "domain": report.domains, "alias": report.aliases,
            "popbox": report.popboxes, "forwarder": report.forwarders,
        }}),
    ))
}

fn read_input(file: Option<&Path>) -> Outcome<String> {
    let mut text = String::new();
    let result = match file {
        Some(path) if path != Path::new("-") => std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        _ => std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}")),
    };
    result.map(|_| text).map_err(Failure::usage)
}

/// Every record with its line number; every unreadable line is reported, not just the first.
fn parse(text: &str) -> Outcome<(Vec<usize>, Vec<Record>)> {
    let mut lines = Vec::new();
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let total = text.lines().count();
    let mut progress = Progress::new("read", total);
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        progress.step();
        if line.is_empty() {
            continue;
        }
        match jsonl::from_line(line) {
            Ok(record) => {
                lines.push(number);
                records.push(record);
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
    if records.is_empty() {
        return Err(Failure::usage("no records to import"));
    }
    Ok((lines, records))
}

/// Hands the records to the library's atomic import, domains first so that the records of a
/// domain may come before it in the file.
fn write_all(vmail: &Vmail, records: Vec<Record>, lines: &[usize]) -> Outcome<ImportReport> {
    let rank = |r: &Record| match r {
        Record::Domain(_) => 0,
        Record::Alias(_) => 1,
        Record::Popbox(_) => 2,
        Record::Forwarder(_) => 3,
    };
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| rank(&records[i]));
    // Moved, not copied: the records are the bulk of an import's memory.
    let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    let sorted: Vec<Record> = order.iter().filter_map(|&i| slots[i].take()).collect();
    drop(slots);
    let busy = sorted.len() >= 500 && std::io::stderr().is_terminal();
    if busy {
        eprint!(
            "import: writing {} records in one transaction...",
            sorted.len()
        );
    }
    let result = vmail.import(&sorted);
    if busy {
        eprintln!();
    }
    result.map_err(|e| {
        // The library numbers records from 1 in the order given; say which line that was.
        let message = e.to_string();
        let line = message
            .strip_prefix("record ")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
            .and_then(|(n, rest)| {
                Some(format!(
                    "line {}:{rest}",
                    lines[*order.get(n.checked_sub(1)?)?]
                ))
            });
        Failure::of_kind(
            e.kind(),
            format!(
                "import failed, nothing was written: {}",
                line.unwrap_or(message)
            ),
        )
    })
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
