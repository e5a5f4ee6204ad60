//! The command line: every command, option and help text, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vmailsql::password::Scheme;

/// Shown at the end of `vmailctl --help`, after the exit statuses of `exit.rs`.
const ERRORS_AND_PASSWORDS: &str = "\
Errors are one line on stderr, `vmailctl: <message>`; with --json, also a JSON object
{\"error\": {...}} on stdout. Passwords are never taken from the command line: they are
prompted for (no echo) or read from standard input with --password-stdin.";

/// Administer a vmailsql (vmail-sql) virtual-mail database.
#[derive(Debug, Parser)]
#[command(
    name = "vmailctl",
    version,
    after_help = crate::exit::help_text() + "\n" + ERRORS_AND_PASSWORDS,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Configuration file (default: $VMAILSQL_CONFIG, else /etc/vmailsql.conf)
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,
    /// Database URL, overriding the configuration's `database` (mysql://... or sqlite:...)
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub database: Option<String>,
    /// Machine-readable output: one JSON document on stdout
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vmail tables in a database that has none
    Init(InitArgs),
    /// Move a legacy (prefix-key) MySQL schema to the recommended one
    Migrate(MigrateArgs),
    /// Virtual domains
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Mailboxes (POP3 accounts) of virtual domains
    #[command(subcommand)]
    Popbox(PopboxCommand),
    /// Addresses that redirect to other addresses
    #[command(subcommand)]
    Forwarder(ForwarderCommand),
    /// A domain's catch-all (the `_default_` forwarder)
    #[command(subcommand)]
    Catchall(CatchallCommand),
    /// Second names for a domain
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Show what Exim does with each address, and which rule decides
    #[command(
        after_help = "Exit status: the worst result among the addresses (0 when every \
                            address delivers or forwards, 1 for an unknown address or a domain \
                            that is not local, 75 when the database is unavailable)."
    )]
    Resolve(ResolveArgs),
    /// Check a POP3 login's password: accepted, rejected or temporarily unavailable
    #[command(
        after_help = "Exit status: 0 accepted, 1 rejected, 75 temporarily unavailable. An \
                            unknown user and a wrong password give the same answer."
    )]
    Auth(AuthArgs),
    /// Print a password hash in the chosen scheme
    Hash(HashArgs),
    /// Health report: dead targets, orphans, unsafe paths, weak hashes, collisions, loops
    #[command(
        after_help = "Exit status: 0 when nothing is wrong (warnings allowed unless \
                            --strict), 1 when problems were found."
    )]
    Check(CheckArgs),
    /// Write the whole site as JSON Lines (hashes exactly as stored)
    Export(ExportArgs),
    /// Add a site from JSON Lines: everything is checked first, then all or nothing is written
    Import(ImportArgs),
    /// The audit log: who changed what, when and from where (`log init`, `log prune`)
    Log(crate::log::LogArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Create the seed's legacy schema (MySQL only; prefix keys, as vmail-sql 2002 did)
    #[arg(long)]
    pub legacy: bool,
    /// On a database that already has some vmail tables, create only the missing ones; existing
    /// tables and rows are never changed or dropped
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only report what would be done, and every collision that would refuse the move
    #[arg(long)]
    pub dry_run: bool,
    /// Only convert tables without transactions (MyISAM) to InnoDB, keeping the schema as it
    /// is (for sites that keep the legacy schema)
    #[arg(long)]
    pub innodb: bool,
}

/// Where a new password comes from; without a flag it is prompted for on the terminal.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from standard input (one line) instead of prompting
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a domain
    Add {
        /// The domain name
        name: String,
        /// Base directory of the domain's mailboxes (absolute)
        #[arg(long)]
        path: String,
        /// Unix user (name or uid, never root) that owns the mailboxes
        #[arg(long = "user", visible_alias = "unix-user", value_name = "USER")]
        unix_user: String,
        /// Most popboxes allowed (default: unlimited)
        #[arg(long, value_name = "N")]
        max_popbox: Option<i64>,
        /// Also set the domain administrator's password, prompted for
        #[arg(long, conflicts_with = "password_stdin")]
        ask_password: bool,
        /// Also set the domain administrator's password, read from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show a domain with its counts, aliases and catch-all
    Show {
        /// The domain name
        name: String,
    },
    /// Change a domain's path, Unix user or popbox limit
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Change {
        /// The domain name
        name: String,
        /// New base directory
        #[arg(long, group = "change")]
        path: Option<String>,
        /// New Unix user
        #[arg(
            long = "user",
            visible_alias = "unix-user",
            value_name = "USER",
            group = "change"
        )]
        unix_user: Option<String>,
        /// New popbox limit
        #[arg(long, value_name = "N", group = "change", conflicts_with = "unlimited")]
        max_popbox: Option<i64>,
        /// Remove the popbox limit
        #[arg(long, group = "change")]
        unlimited: bool,
    },
    /// Set the domain administrator's (control panel) password
    Passwd {
        /// The domain name
        name: String,
        #[command(flatten)]
        source: PasswordSource,
    },
    /// Delete a domain with all its popboxes, forwarders and aliases (mbox files stay on disk)
    Delete {
        /// The domain name
        name: String,
        /// Delete even when the domain still has popboxes, forwarders or aliases
        #[arg(long)]
        yes: bool,
    },
    /// List the domains
    List,
}

