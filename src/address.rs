//! Names and paths: normalising and validating what users type and what the database holds.
//!
//! vmail-sql relied on MySQL's case-insensitive collation; vmailsql normalises instead, so the
//! same lookups behave the same on SQLite. Every value that ends up in a filesystem path is
//! checked here, because Exim treats a library result as untainted.

use crate::error::{Error, Result};

/// The longest local part RFC 5321 allows, in octets.
pub const MAX_LOCAL_PART: usize = 64;
/// The longest domain name RFC 5321 allows, in octets.
pub const MAX_DOMAIN: usize = 253;
/// Column width of every name and path in the schema.
pub const MAX_COLUMN: usize = 255;

/// Lower-cases and checks a domain name (a trailing dot is dropped).
///
/// # Errors
/// `InvalidInput` when it is empty, too long, or not made of valid labels.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let domain = domain.strip_suffix('.').unwrap_or(domain).to_lowercase();
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return Err(Error::invalid(format!(
            "domain name must be 1 to {MAX_DOMAIN} octets"
        )));
    }
    for label in domain.split('.') {
        let ok_chars = label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-') {
            return Err(Error::invalid(format!(
                "invalid domain name {:?}",
                printable(&domain)
            )));
        }
    }
    Ok(domain)
}

/// Lower-cases (ASCII only, as MySQL's collation did for the legacy site) and checks a local part
/// that is about to be looked up. Lookups accept any printable local part that fits the column
/// (up to 255 octets, not RFC 5321's 64): the seed handed longer ones to the catch-all, and so
/// does vmailsql.
///
/// # Errors
/// `InvalidInput` for an empty or over-long local part, or one with control characters.
pub fn normalize_lookup_local_part(local_part: &str) -> Result<String> {
    if local_part.is_empty() || local_part.len() > MAX_COLUMN {
        return Err(Error::invalid(format!(
            "local part must be 1 to {MAX_COLUMN} octets"
        )));
    }
    if local_part.chars().any(char::is_control) {
        return Err(Error::invalid("local part contains control characters"));
    }
    Ok(local_part.to_ascii_lowercase())
}

/// Checks a local part that is about to be stored: an RFC 5321 dot-atom, lower-cased.
///
/// # Errors
/// `InvalidInput` when it is not a dot-atom of legal length.
pub fn normalize_local_part(local_part: &str) -> Result<String> {
    let lp = normalize_lookup_local_part(local_part)?;
    if lp.len() > MAX_LOCAL_PART {
        return Err(Error::invalid(format!(
            "local part must be 1 to {MAX_LOCAL_PART} octets"
        )));
    }
    let atom_ok = |atom: &str| !atom.is_empty() && atom.chars().all(is_atext);
    if !lp.split('.').all(atom_ok) {
        return Err(Error::invalid(format!(
            "invalid local part {:?}: use letters, digits and !#$%&'*+-/=?^_`{{|}}~ with single dots inside",
            printable(local_part)
        )));
    }
    Ok(lp)
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Splits `local@domain` at the last `@` and normalises both halves for a lookup.
///
/// # Errors
/// `InvalidInput` when there is no `@` or either half is invalid.
pub fn split_address(address: &str) -> Result<(String, String)> {
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| Error::invalid(format!("{:?} is not local@domain", printable(address))))?;
    Ok((
        normalize_lookup_local_part(local)?,
        normalize_domain(domain)?,
    ))
}

/// Splits a POP3 login name at the first of `separators`, as tpop3d did (`a%b@c` gives local part
/// `a` and domain `b@c`). `None` when there is no separator: a bare name has no domain.
pub fn split_login<'a>(login: &'a str, separators: &str) -> Option<(&'a str, &'a str)> {
    let at = login.find(|c| separators.contains(c))?;
    let sep_len = login[at..].chars().next().map_or(1, char::len_utf8);
    Some((&login[..at], &login[at + sep_len..]))
}

/// Checks a forwarder's `remote_name`: a comma-separated list of `local@domain` addresses, never
/// a file or a pipe (the seed set `forbid_file` and `forbid_pipe`). Returns the list tidied to
/// `a@b, c@d`.
///
/// # Errors
/// `InvalidInput` naming the first bad entry.
pub fn normalize_remote_list(remote_name: &str) -> Result<String> {
    let targets = parse_remote_list(remote_name);
    if targets.is_empty() {
        return Err(Error::invalid(
            "forwarder needs at least one target address",
        ));
    }
    for target in &targets {
        check_remote_target(target)?;
    }
    let joined = targets.join(", ");
    if joined.len() > MAX_COLUMN {
        return Err(Error::invalid(format!(
            "forwarder targets exceed {MAX_COLUMN} characters"
        )));
    }
    Ok(joined)
}

