//! One table of error kinds: `ErrorKind` (src/error.rs) is the source; the C header's
//! `vmailsql_result`, and the result-code tables of the README and docs/c-api.md must say the
//! same. On a failure the message prints the rows as they must read.

use std::path::Path;

use vmailsql::ErrorKind;

/// `NotFound` -> `NOT_FOUND`: the C name of a kind.
fn c_name(kind: ErrorKind) -> String {
    let mut name = String::from("VMAILSQL_");
    for (i, c) in format!("{kind:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The rows of a result-code table, in code order, as the documents must print them.
fn expected_rows() -> Vec<String> {
    let mut rows: Vec<(i32, String)> = ErrorKind::ALL
        .iter()
        .map(|&k| {
            let action = match k.daemon_action() {
                "" => String::new(),
                a => format!("{a} "),
            };
            let row = format!(
                "| `{}` ({}) | {} | {action}|",
                c_name(k),
                k.code(),
                k.meaning()
            );
            (k.code(), row)
        })
        .collect();
    // The codes that exist only in C.
    rows.extend([
        (0, "| `VMAILSQL_OK` (0) | success | |".to_string()),
        (
            8,
            "| `VMAILSQL_PANIC` (8) | a Rust panic, caught at the boundary; the handle stays usable | defer, report |"
                .to_string(),
        ),
        (
            9,
            "| `VMAILSQL_NULL_ARGUMENT` (9) | a required pointer was `NULL` | fix the caller |"
                .to_string(),
        ),
    ]);
    rows.sort();
    rows.into_iter().map(|(_, r)| r).collect()
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_document(relative: &str) {
    let text = read(relative);
    let rows: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("| `VMAILSQL_"))
        .collect();
    let expected = expected_rows();
    assert_eq!(
        rows,
        expected,
        "{relative}: the result-code table differs from ErrorKind; it must read:\n{}",
        expected.join("\n")
    );
}

#[test]
fn readme_table_is_the_error_kinds() {
    check_document("README.md");
}

#[test]
fn c_api_doc_table_is_the_error_kinds() {
    check_document("docs/c-api.md");
}

#[test]
fn header_enum_has_every_kind_with_its_number() {
    let header = read("include/vmailsql.h");
    let body = header
        .split("typedef enum vmailsql_result {")
        .nth(1)
        .and_then(|rest| rest.split("} vmailsql_result;").next())
        .expect("vmailsql_result in the header");
    let values: Vec<(String, i32)> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("VMAILSQL_"))
        .map(|l| {
            let (name, value) = l.trim_end_matches(',').split_once(" = ").expect("NAME = n");
            (name.to_string(), value.parse().expect("a number"))
        })
        .collect();
    for &kind in ErrorKind::ALL {
        assert!(
            values.contains(&(c_name(kind), kind.code())),
            "{} = {} missing from the header",
            c_name(kind),
            kind.code()
        );
    }
    assert_eq!(values.len(), ErrorKind::ALL.len() + 3, "{values:?}");
}
