//! vmailsql-socketmap: Postfix's lookups answered by vmailsql, over the socketmap protocol.
//!
//! Postfix cannot load the library, but it keeps a connection to a lookup server open in each
//! of its processes (`socketmap:unix:/path:NAME`). This server answers the maps
//! `domains`, `aliases`, `mailboxes`, `uids` and `gids` through the library's public API, so
//! Postfix routes exactly as the seed's Exim routers did. See postfix/README.md.

mod args;
mod log;
mod maps;
mod netstring;
mod server;
mod users;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use vmailsql::config::redact_url;
use vmailsql::{Config, ErrorKind, Vmail};

use args::{Args, Listen, Parsed};
use log::{error, info};
use server::{Listener, Server};

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("vmailsql-socketmap {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("vmailsql-socketmap: {why}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(why) = log::init(args.syslog, args.verbose) {
        eprintln!("vmailsql-socketmap: {why}");
        return ExitCode::from(1);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            error!("{why}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let config = match &args.database {
        Some(url) => Config::with_database(url),
        None => Config::load(args.config.as_deref()).map_err(|e| e.to_string())?,
    };
    let mut databases: Vec<String> = config.databases.iter().map(|u| redact_url(u)).collect();
    if !config.replicas.is_empty() {
        let replicas: Vec<String> = config.replicas.iter().map(|u| redact_url(u)).collect();
        databases.push(format!("(lookups on replicas {})", replicas.join(" ")));
    }
    let handles = (0..args.handles)
        .map(|_| Vmail::open(config.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if args.check_config {
        return check(&handles[0], &databases);
    }
    let maps = maps::Maps {
        mailbox_base: args.mailbox_base.clone(),
        users: users::Users::new("/etc/passwd"),
    };
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(|e| format!("signals: {e}"))?;
    let listeners = args
        .listen
        .iter()
        .map(|l| bind(l, &args))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = listeners.iter().map(Listener::name).collect();
    info!(
        "listening on {} (database {}, mailbox base {}, at most {} connections over {} database handles)",
        names.join(", "),
        databases.join(" "),
        args.mailbox_base,
        args.max_connections,
        args.handles
    );
    let server = Arc::new(Server::new(
        maps,
        handles,
        args.max_connections,
        args.idle_timeout,
    ));
    server.run(listeners, || {
        if let Some(signal) = signals.forever().next() {
            info!("signal {signal}: shutting down");
        }
    });
    info!("stopped");
    Ok(())
}

/// `--check-config`: the configuration reads, and the database answers one lookup.
fn check(vmail: &Vmail, databases: &[String]) -> Result<(), String> {
    match vmail.local_domain("vmailsql-socketmap-check.invalid") {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(format!("database {}: {e}", databases.join(" "))),
    }
    println!(
        "vmailsql-socketmap: configuration OK, database {} answers",
        databases.join(" ")
    );
    Ok(())
}

fn bind(listen: &Listen, args: &Args) -> Result<Listener, String> {
    match listen {
        Listen::Inet(addr) => std::net::TcpListener::bind(addr)
            .map(Listener::Tcp)
            .map_err(|e| format!("cannot listen on inet:{addr}: {e}")),
        Listen::Unix(path) => {
            remove_stale_socket(path)?;
            let shown = path.display();
            let l = UnixListener::bind(path)
                .map_err(|e| format!("cannot listen on unix:{shown}: {e}"))?;
            let listener = Listener::Unix(l, path.clone());
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(args.socket_mode))
                .map_err(|e| format!("chmod {shown}: {e}"))?;
            if let Some(group) = &args.socket_group {
                let gid = users::group_id(Path::new("/etc/group"), group)?;
                std::os::unix::fs::chown(path, None, Some(gid))
                    .map_err(|e| format!("chgrp {shown}: {e}"))?;
            }
            Ok(listener)
        }
    }
}

/// A socket file left by a server that died is removed; one that still answers, or a file
/// that is not a socket, is an error.
fn remove_stale_socket(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let shown = path.display();
    if !meta.file_type().is_socket() {
        return Err(format!("{shown} exists and is not a socket"));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(format!("{shown}: another server is listening there"));
    }
    std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {shown}: {e}"))
}