/// The addresses of a stored `remote_name`, as Exim reads an address list.
pub fn parse_remote_list(remote_name: &str) -> Vec<String> {
    remote_name
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Checks one target of a stored `remote_name` (written by any tool) before it is handed to a
/// mail daemon: never a pipe, a file, an `:include:` or other Exim special item, quoted or not.
/// Plain addresses pass, also unqualified ones and those written in capitals, as the seed's
/// Exim router accepted them.
///
/// # Errors
/// `InvalidInput` naming the target.
pub fn check_stored_target(target: &str) -> Result<()> {
    let bare = target.trim_start_matches(['"', '\\']).trim_start();
    let special = bare.starts_with(['|', '/', '~', ':']);
    if special || target.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "forward target {:?} is a pipe, file or special item, not an address",
            printable(target)
        )));
    }
    Ok(())
}

fn check_remote_target(target: &str) -> Result<()> {
    if target.starts_with(['/', '|', ':']) || target.chars().any(|c| c.is_control() || c == '"') {
        return Err(Error::invalid(format!(
            "forward target {:?} must be a plain address, not a file, pipe or quoted name",
            printable(target)
        )));
    }
    let (local, domain) = target.rsplit_once('@').ok_or_else(|| {
        Error::invalid(format!(
            "forward target {:?} is not local@domain",
            printable(target)
        ))
    })?;
    if local.is_empty() || local.len() > MAX_LOCAL_PART || local.contains(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "forward target {:?} has an invalid local part",
            printable(target)
        )));
    }
    normalize_domain(domain).map(drop)
}

/// Checks a domain's base path: absolute, no `.`/`..` components, no control characters.
///
/// # Errors
/// `InvalidInput` describing the problem.
pub fn check_domain_path(path: &str) -> Result<()> {
    if !path.starts_with('/') {
        return Err(Error::invalid(format!(
            "domain path {:?} must be absolute",
            printable(path)
        )));
    }
    check_path_chars(path, "domain path")?;
    if path.split('/').any(|c| c == "." || c == "..") {
        return Err(Error::invalid(format!(
            "domain path {:?} must not contain . or .. components",
            printable(path)
        )));
    }
    Ok(())
}

/// Checks an `mbox_name`: relative, and it stays inside the domain path (no `.`, `..` or empty
/// components, no control characters).
///
/// # Errors
/// `InvalidInput` describing the problem.
pub fn check_mbox_name(mbox_name: &str) -> Result<()> {
    check_path_chars(mbox_name, "mbox_name")?;
    if mbox_name.is_empty()
        || mbox_name.starts_with('/')
        || mbox_name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(Error::invalid(format!(
            "mbox_name {:?} must be a relative path that stays inside the domain path",
            printable(mbox_name)
        )));
    }
    Ok(())
}

