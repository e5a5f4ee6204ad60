//! The command line, parsed by hand (a handful of options; no parser crate needed).

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: vmailsql-socketmap [--config FILE | --database URL] --listen ADDR [--listen ADDR]...
                          [options]
       vmailsql-socketmap [--config FILE | --database URL] --check-config

Answers Postfix socketmap lookups (maps: domains, aliases, mailboxes, uids, gids) from a
vmailsql database, with the seed's rule: forwarder, then popbox, then the _default_ catch-all.

  --config FILE          vmailsql configuration (default: $VMAILSQL_CONFIG, /etc/vmailsql.conf)
  --database URL         one database URL instead of a configuration file
  --listen ADDR          unix:/path/to/socket or inet:127.0.0.1:PORT (repeatable)
  --mailbox-base DIR     Postfix's virtual_mailbox_base (default /): mailboxes answers the
                         mbox path relative to it
  --max-connections N    open client connections allowed (default 100); more are refused
                         with TEMP and logged
  --database-handles N   database connections shared by the clients (default 4)
  --idle-timeout SECS    close a client connection idle this long (default 600)
  --socket-mode MODE     octal mode of unix sockets (default 0660)
  --socket-group GROUP   group of unix sockets (e.g. postfix)
  --syslog               log to syslog (facility mail) instead of stderr
  --verbose              log every lookup
  --check-config         read the configuration, ask the database once, and exit
  --help, --version
";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Inet(String),
}

#[derive(Debug)]
pub struct Args {
    pub config: Option<PathBuf>,
    pub database: Option<String>,
    pub listen: Vec<Listen>,
    pub mailbox_base: String,
    pub max_connections: usize,
    pub handles: usize,
    pub idle_timeout: Duration,
    pub socket_mode: u32,
    pub socket_group: Option<String>,
    pub syslog: bool,
    pub verbose: bool,
    pub check_config: bool,
}

/// What the command line asks for.
pub enum Parsed {
    Run(Args),
    Help,
    Version,
}

pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut a = Args {
        config: None,
        database: None,
        listen: Vec::new(),
        mailbox_base: "/".into(),
        max_connections: 100,
        handles: 4,
        idle_timeout: Duration::from_secs(600),
        socket_mode: 0o660,
        socket_group: None,
        syslog: false,
        verbose: false,
        check_config: false,
    };
    while let Some(arg) = argv.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--version" => return Ok(Parsed::Version),
            "--config" => a.config = Some(value()?.into()),
            "--database" => a.database = Some(value()?),
            "--listen" => a.listen.push(listen(&value()?)?),
            "--mailbox-base" => a.mailbox_base = absolute(&value()?)?,
            "--max-connections" => a.max_connections = number(&name, &value()?, 1, 100_000)?,
            "--database-handles" => a.handles = number(&name, &value()?, 1, 1000)?,
            "--idle-timeout" => {
                a.idle_timeout = Duration::from_secs(number(&name, &value()?, 1, 86_400)? as u64)
            }
            "--socket-mode" => {
                a.socket_mode = u32::from_str_radix(&value()?, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or("--socket-mode takes an octal mode such as 0660")?
            }
            "--socket-group" => a.socket_group = Some(value()?),
            "--syslog" => a.syslog = true,
            "--verbose" => a.verbose = true,
            "--check-config" => a.check_config = true,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if a.config.is_some() && a.database.is_some() {
        return Err("give --config or --database, not both".into());
    }
    if a.listen.is_empty() && !a.check_config {
        return Err(
            "nothing to listen on: give --listen unix:/path or --listen inet:HOST:PORT".into(),
        );
    }
    Ok(Parsed::Run(a))
}

fn listen(value: &str) -> Result<Listen, String> {
    if let Some(path) = value.strip_prefix("unix:") {
        absolute(path)?;
        return Ok(Listen::Unix(path.into()));
    }
    if let Some(addr) = value.strip_prefix("inet:") {
        if addr
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        {
            return Ok(Listen::Inet(addr.to_string()));
        }
    }
    Err(format!(
        "--listen {value:?}: expected unix:/absolute/path or inet:HOST:PORT"
    ))
}

fn absolute(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err(format!("{path:?} is not an absolute path"))
    }
}

fn number(name: &str, value: &str, min: usize, max: usize) -> Result<usize, String> {
    value
        .parse()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{name} takes a number from {min} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        match parse(list.iter().map(|s| s.to_string()))? {
            Parsed::Run(a) => Ok(a),
            _ => Err("not run".into()),
        }
    }

    #[test]
    fn parses_listeners_and_options() {
        let a = args(&[
            "--database",
            "sqlite::memory:",
            "--listen",
            "unix:/run/x.sock",
            "--listen=inet:127.0.0.1:10025",
            "--max-connections",
            "5",
        ])
        .unwrap();
        assert_eq!(
            a.listen,
            vec![
                Listen::Unix("/run/x.sock".into()),
                Listen::Inet("127.0.0.1:10025".into())
            ]
        );
        assert_eq!(a.max_connections, 5);
    }

    #[test]
    fn refuses_bad_arguments() {
        for bad in [
            &["--listen", "tcp:1"][..],
            &["--listen", "unix:rel"],
            &[],
            &["--max-connections", "0", "--listen", "unix:/x"],
            &["--bogus"],
            &["--config", "/a", "--database", "b", "--check-config"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
