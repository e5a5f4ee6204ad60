//! Where the database is: the configuration file, overridden by `--database`.

use std::path::Path;

use vmailsql::{config, Config, ErrorKind, Vmail};

use crate::cli::Global;
use crate::exit::{Failure, Outcome};

/// The global options, and the handle built from them on first need.
pub struct Context {
    pub global: Global,
}

impl Context {
    /// The configuration: `--config`, else `$VMAILSQL_CONFIG`, else /etc/vmailsql.conf. With
    /// `--database` a missing default file is fine: the URL is all that is needed.
    pub fn config(&self) -> Outcome<Config> {
        let mut config = match self.load()? {
            Some(config) => config,
            None if self.global.database.is_some() => Config::default(),
            None => {
                return Err(Failure::of_kind(
                    ErrorKind::NotFound,
                    format!(
                    "no configuration: {} does not exist (give --config PATH or --database URL)",
                    config::DEFAULT_PATH
                ),
                ))
            }
        };
        if let Some(url) = &self.global.database {
            // One database named on the command line: the configured replicas are not its.
            config.databases = vec![url.clone()];
            config.replicas.clear();
        }
        Ok(config)
    }

    /// The configuration if there is one; `None` only when nothing names a file and the
    /// default file does not exist.
    pub fn load(&self) -> Outcome<Option<Config>> {
        let named = self.global.config.is_some()
            || std::env::var_os(config::ENV_VAR).is_some_and(|v| !v.is_empty());
        if !named && !Path::new(config::DEFAULT_PATH).exists() {
            return Ok(None);
        }
        Ok(Some(Config::load(self.global.config.as_deref())?))
    }

    /// A handle on the configured database, which must hold the vmail tables.
    pub fn vmail(&self) -> Outcome<Vmail> {
        self.vmail_with(|_| {})
    }

    /// As [`Context::vmail`], with the settings first adjusted (e.g. no hash upgrades for a
    /// test login).
    pub fn vmail_with(&self, adjust: impl FnOnce(&mut Config)) -> Outcome<Vmail> {
        let mut config = self.config()?;
        adjust(&mut config);
        let vmail = Self::open(config)?;
        // Without this, a fresh database answers "no such table", which reads like a bug.
        if vmail.tables()?.is_empty() {
            return Err(Failure::of_kind(
                ErrorKind::NotFound,
                "the database has no vmail tables: run `vmailctl init` first",
            ));
        }
        Ok(vmail)
    }

    /// A handle on a database that may be empty (for `init` and `migrate`).
    pub fn any_vmail(&self) -> Outcome<Vmail> {
        Self::open(self.config()?)
    }

    /// Administration reads from the primary: what was just written, never a lagging replica.
    fn open(config: Config) -> Outcome<Vmail> {
        let vmail = Vmail::open(config)?;
        vmail.read_from_primary();
        Ok(vmail)
    }
}
