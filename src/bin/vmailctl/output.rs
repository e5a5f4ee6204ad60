//! Printing: human-readable text by default, one JSON document with --json.

use std::io::Write;

use serde_json::{json, Value};

use crate::exit::{Failure, OK};

/// What a command has to say, in both forms, and how the process should end.
#[derive(Debug)]
pub struct Report {
    /// Text for people; printed with a final newline unless empty.
    pub human: String,
    /// The same facts for scripts.
    pub json: Value,
    /// The exit status (non-zero when the report itself is bad news, as for `check`).
    pub code: u8,
}

impl Report {
    /// A report with exit status 0.
    pub fn new(human: impl Into<String>, json: Value) -> Report {
        Report {
            human: human.into(),
            json,
            code: OK,
        }
    }

    /// A change was made: `message` for people, `{"ok": true, ...details}` for scripts.
    pub fn changed(message: impl Into<String>, details: Value) -> Report {
        let message = message.into();
        let mut json = json!({ "ok": true, "message": message });
        if let (Some(out), Value::Object(more)) = (json.as_object_mut(), details) {
            out.extend(more);
        }
        Report::new(message, json)
    }

    /// Nothing more to print (the command wrote its own output, as export does).
    pub fn silent() -> Report {
        Report::new("", Value::Null)
    }

    /// The same report with another exit status.
    pub fn with_code(mut self, code: u8) -> Report {
        self.code = code;
        self
    }
}

/// Prints a report on stdout in the chosen form.
pub fn print(report: &Report, json: bool) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`vmailctl ... | head`) is not worth a panic.
    let _ = if json {
        if report.json.is_null() {
            Ok(())
        } else {
            writeln!(out, "{}", pretty(&report.json))
        }
    } else if report.human.is_empty() {
        Ok(())
    } else {
        writeln!(out, "{}", report.human.trim_end())
    };
}

/// Prints a failure: one line on stderr, and with --json an error object on stdout.
pub fn print_failure(failure: &Failure, json: bool) {
    eprintln!("vmailctl: {}", failure.message);
    for problem in &failure.problems {
        eprintln!("vmailctl:   {problem}");
    }
    if json {
        let error = json!({ "error": {
            "kind": failure.kind,
            "message": failure.message,
            "exit_code": failure.code,
            "problems": failure.problems,
        }});
        println!("{}", pretty(&error));
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Columns aligned on two spaces, headers first; `empty` when there are no rows.
pub fn table(headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return empty.to_string();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut lines = vec![line(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// `value`, or `-` for nothing, for table cells.
pub fn or_dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["example.org".to_string(), "3".to_string()],
            vec!["a.example".to_string(), "12".to_string()],
        ];
        let text = table(&["DOMAIN", "N"], &rows, "none");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "DOMAIN       N");
        assert_eq!(lines[2], "a.example    12");
        assert_eq!(table(&["X"], &[], "no rows"), "no rows");
    }

    #[test]
    fn changes_merge_details_after_ok() {
        let r = Report::changed("done", json!({ "domain": "example.org" }));
        assert_eq!(r.json["ok"], true);
        assert_eq!(r.json["domain"], "example.org");
        assert_eq!(r.human, "done");
    }
}
