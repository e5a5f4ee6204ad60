//! The one configuration file every entry point reads (Rust, C, Exim, Perl, `vmailctl`).
//!
//! Format: `key = value` lines. A `#` at the start of a line, or after a blank, starts a comment
//! that runs to the end of the line; a `#` with no blank before it is part of the value (in a
//! URL, write it as `%23`). Default path `/etc/vmailsql.conf`, overridden by the
//! `VMAILSQL_CONFIG` environment variable and by an explicit path.
//!
//! The file decides which database every daemon trusts, so it and its directory must not be
//! writable by anyone but root and the owner. A file that holds a database password must not be
//! readable by "other": Exim needs group read (`root:Debian-exim 0640`), nobody else does. Both
//! are checked before the text is parsed, and no message ever quotes a `database` value with its
//! password.
//!
//! ```text
//! # /etc/vmailsql.conf
//! database = mysql://vmail:secret@localhost/virtualemail?socket=/run/mysqld/mysqld.sock
//! connect_timeout = 5        # seconds
//! read_timeout = 10
//! password_scheme = crypt
//! upgrade_on_login = yes
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::password::Scheme;

/// Where the configuration lives when nobody says otherwise.
pub const DEFAULT_PATH: &str = "/etc/vmailsql.conf";
/// The environment variable that overrides [`DEFAULT_PATH`].
pub const ENV_VAR: &str = "VMAILSQL_CONFIG";

/// The default of `password_min_length`, what the control panel always asked for.
pub const DEFAULT_PASSWORD_MIN_LENGTH: usize = 8;

/// Settings shared by every entry point.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URLs, tried in order until one connects: `mysql://user:pass@host[:port]/db`,
    /// `mysql://user:pass@localhost/db?socket=/path`, `sqlite:///abs/path.db`, `sqlite::memory:`.
    pub databases: Vec<String>,
    /// Read servers (MySQL/MariaDB replicas) for lookups, tried in order before the
    /// `databases` (the primaries, which take every write). Empty: everything goes to
    /// `databases`, as with one server.
    pub replicas: Vec<String>,
    /// A replica that reports more replication lag than this (or whose replication is stopped)
    /// is skipped.
    pub max_replica_lag: Duration,
    /// How long a server found down, lagging or stopped is skipped, and how often a held
    /// replica connection's lag is read again.
    pub replica_recheck: Duration,
    /// How long to wait for a database connection.
    pub connect_timeout: Duration,
    /// How long to wait for one answer before reporting "temporarily unavailable".
    pub read_timeout: Duration,
    /// Scheme for new password hashes.
    pub password_scheme: Scheme,
    /// The shortest new password the library accepts, in characters (stored hashes are never
    /// judged by it).
    pub password_min_length: usize,
    /// Rewrite weak stored hashes with `password_scheme` after a successful login.
    pub upgrade_on_login: bool,
    /// Also upgrade `{plaintext}` popboxes (they then lose APOP).
    pub upgrade_plaintext: bool,
    /// Characters that split a POP3 login into local part and domain (tpop3d: `@%!:`).
    pub login_separators: String,
    /// Let `user@alias-domain` log in (tpop3d never did; off by default).
    pub login_via_alias: bool,
    /// How long a control-panel session lives without use.
    pub session_lifetime: Duration,
    /// How long a handle reuses a domain row (and its catch-all) it has just read; popboxes
    /// and forwarders are always read afresh. `0` turns this off; `None` (not configured): off
    /// for the Rust and C API, 60 seconds in Exim's dlfunc functions, which never keep anything
    /// beyond their Exim process.
    pub domain_cache_max_age: Option<Duration>,
    /// When changes write an audit record (`audit = auto | on | off`).
    pub audit: AuditMode,
    /// The file this was read from, if any.
    pub source: Option<PathBuf>,
}

/// When changes write a record to the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditMode {
    /// Whenever the database has the audit table (the default: a site without one is unchanged).
    #[default]
    Auto,
    /// Always: a change whose record cannot be written fails, and so does a missing table.
    On,
    /// Never.
    Off,
}

