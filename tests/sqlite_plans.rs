//! SQLite: the resolution query is answered from keys, never by scanning a table.

use vmailsql::{NewDomain, Vmail};

#[test]
fn resolution_uses_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vmail::open_url(&format!("sqlite://{}", dir.path().join("v.db").display())).unwrap();
    v.create_schema().unwrap();
    v.add_domain(&NewDomain::new("example.org", "/m", "vmail"))
        .unwrap();
    v.add_popbox("example.org", "fred", "popbox-pw", None)
        .unwrap();
    v.add_alias("example.net", "example.org").unwrap();
    for address in ["fred@example.org", "fred@example.net", "nobody@example.com"] {
        let plan = v.explain_resolve(address).unwrap();
        let searches = plan.iter().filter(|l| l.starts_with("SEARCH ")).count();
        assert!(searches >= 5, "{plan:#?}");
        for line in &plan {
            assert!(!line.starts_with("SCAN "), "table scan in {plan:#?}");
        }
    }
}
