//! Unix users and groups by name, from `/etc/passwd` and `/etc/group`.
//!
//! Postfix's `virtual(8)` wants numeric ids, while `domain.unix_user` holds a name (or a number,
//! as Exim accepted). Reading the files keeps the server free of `unsafe` libc calls; they are
//! re-read when they change, so a user added later is found without a restart. Users known only
//! to NSS modules (LDAP, sssd) are not seen: give their uid number in `unix_user` instead.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A uid and its primary gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// A cached view of one passwd-format file.
pub struct Users {
    path: PathBuf,
    cache: Mutex<Option<(SystemTime, String)>>,
}

impl Users {
    pub fn new(path: impl Into<PathBuf>) -> Users {
        Users {
            path: path.into(),
            cache: Mutex::new(None),
        }
    }

    /// The ids of `user`: a name from the file, or a uid number (its gid from the file, else
    /// the same number). `Err` says why not, for the log.
    pub fn lookup(&self, user: &str) -> Result<Ids, String> {
        let text = self.text()?;
        let entries = text.lines().filter_map(parse_line);
        if let Ok(uid) = user.parse::<u32>() {
            let gid = entries
                .clone()
                .find(|e| e.1.uid == uid)
                .map_or(uid, |e| e.1.gid);
            return Ok(Ids { uid, gid });
        }
        entries
            .clone()
            .find(|e| e.0 == user)
            .map(|e| e.1)
            .ok_or_else(|| format!("unix user {user:?} is not in {}", self.path.display()))
    }

    fn text(&self) -> Result<String, String> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((when, text)) = cache.as_ref() {
            if *when == modified {
                return Ok(text.clone());
            }
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        *cache = Some((modified, text.clone()));
        Ok(text)
    }
}

fn parse_line(line: &str) -> Option<(&str, Ids)> {
    let mut fields = line.split(':');
    let name = fields.next()?;
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some((name, Ids { uid, gid }))
}

/// The gid of group `name` in a group-format file (for `--socket-group`), or a number.
pub fn group_id(path: &Path, name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .find_map(|line| {
            let mut f = line.split(':');
            (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
        })
        .ok_or_else(|| format!("group {name:?} is not in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0::/root:/bin/sh\nvmail:x:5000:8::/:/bin/false\n",
        )
        .unwrap();
        let users = Users::new(&passwd);
        assert_eq!(users.lookup("vmail"), Ok(Ids { uid: 5000, gid: 8 }));
        assert_eq!(users.lookup("5000"), Ok(Ids { uid: 5000, gid: 8 }));
        assert_eq!(
            users.lookup("7000"),
            Ok(Ids {
                uid: 7000,
                gid: 7000
            })
        );
        assert!(users.lookup("nobody").unwrap_err().contains("nobody"));
        let group = dir.path().join("group");
        std::fs::write(&group, "mail:x:8:\npostfix:x:120:\n").unwrap();
        assert_eq!(group_id(&group, "postfix"), Ok(120));
        assert!(group_id(&group, "none").is_err());
    }
}