impl AuditMode {
    fn parse(value: &str) -> Result<AuditMode> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(AuditMode::Auto),
            "on" | "yes" | "true" | "1" => Ok(AuditMode::On),
            "off" | "no" | "false" | "0" => Ok(AuditMode::Off),
            _ => Err(Error::invalid(format!("{value:?} is not auto, on or off"))),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            databases: Vec::new(),
            replicas: Vec::new(),
            max_replica_lag: Duration::from_secs(30),
            replica_recheck: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            password_scheme: Scheme::default(),
            password_min_length: DEFAULT_PASSWORD_MIN_LENGTH,
            upgrade_on_login: false,
            upgrade_plaintext: false,
            login_separators: "@%!:".to_string(),
            login_via_alias: false,
            session_lifetime: Duration::from_secs(30 * 60),
            domain_cache_max_age: None,
            audit: AuditMode::Auto,
            source: None,
        }
    }
}

impl Config {
    /// A configuration with defaults and a single database URL.
    pub fn with_database(url: &str) -> Config {
        Config {
            databases: vec![url.to_string()],
            ..Config::default()
        }
    }

    /// Reads the file at `explicit`, else `$VMAILSQL_CONFIG`, else `/etc/vmailsql.conf`.
    ///
    /// # Errors
    /// `NotFound` when the file does not exist, `InvalidInput` for a syntax error or a file
    /// holding a password that others can read; each message names the file.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os(ENV_VAR)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from),
        };
        Config::from_file(&path)
    }

    /// Reads one configuration file.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_file(path: &Path) -> Result<Config> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::InvalidInput,
            };
            Error::new(kind, format!("cannot read config file {shown}: {e}"))
        })?;
        // Modes first: a syntax error must not be the way a leaky file gets past the check.
        let mode = mode_of(path, "config file")?;
        check_not_writable(path, "config file", mode)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir_mode = mode_of(dir, "directory")?;
        // A sticky directory (like /tmp) keeps others from replacing a file they do not own.
        if dir_mode & 0o1000 == 0 {
            check_not_writable(dir, "the directory of the config file,", dir_mode)?;
        }
        if mode & 0o007 != 0 && text_holds_secret(&text) {
            return Err(Error::invalid(format!(
                "config file {shown} holds a database password but has mode {:04o}; \
                 make it unreadable by others (chmod o-rwx {shown})",
                mode & 0o7777
            )));
        }
        let mut config = Config::parse(&text, &shown.to_string())?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses configuration text; `origin` names it in error messages.
    ///
    /// # Errors
    /// `InvalidInput` naming the origin and line of the first problem.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut config = Config::default();
        for (number, line) in text.lines().enumerate() {
            let line = strip_comment(line).trim();
            if line.is_empty() {
                continue;
            }
            let fail = |why: String| Error::invalid(format!("{origin} line {}: {why}", number + 1));
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| fail("expected key = value".into()))?;
            let key = key.trim();
            // Never quote a malformed key: it may be a `database` line missing its `=`.
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(fail(
                    "expected key = value (a setting name is letters, digits and _)".into(),
                ));
            }
            config
                .set(key, value.trim())
                .map_err(|e| fail(e.to_string()))?;
        }
        if config.databases.is_empty() {
            return Err(Error::invalid(format!("{origin}: no database = line")));
        }
        Ok(config)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "database" => self.databases = value.split_whitespace().map(str::to_string).collect(),
            "replicas" => self.replicas = value.split_whitespace().map(str::to_string).collect(),
            "max_replica_lag" => self.max_replica_lag = max_age(value)?,
            "replica_recheck" => self.replica_recheck = seconds(value)?,
            "connect_timeout" => self.connect_timeout = seconds(value)?,
            "read_timeout" => self.read_timeout = seconds(value)?,
            "password_scheme" => self.password_scheme = Scheme::parse(value)?,
            "password_min_length" => self.password_min_length = min_length(value)?,
            "upgrade_on_login" => self.upgrade_on_login = boolean(value)?,
            "upgrade_plaintext" => self.upgrade_plaintext = boolean(value)?,
            "login_via_alias" => self.login_via_alias = boolean(value)?,
            "session_lifetime" => self.session_lifetime = seconds(value)?,
            "domain_cache_max_age" => self.domain_cache_max_age = Some(max_age(value)?),
            "login_separators" if !value.is_empty() => self.login_separators = value.to_string(),
            "audit" => self.audit = AuditMode::parse(value)?,
            _ => return Err(Error::invalid(format!("unknown setting {key:?}"))),
        }
        Ok(())
    }
}

