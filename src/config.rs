//! The one configuration file every entry point reads (Rust, C, Exim, Perl, `vmailctl`).
//!
//! Format: `key = value` lines, `#` comments. Default path `/etc/vmailsql.conf`, overridden by
//! the `VMAILSQL_CONFIG` environment variable and by an explicit path. A file that holds a
//! database password must not be readable by "other": Exim needs group read (`root:Debian-exim
//! 0640`), nobody else does.
//!
//! ```text
//! # /etc/vmailsql.conf
//! database = mysql://vmail:secret@localhost/virtualemail?socket=/run/mysqld/mysqld.sock
//! connect_timeout = 5
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

/// Settings shared by every entry point.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URLs, tried in order until one connects: `mysql://user:pass@host[:port]/db`,
    /// `mysql://user:pass@localhost/db?socket=/path`, `sqlite:///abs/path.db`, `sqlite::memory:`.
    pub databases: Vec<String>,
    /// How long to wait for a database connection.
    pub connect_timeout: Duration,
    /// How long to wait for one answer before reporting "temporarily unavailable".
    pub read_timeout: Duration,
    /// Scheme for new password hashes.
    pub password_scheme: Scheme,
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
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            password_scheme: Scheme::default(),
            upgrade_on_login: false,
            upgrade_plaintext: false,
            login_separators: "@%!:".to_string(),
            login_via_alias: false,
            session_lifetime: Duration::from_secs(30 * 60),
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
        let mut config = Config::parse(&text, &shown.to_string())?;
        if config.holds_secret() {
            let mode = std::fs::metadata(path)
                .map_err(|e| Error::invalid(format!("cannot stat config file {shown}: {e}")))?
                .permissions()
                .mode();
            if mode & 0o007 != 0 {
                return Err(Error::invalid(format!(
                    "config file {shown} holds a database password but has mode {:04o}; \
                     make it unreadable by others (chmod o-rwx {shown})",
                    mode & 0o7777
                )));
            }
        }
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
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: String| Error::invalid(format!("{origin} line {}: {why}", number + 1));
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| fail("expected key = value".into()))?;
            config
                .set(key.trim(), value.trim())
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
            "connect_timeout" => self.connect_timeout = seconds(value)?,
            "read_timeout" => self.read_timeout = seconds(value)?,
            "password_scheme" => self.password_scheme = Scheme::parse(value)?,
            "upgrade_on_login" => self.upgrade_on_login = boolean(value)?,
            "upgrade_plaintext" => self.upgrade_plaintext = boolean(value)?,
            "login_via_alias" => self.login_via_alias = boolean(value)?,
            "session_lifetime" => self.session_lifetime = seconds(value)?,
            "login_separators" if !value.is_empty() => self.login_separators = value.to_string(),
            "audit" => self.audit = AuditMode::parse(value)?,
            _ => return Err(Error::invalid(format!("unknown setting {key:?}"))),
        }
        Ok(())
    }

    /// True when a database URL carries a password.
    fn holds_secret(&self) -> bool {
        self.databases.iter().any(|url| redact_url(url) != *url)
    }
}

fn seconds(value: &str) -> Result<Duration> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(Error::invalid(format!(
            "{value:?} is not a number of seconds between 0 and 3600"
        ))),
    }
}

fn boolean(value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(Error::invalid(format!("{value:?} is not yes or no"))),
    }
}

/// The URL with any password replaced by `***`, safe for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_setting() {
        let c = Config::parse(
            "# comment\ndatabase = sqlite:///a.db mysql://u@h/d\nconnect_timeout = 2\n\
             read_timeout=0.5\npassword_scheme = SHA512-CRYPT\nupgrade_on_login = yes\n\
             login_separators = @\nlogin_via_alias = on\nsession_lifetime = 60\n",
            "test",
        )
        .unwrap();
        assert_eq!(c.databases, ["sqlite:///a.db", "mysql://u@h/d"]);
        assert_eq!(c.read_timeout, Duration::from_millis(500));
        assert_eq!(c.password_scheme, Scheme::Sha512Crypt);
        assert!(c.upgrade_on_login && c.login_via_alias);
        assert_eq!(c.login_separators, "@");
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
}
