//! Logging to stderr (systemd's journal picks it up) or to syslog, facility mail, as Postfix
//! itself logs. The syslog socket is written by hand: one datagram per line.

use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;

static SYSLOG: OnceLock<Option<UnixDatagram>> = OnceLock::new();
static VERBOSE: OnceLock<bool> = OnceLock::new();

#[derive(Clone, Copy)]
pub enum Level {
    Error = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

/// Chooses the destination once, at start-up. `Err` when syslog was asked for and `/dev/log`
/// cannot be reached.
pub fn init(syslog: bool, verbose: bool) -> Result<(), String> {
    let socket = if syslog {
        let s = UnixDatagram::unbound().map_err(|e| format!("syslog: {e}"))?;
        s.connect("/dev/log")
            .map_err(|e| format!("syslog: cannot connect to /dev/log: {e}"))?;
        Some(s)
    } else {
        None
    };
    let _ = SYSLOG.set(socket);
    let _ = VERBOSE.set(verbose);
    Ok(())
}

pub fn log(level: Level, message: &str) {
    if matches!(level, Level::Debug) && !VERBOSE.get().copied().unwrap_or(false) {
        return;
    }
    let line: String = message
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if let Some(Some(socket)) = SYSLOG.get() {
        const MAIL: u8 = 2 << 3;
        let packet = format!(
            "<{}>vmailsql-socketmap[{}]: {line}",
            MAIL | level as u8,
            std::process::id()
        );
        if socket.send(packet.as_bytes()).is_ok() {
            return;
        }
    }
    let tag = match level {
        Level::Error => "error: ",
        Level::Warning => "warning: ",
        Level::Info | Level::Debug => "",
    };
    eprintln!("vmailsql-socketmap: {tag}{line}");
}

macro_rules! info { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($a)*)) } }
macro_rules! warning { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Warning, &format!($($a)*)) } }
macro_rules! error { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Error, &format!($($a)*)) } }
macro_rules! debug { ($($a:tt)*) => { $crate::log::log($crate::log::Level::Debug, &format!($($a)*)) } }
pub(crate) use {debug, error, info, warning};