/// The line without its comment: `#` at the start or after a blank begins one.
fn strip_comment(line: &str) -> &str {
    let mut previous_blank = true;
    for (i, c) in line.char_indices() {
        if c == '#' && previous_blank {
            return &line[..i];
        }
        previous_blank = c.is_whitespace();
    }
    line
}

/// True when any word of the text, comments included, is a URL carrying a password: decided
/// before parsing, so that a file with a syntax error is judged too.
fn text_holds_secret(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || c == '=')
        .chain(text.split_whitespace())
        .any(|word| redact_url(word) != word)
}

fn mode_of(path: &Path, what: &str) -> Result<u32> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::invalid(format!("cannot stat {what} {}: {e}", path.display())))?;
    Ok(meta.permissions().mode())
}

/// Refuses group- or world-writable files and directories: whoever can write the configuration
/// can point every daemon at a database of their choosing.
fn check_not_writable(path: &Path, what: &str, mode: u32) -> Result<()> {
    if mode & 0o022 == 0 {
        return Ok(());
    }
    let shown = path.display();
    Err(Error::invalid(format!(
        "{what} {shown} has mode {:04o}: others could change which database every daemon \
         trusts; make it writable by its owner only (chmod go-w {shown})",
        mode & 0o7777
    )))
}

fn seconds(value: &str) -> Result<Duration> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(Error::invalid(format!(
            "{:?} is not a number of seconds between 0 and 3600",
            redact_url(value)
        ))),
    }
}

fn min_length(value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if (1..=crate::password::MAX_PASSWORD_LEN).contains(&n) => Ok(n),
        _ => Err(Error::invalid(format!(
            "{:?} is not a length between 1 and {}",
            redact_url(value),
            crate::password::MAX_PASSWORD_LEN
        ))),
    }
}

/// Seconds from 0 (off) to one hour.
fn max_age(value: &str) -> Result<Duration> {
    if value.parse::<f64>().is_ok_and(|s| s == 0.0) {
        return Ok(Duration::ZERO);
    }
    seconds(value)
}

fn boolean(value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(Error::invalid(format!(
            "{:?} is not yes or no",
            redact_url(value)
        ))),
    }
}

