//! vmailctl: the administrator's command-line tool for a vmailsql (vmail-sql) site.
//!
//! Uses only the library's public API. Every command prints a human-readable answer, or one
//! JSON document with `--json`, and exits with a documented status (see `exit.rs`).

mod alias;
mod auth;
mod check;
mod cli;
mod context;
mod domain;
mod exit;
mod forwarder;
mod jsonl;
mod log;
mod names;
mod output;
mod popbox;
mod progress;
mod resolve;
mod schema;
mod secret;
mod spool;
mod transfer;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use context::Context;
use exit::{Failure, Outcome};
use output::Report;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let json = cli.global.json;
    let context = Context { global: cli.global };
    match dispatch(&context, cli.command) {
        Ok(report) => {
            output::print(&report, json);
            ExitCode::from(report.code)
        }
        Err(failure) => {
            output::print_failure(&failure, json);
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(ctx: &Context, command: Command) -> Outcome<Report> {
    match command {
        Command::Init(args) => schema::init(ctx, args),
        Command::Migrate(args) => schema::migrate(ctx, args),
        Command::Domain(command) => domain::run(ctx, command),
        Command::Popbox(command) => popbox::run(ctx, command),
        Command::Forwarder(command) => forwarder::run(ctx, command),
        Command::Catchall(command) => forwarder::run_catchall(ctx, command),
        Command::Alias(command) => alias::run(ctx, command),
        Command::Resolve(args) => resolve::run(ctx, args),
        Command::Auth(args) => auth::run(ctx, args),
        Command::Hash(args) => auth::hash(ctx, args),
        Command::Check(args) => check::run(ctx, args),
        Command::Export(args) => transfer::export(ctx, args),
        Command::Import(args) => transfer::import(ctx, args),
        Command::Log(args) => log::run(ctx, args),
        Command::Completions(args) => {
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "vmailctl", &mut std::io::stdout());
            Ok(Report::silent())
        }
    }
}

/// Help and version go to stdout with status 0; a usage error is one line on stderr (and a JSON
/// object when `--json` was among the arguments), status 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(exit::USAGE);
    }
    // clap's first paragraph (it may list the missing arguments on further lines), on one line.
    let rendered = e.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = paragraph.join(" ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    let json = std::env::args().any(|a| a == "--json");
    output::print_failure(&Failure::usage(format!("{message} (see --help)")), json);
    ExitCode::from(exit::USAGE)
}
