//! The length policy for new passwords (`password_min_length`). Stored hashes are never judged
//! by it: a legacy site's short passwords keep working until their owners change them.

use crate::error::{Error, Result};

/// Refuses a new password shorter than `min` characters (Unicode scalar values, as people count
/// them and as the control panel always counted).
///
/// # Errors
/// `InvalidInput` saying how long it must be.
pub(crate) fn check_length(password: &str, min: usize) -> Result<()> {
    if password.is_empty() {
        return Err(Error::invalid("empty password"));
    }
    if password.chars().count() < min {
        return Err(Error::invalid(format!(
            "a new password must have at least {min} characters (password_min_length)"
        )));
    }
    Ok(())
}