#[derive(Debug, Subcommand)]
pub enum PopboxCommand {
    /// Add a popbox; the password is prompted for unless given on standard input
    Add {
        /// The popbox's address, local@domain
        address: String,
        /// Mailbox file relative to the domain's path (default: the local part)
        #[arg(long, value_name = "NAME")]
        mbox: Option<String>,
        /// The secret given (prompt or --password-stdin) is a ready-made hash such as
        /// `{crypt}$6$...` or `{md5}...`, stored exactly as given
        #[arg(long)]
        hashed: bool,
        /// Read a ready-made hash from standard input (--hashed --password-stdin)
        #[arg(long, conflicts_with_all = ["hashed", "password_stdin"])]
        hash_stdin: bool,
        #[command(flatten)]
        source: PasswordSource,
    },
    /// Show a popbox: mailbox path, password scheme (never the hash)
    Show {
        /// local@domain
        address: String,
    },
    /// Set a popbox's password
    Passwd {
        /// local@domain
        address: String,
        /// The secret given (prompt or --password-stdin) is a ready-made hash, stored as given
        #[arg(long)]
        hashed: bool,
        #[command(flatten)]
        source: PasswordSource,
    },
    /// Delete a popbox (its mbox file stays on disk)
    Delete {
        /// local@domain
        address: String,
    },
    /// List popboxes, of one domain or of all
    List {
        /// Only this domain
        domain: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ForwarderCommand {
    /// Add a forwarder from ADDRESS to one or more target addresses
    Add {
        /// local@domain to forward
        address: String,
        /// Target addresses (several, or one comma-separated list)
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Show a forwarder
    Show {
        /// local@domain
        address: String,
    },
    /// Replace a forwarder's targets
    Change {
        /// local@domain
        address: String,
        /// New target addresses
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Delete a forwarder
    Delete {
        /// local@domain
        address: String,
    },
    /// List forwarders, of one domain or of all (catch-alls included)
    List {
        /// Only this domain
        domain: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatchallCommand {
    /// Set (add or replace) a domain's catch-all; it never takes mail from existing addresses
    Set {
        /// The domain
        domain: String,
        /// Target addresses
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Show a domain's catch-all
    Show {
        /// The domain
        domain: String,
    },
    /// Remove a domain's catch-all
    Delete {
        /// The domain
        domain: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Make ALIAS a second name of DOMAIN
    Add {
        /// The new name
        alias: String,
        /// The existing domain it stands for
        domain: String,
    },
    /// Remove an alias
    Delete {
        /// The alias
        alias: String,
    },
    /// List aliases, of one domain or of all
    List {
        /// Only the aliases of this domain
        domain: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Addresses to resolve
    #[arg(required = true, value_name = "ADDRESS")]
    pub addresses: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The POP3 login (local@domain, or local%domain and the other configured separators)
    pub login: String,
    /// LOGIN is a domain: check its administrator's (control panel) password instead
    #[arg(long)]
    pub domain_admin: bool,
    #[command(flatten)]
    pub source: PasswordSource,
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Scheme: crypt, SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, ARGON2ID, YESCRYPT, CRYPT_MD5, MD5,
    /// PLAINTEXT (default: the configuration's password_scheme, else crypt)
    #[arg(long, value_parser = parse_scheme)]
    pub scheme: Option<Scheme>,
    #[command(flatten)]
    pub source: PasswordSource,
}

fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::parse(name).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Count warnings (weak hashes, shadowed popboxes, ...) as problems
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output (created with mode 0600: it holds hashes)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON Lines file to read; `-` or nothing reads standard input
    pub file: Option<PathBuf>,
    /// Check everything and report, but write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}
