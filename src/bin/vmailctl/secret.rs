//! Passwords and hashes: from a prompt without echo, or from standard input; never from argv,
//! where every user on the machine could read them in the process list.

use std::io::Read;

use crate::cli::PasswordSource;
use crate::exit::{Failure, Outcome};

/// How often to ask: a new password is typed twice, a password to check once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Once,
    Twice,
}

/// Reads one secret for `what` (e.g. "alice@example.org"), from stdin or the terminal.
pub fn read(source: &PasswordSource, what: &str, ask: Ask) -> Outcome<String> {
    read_from(source.password_stdin, what, ask)
}

/// As [`read`], with the stdin choice given directly.
pub fn read_from(stdin: bool, what: &str, ask: Ask) -> Outcome<String> {
    let secret = if stdin {
        from_stdin()?
    } else {
        from_prompt(what, ask)?
    };
    if secret.is_empty() {
        return Err(Failure::usage("empty password"));
    }
    Ok(secret)
}

/// The whole of standard input, less one final line end; more than one line is refused, since it
/// most likely means the wrong file was piped in.
fn from_stdin() -> Outcome<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read the password from stdin: {e}")))?;
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if line.contains('\n') {
        return Err(Failure::usage(
            "standard input holds more than one line; give the password alone",
        ));
    }
    Ok(line.to_string())
}

fn from_prompt(what: &str, ask: Ask) -> Outcome<String> {
    let first = prompt(&format!("Password for {what}: "))?;
    if ask == Ask::Twice && prompt("Again: ")? != first {
        return Err(Failure::usage(
            "the passwords do not match; nothing was changed",
        ));
    }
    Ok(first)
}

fn prompt(text: &str) -> Outcome<String> {
    rpassword::prompt_password(text).map_err(|e| {
        Failure::usage(format!(
            "cannot prompt for a password ({e}); use --password-stdin"
        ))
    })
}