/// The URL with every password the MySQL driver would take replaced by `***`, safe for
/// messages and logs: the one in the user-info part (`user:password@`) and the `password=` and
/// `pkcs12_pass=` query parameters (names percent-decoded, as the driver decodes them).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://");
    match before_query.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => out.push_str(&format!("{user}:***@{host}")),
            None => out.push_str(before_query),
        },
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// One `key=value` of a URL query, its value hidden when the key names a password.
fn redact_pair(pair: &str) -> String {
    let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
    let name = percent_decode(key).to_ascii_lowercase();
    if name == "password" || name == "pkcs12_pass" {
        format!("{key}=***")
    } else {
        pair.to_string()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_setting() {
        let c = Config::parse(
            "# comment\ndatabase = sqlite:///a.db mysql://u@h/d\nconnect_timeout = 2\n\
             read_timeout=0.5\npassword_scheme = SHA512-CRYPT\nupgrade_on_login = yes\n\
             login_separators = @\nlogin_via_alias = on\nsession_lifetime = 60\n\
             password_min_length = 12\n",
            "test",
        )
        .unwrap();
        assert_eq!(c.databases, ["sqlite:///a.db", "mysql://u@h/d"]);
        assert_eq!(c.read_timeout, Duration::from_millis(500));
        assert_eq!(c.password_scheme, Scheme::Sha512Crypt);
        assert!(c.upgrade_on_login && c.login_via_alias);
        assert_eq!(c.login_separators, "@");
        assert_eq!(c.password_min_length, 12);
        assert_eq!(Config::default().password_min_length, 8);
        assert!(Config::parse("database = x\npassword_min_length = 0\n", "t").is_err());
    }

    #[test]
    fn errors_name_origin_and_line() {
        let e = Config::parse("database = x\nfrobnicate = 1\n", "/etc/x.conf").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("/etc/x.conf line 2"), "{e}");
        assert!(Config::parse("read_timeout = 5\n", "t").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("mysql://u:pw@h/d"), "mysql://u:***@h/d");
        assert_eq!(redact_url("mysql://u@h/d"), "mysql://u@h/d");
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[test]
    fn refuses_world_readable_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmailsql.conf");
        std::fs::write(&path, "database = mysql://u:hunter2@h/d\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Config::from_file(&path).unwrap_err();
        assert!(e.to_string().contains("0644") && e.to_string().contains("vmailsql.conf"));
        assert!(!e.to_string().contains("hunter2"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(Config::from_file(&path).is_ok());
    }

    #[test]
    fn trailing_comments_are_dropped() {
        let c = Config::parse(
            "database = sqlite:///a.db   # note\nconnect_timeout = 5        # seconds\n\
             login_separators = @#%\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.databases, ["sqlite:///a.db"]);
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(
            c.login_separators, "@#%",
            "a # after no blank is part of the value"
        );
    }

    #[test]
    fn every_driver_password_is_redacted() {
        for (url, shown) in [
            (
                "mysql://u@h:1/d?password=hunter2secret",
                "mysql://u@h:1/d?password=***",
            ),
            (
                "mysql://u@h/d?socket=/s&pass%77ord=hunter2secret",
                "mysql://u@h/d?socket=/s&pass%77ord=***",
            ),
            (
                "mysql://u:hunter2secret@h/d?pkcs12_pass=hunter2secret",
                "mysql://u:***@h/d?pkcs12_pass=***",
            ),
            (
                "mysql://u:hunter2secret@h/d?socket=/run/a@b",
                "mysql://u:***@h/d?socket=/run/a@b",
            ),
        ] {
            assert_eq!(redact_url(url), shown);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.conf");
        std::fs::write(&path, "database = mysql://u@h/d?password=hunter2secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Config::from_file(&path).unwrap_err().to_string();
        assert!(
            e.contains("holds a database password") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_never_quote_database_values() {
        let text = "database mysql://vmail:Secret@host/db?socket=/run/mysqld/mysqld.sock\n";
        let e = Config::parse(text, "t").unwrap_err().to_string();
        assert!(e.contains("t line 1") && !e.contains("Secret"), "{e}");
        let e = Config::parse(
            "database = sqlite:///a\nread_timeout = mysql://u:Secret@h/d\n",
            "t",
        );
        assert!(!e.unwrap_err().to_string().contains("Secret"));
        // The mode check comes first: a readable file is refused for its mode, not its syntax.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.conf");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Config::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("mode 0644") && !e.contains("Secret"), "{e}");
    }

    #[test]
    fn refuses_files_and_directories_others_can_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.conf");
        std::fs::write(&path, "database = sqlite:///var/lib/vmailsql/vmail.db\n").unwrap();
        for mode in [0o666, 0o620, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = Config::from_file(&path).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let text = e.to_string();
            assert!(
                text.contains(&format!("{mode:04o}")) && text.contains("w.conf"),
                "{text}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Config::from_file(&path).is_ok());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Config::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("directory") && e.contains("0777"), "{e}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(
            Config::from_file(&path).is_ok(),
            "a sticky directory is safe"
        );
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}
