//! The main job on the embedded default: build a small vmail site in SQLite, then resolve and
//! authenticate against it exactly as Exim and a POP3 server would.
//!
//! ```text
//! cargo run --example demo [-- /path/to/demo.db]
//! ```

use vmailsql::{NewDomain, Resolution, Vmail};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "vmailsql-demo.db".to_string());
    let _ = std::fs::remove_file(&path);
    let vmail = Vmail::open_url(&format!("sqlite:{path}"))?;
    vmail.create_schema()?;

    let mut domain = NewDomain::new("example.org", "/var/spool/mail/example.org", "vmail");
    domain.password = Some("domain-admin-pw".into());
    domain.max_popbox = Some(50);
    vmail.add_domain(&domain)?;
    vmail.add_alias("example.net", "example.org")?;
    vmail.add_popbox("example.org", "alice", "alice-pw", None)?;
    vmail.add_popbox("example.org", "bob", "bob-password", Some("staff/bob"))?;
    vmail.add_forwarder("example.org", "sales", "alice@example.org, bob@example.org")?;
    vmail.add_forwarder("example.org", "carol", "carol@elsewhere.example")?;
    vmail.set_catch_all("example.org", "alice@example.org")?;
    println!("demo database: {path}\n");

    println!("resolve (what Exim does with each address):");
    for address in [
        "alice@example.org",
        "Bob@Example.NET",
        "sales@example.org",
        "carol@example.net",
        "nobody@example.org",
        "alice@not-ours.example",
    ] {
        let outcome = match vmail.resolve(address) {
            Ok(Resolution::Mailbox(m)) => format!("deliver to {} as {}", m.path, m.unix_user),
            Ok(Resolution::Forward { targets, rule, .. }) => {
                format!("{} -> {}", rule.as_str(), targets.join(", "))
            }
            Err(e) => format!("{} ({})", e.kind(), e),
        };
        println!("  {address:<24} {outcome}");
    }

    println!("\nauthenticate (what the POP3 server does):");
    for (login, password) in [
        ("alice@example.org", "alice-pw"),
        ("alice%example.org", "alice-pw"),
        ("alice@example.org", "wrong"),
        ("nobody@example.org", "alice-pw"),
    ] {
        let outcome = match vmail.authenticate(login, password) {
            Ok(m) => format!("accepted, mailbox {}", m.path),
            Err(e) => e.kind().to_string(),
        };
        println!("  {login:<20} {outcome}");
    }
    let admin = vmail.authenticate_domain("example.org", "domain-admin-pw");
    println!(
        "  domain admin example.org: {}",
        if admin.is_ok() {
            "accepted"
        } else {
            "rejected"
        }
    );
    Ok(())
}