fn check_path_chars(value: &str, what: &str) -> Result<()> {
    if value.len() > MAX_COLUMN {
        return Err(Error::invalid(format!(
            "{what} is longer than {MAX_COLUMN} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

/// The mailbox path exactly as tpop3d and the seed's transport built it:
/// `domain.path + "/" + mbox_name`, after checking both halves.
///
/// # Errors
/// `InvalidInput` when either half is missing or would let the path escape `domain.path`.
pub fn mbox_path(domain_path: Option<&str>, mbox_name: Option<&str>) -> Result<String> {
    let path = domain_path.ok_or_else(|| Error::invalid("domain has no path"))?;
    let mbox = mbox_name.ok_or_else(|| Error::invalid("popbox has no mbox_name"))?;
    check_domain_path(path)?;
    check_mbox_name(mbox)?;
    Ok(format!("{path}/{mbox}"))
}

/// Checks `domain.unix_user`: a user name or a numeric uid, never empty, `root` or uid 0
/// (tpop3d turned an empty value into uid 0).
///
/// # Errors
/// `InvalidInput` describing the problem.
pub fn check_unix_user(unix_user: Option<&str>) -> Result<()> {
    let user = unix_user.unwrap_or("");
    if user.is_empty() {
        return Err(Error::invalid("domain has no unix_user"));
    }
    if user == "root" {
        return Err(Error::invalid("unix_user must not be root"));
    }
    let user = canonical_unix_user(user);
    if user.bytes().all(|b| b.is_ascii_digit()) {
        return match user.parse::<u32>() {
            Ok(0) => Err(Error::invalid("unix_user must not be uid 0")),
            Ok(_) => Ok(()),
            Err(_) => Err(Error::invalid(format!(
                "unix_user {user:?} is out of range"
            ))),
        };
    }
    let first_ok = user.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !first_ok || !rest_ok || user.len() > 32 {
        return Err(Error::invalid(format!(
            "unix_user {:?} is not a valid user name or uid",
            printable(user)
        )));
    }
    Ok(())
}

/// `unix_user` as the daemons should see it: a numeric uid with blanks around it (tpop3d read
/// `' 65534'` as uid 65534) without them; anything else unchanged.
pub fn canonical_unix_user(unix_user: &str) -> &str {
    let trimmed = unix_user.trim_matches([' ', '\t']);
    let numeric = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    if numeric {
        trimmed
    } else {
        unix_user
    }
}

/// For a numeric `unix_user`, whether the system's user database (NSS) has that uid; `None` for
/// a user name (Exim and the POP3 daemon look names up themselves). tpop3d refused logins whose
/// uid had no passwd entry.
///
/// # Errors
/// `Temporary` when the user database cannot be asked (an NSS service that is down).
pub fn uid_has_passwd_entry(unix_user: &str) -> Result<Option<bool>> {
    let user = canonical_unix_user(unix_user);
    let Some(uid) = user
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| user.parse::<u32>().ok())
        .flatten()
    else {
        return Ok(None);
    };
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(found) => Ok(Some(found.is_some())),
        Err(e) => Err(Error::temporary(format!(
            "cannot look up uid {uid} in the user database: {e}"
        ))),
    }
}

/// A value made safe to quote in an error message (control characters escaped, length capped).
pub(crate) fn printable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(80)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_and_checked() {
        assert_eq!(normalize_domain("Example.ORG.").unwrap(), "example.org");
        for bad in ["", "a..b", "-a.org", "a b.org", "a/b.org", &"x".repeat(64)] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_splits_at_first_separator() {
        assert_eq!(split_login("a%b@c", "@%!:"), Some(("a", "b@c")));
        assert_eq!(
            split_login("alice@example.org", "@"),
            Some(("alice", "example.org"))
        );
        assert_eq!(split_login("alice", "@%!:"), None);
    }

    #[test]
    fn addresses_split_at_last_at() {
        let (l, d) = split_address("Fred@Example.COM").unwrap();
        assert_eq!((l.as_str(), d.as_str()), ("fred", "example.com"));
        assert!(split_address("nobody").is_err());
        assert!(split_address("a\u{1}b@example.com").is_err());
        assert!(split_address(&format!("{}@example.com", "a".repeat(65))).is_ok());
        assert!(split_address(&format!("{}@example.com", "a".repeat(256))).is_err());
        assert!(normalize_local_part(&"a".repeat(65)).is_err());
    }

    #[test]
    fn stored_local_parts_are_dot_atoms() {
        assert_eq!(normalize_local_part("Alice.Smith").unwrap(), "alice.smith");
        assert_eq!(normalize_local_part("_default_").unwrap(), "_default_");
        for bad in ["a..b", ".a", "a.", "a b", "a\"b", "a@b", "a\\b"] {
            assert!(normalize_local_part(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mbox_names_cannot_escape() {
        assert!(check_mbox_name("alice").is_ok());
        assert!(check_mbox_name("a/alice").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            ".",
            "a\0b",
            "a\nb",
        ] {
            assert!(check_mbox_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            mbox_path(Some("/var/mail/ex"), Some("alice")).unwrap(),
            "/var/mail/ex/alice"
        );
        assert!(mbox_path(None, Some("alice")).is_err());
        assert!(mbox_path(Some("relative"), Some("alice")).is_err());
        assert!(mbox_path(Some("/var/../etc"), Some("alice")).is_err());
    }

    #[test]
    fn unix_users_never_root() {
        assert!(check_unix_user(Some("vmail")).is_ok());
        assert!(check_unix_user(Some("5000")).is_ok());
        // tpop3d read a numeric uid with blanks around it as that uid
        for blank in [" 65534", "65534 ", "\t65534 "] {
            assert!(check_unix_user(Some(blank)).is_ok(), "{blank:?}");
            assert_eq!(canonical_unix_user(blank), "65534");
        }
        assert_eq!(canonical_unix_user(" vmail"), " vmail");
        assert!(check_unix_user(Some(" 0")).is_err());
        assert!(check_unix_user(Some("6 5534")).is_err());
        assert_eq!(
            uid_has_passwd_entry(" 65534").unwrap(),
            Some(true),
            "nobody"
        );
        assert_eq!(uid_has_passwd_entry("4000000000").unwrap(), Some(false));
        assert_eq!(uid_has_passwd_entry("vmail").unwrap(), None);
        for bad in [
            None,
            Some(""),
            Some("root"),
            Some("0"),
            Some("000"),
            Some("a b"),
            Some("99999999999"),
        ] {
            assert!(check_unix_user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_targets_are_never_pipes_or_files() {
        for ok in [
            "fred@example.org",
            "Fred@Example.ORG",
            "postmaster",
            "a.b+c@d.example",
        ] {
            assert!(check_stored_target(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "|/bin/sh -c id",
            "\"|/bin/sh -c id\"",
            "/etc/passwd",
            "~/mbox",
            ":include:/etc/x",
            ":blackhole:",
            "\"/var/mail/x\"",
            "\\|cmd",
            "a\nb@c",
        ] {
            assert!(check_stored_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn remote_lists_are_addresses_only() {
        assert_eq!(
            normalize_remote_list(" a@b.org ,c@d.org").unwrap(),
            "a@b.org, c@d.org"
        );
        for bad in [
            "",
            "/var/mail/x",
            "|/bin/sh",
            "a@",
            "nodomain",
            "a@b.org, \"x\"@y",
        ] {
            assert!(normalize_remote_list(bad).is_err(), "{bad:?}");
        }
    }
}
