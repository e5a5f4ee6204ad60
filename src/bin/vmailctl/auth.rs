//! `vmailctl auth LOGIN` and `vmailctl hash`: passwords, checked and made.

use serde_json::json;
use vmailsql::config::DEFAULT_PASSWORD_MIN_LENGTH;
use vmailsql::{password, ErrorKind};

use crate::cli::{AuthArgs, HashArgs};
use crate::context::Context;
use crate::exit::{self, Outcome};
use crate::output::Report;
use crate::secret::{self, Ask};

/// Checks a password the way the POP3 server (or the control panel) would. The answer for an
/// unknown user is the same as for a wrong password, word for word.
pub fn run(ctx: &Context, args: AuthArgs) -> Outcome<Report> {
    // A test login must not rewrite the stored hash, whatever upgrade_on_login says.
    let vmail = ctx.vmail_with(|c| c.upgrade_on_login = false)?;
    let password = secret::read(&args.source, &args.login, Ask::Once)?;
    let outcome = if args.domain_admin {
        vmail
            .authenticate_domain(&args.login, &password)
            .map(|()| None)
    } else {
        vmail.authenticate(&args.login, &password).map(Some)
    };
    let login = &args.login;
    match outcome {
        Ok(mailbox) => {
            let mut human = format!("{login}: accepted");
            let mut json = json!({ "login": login, "result": "accepted" });
            if let Some(m) = mailbox {
                human.push_str(&format!(", mailbox {} (user {})", m.path, m.unix_user));
                json["mailbox"] = m.path.into();
                json["unix_user"] = m.unix_user.into();
            }
            Ok(Report::new(human, json))
        }
        Err(e) if e.kind() == ErrorKind::AuthFailed => {
            let json = json!({ "login": login, "result": "rejected" });
            Ok(Report::new(format!("{login}: rejected"), json).with_code(exit::NOT_FOUND))
        }
        Err(e) if e.kind() == ErrorKind::Temporary => {
            let json = json!({ "login": login, "result": "temporarily unavailable",
                               "message": e.to_string() });
            let human = format!("{login}: temporarily unavailable ({e})");
            Ok(Report::new(human, json).with_code(exit::TEMPFAIL))
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints a hash; the scheme is `--scheme`, else the configuration's, else the default, and the
/// password must have the configuration's `password_min_length` (else the default). Needs no
/// database; with `--scheme` not even a readable configuration (then the default minimum holds).
pub fn hash(ctx: &Context, args: HashArgs) -> Outcome<Report> {
    let config = match args.scheme {
        Some(_) => ctx.load().ok().flatten(),
        None => ctx.load()?,
    };
    let scheme = args
        .scheme
        .or(config.as_ref().map(|c| c.password_scheme))
        .unwrap_or_default();
    let min_length = config.map_or(DEFAULT_PASSWORD_MIN_LENGTH, |c| c.password_min_length);
    let pw = secret::read(&args.source, &format!("a new {scheme} hash"), Ask::Twice)?;
    let hash = password::hash_new(scheme, &pw, min_length)?;
    let json = json!({ "scheme": scheme.name(), "hash": hash });
    Ok(Report::new(hash, json))
}
