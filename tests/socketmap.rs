//! vmailsql-socketmap over its sockets: the maps with the seed's rule, TEMP when the database
//! is down or stored data is unsafe, PERM for malformed requests on a connection that stays
//! usable, the connection bound, and SIGTERM. The server binary runs for real; the client is
//! this test speaking netstrings, byte for byte as Postfix's dict_sockmap does. Postfix itself
//! drives the server in tests/e2e/test_postfix.py.
#![cfg(feature = "socketmap")]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmailsql::{NewDomain, Vmail};

const BIN: &str = env!("CARGO_BIN_EXE_vmailsql-socketmap");

struct Server {
    child: Child,
    socket: PathBuf,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    fn start(dir: &Path, database: &str, extra: &[&str]) -> Server {
        let socket = dir.join(format!("sm-{}.sock", extra.len()));
        let mut child = Command::new(BIN)
            .args(["--database", database, "--mailbox-base", "/srv"])
            .arg("--listen")
            .arg(format!("unix:{}", socket.display()))
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vmailsql-socketmap");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        assert!(first.contains("listening on unix:"), "{first}");
        let stderr = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            first + &rest
        });
        Server {
            child,
            socket,
            stderr: Some(stderr),
        }
    }

    fn connect(&self) -> Client {
        Client(UnixStream::connect(&self.socket).expect("connect"))
    }

    /// Sends SIGTERM; returns the exit status and everything logged.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let ok = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let status = wait(&mut self.child, Duration::from_secs(10)).expect("exit after SIGTERM");
        (status, self.stderr.take().unwrap().join().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

struct Client(UnixStream);

impl Client {
    fn send_raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }

    fn reply(&mut self) -> String {
        let mut len = Vec::new();
        let mut byte = [0u8];
        loop {
            self.0.read_exact(&mut byte).expect("a reply");
            if byte[0] == b':' {
                break;
            }
            len.push(byte[0]);
        }
        let n: usize = String::from_utf8(len).unwrap().parse().unwrap();
        let mut data = vec![0; n + 1];
        self.0.read_exact(&mut data).unwrap();
        assert_eq!(data.pop(), Some(b','));
        String::from_utf8(data).unwrap()
    }

    fn ask(&mut self, map: &str, key: &str) -> String {
        let request = format!("{map} {key}");
        self.send_raw(format!("{}:{request},", request.len()).as_bytes());
        self.reply()
    }
}

/// The Exim end-to-end tests' site, on SQLite, under `dir`.
fn site(dir: &Path) -> String {
    let db = dir.join("vmail.db");
    let url = format!("sqlite://{}", db.display());
    let vmail = Vmail::open_url(&url).unwrap();
    vmail.create_schema().unwrap();
    let domains = [
        (
            "example.org",
            "mail",
            &["alice", "bob", "info", "catchall"][..],
        ),
        ("catch.example", "mail", &["carol"]),
        ("other.example", "8", &["dave"]),
        ("unsafe.example", "mail", &["eve"]),
        ("rootuser.example", "mail", &["mallory"]),
        ("nouser.example", "no-such-user-vmailsql", &["nemo"]),
    ];
    for (domain, user, popboxes) in domains {
        let path = format!("/srv/mail/{domain}");
        vmail
            .add_domain(&NewDomain::new(domain, &path, user))
            .unwrap();
        for p in popboxes {
            vmail.add_popbox(domain, p, "pw-secret-1", None).unwrap();
        }
    }
    vmail
        .add_forwarder("example.org", "info", "alice@example.org")
        .unwrap();
    vmail
        .add_forwarder(
            "example.org",
            "team",
            "alice@example.org, bob@alias.example, friend@remote.example",
        )
        .unwrap();
    vmail
        .add_forwarder("catch.example", "sales", "bob@example.org")
        .unwrap();
    vmail
        .set_catch_all("catch.example", "catchall@example.org")
        .unwrap();
    vmail.add_alias("alias.example", "example.org").unwrap();
    drop(vmail);
    // Data the library refuses to write, as another tool could have stored it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE popbox SET mbox_name = '../outside/escaped' WHERE domain_name = 'unsafe.example';
         UPDATE domain SET unix_user = 'root' WHERE domain_name = 'rootuser.example';",
    )
    .unwrap();
    url
}

#[test]
fn maps_answer_with_the_seeds_rule() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &site(dir.path()), &[]);
    let mut c = server.connect();
    let cases = [
        ("domains", "example.org", "OK example.org"),
        ("domains", "Alias.Example", "OK example.org"),
        ("domains", "remote.example", "NOTFOUND "),
        ("domains", ".example.org", "NOTFOUND "),
        ("domains", "[127.0.0.1]", "NOTFOUND "),
        // a popbox answers itself, so Postfix stops and never asks @domain
        ("aliases", "alice@example.org", "OK alice@example.org"),
        ("aliases", "ALICE@Example.ORG", "OK alice@example.org"),
        ("aliases", "bob@alias.example", "OK bob@example.org"),
        // a forwarder shadows the popbox of the same name
        ("aliases", "info@example.org", "OK alice@example.org"),
        (
            "aliases",
            "team@example.org",
            "OK alice@example.org,bob@alias.example,friend@remote.example",
        ),
        ("aliases", "sales@catch.example", "OK bob@example.org"),
        ("aliases", "carol@catch.example", "OK carol@catch.example"),
        // the catch-all only for local parts that are neither forwarder nor popbox
        ("aliases", "random@catch.example", "OK catchall@example.org"),
        ("aliases", "RaNdOm@CATCH.example", "OK catchall@example.org"),
        (
            "aliases",
            "x'; DROP TABLE popbox; --@catch.example",
            "OK catchall@example.org",
        ),
        ("aliases", "@catch.example", "OK catchall@example.org"),
        (
            "aliases",
            "_default_@catch.example",
            "OK catchall@example.org",
        ),
        ("aliases", "@example.org", "NOTFOUND "),
        ("aliases", "@alias.example", "NOTFOUND "),
        ("aliases", "nobody@example.org", "NOTFOUND "),
        ("aliases", "someone@remote.example", "NOTFOUND "),
        ("aliases", "postmaster", "NOTFOUND "),
        (
            "aliases",
            "x'; DROP TABLE popbox; --@example.org",
            "NOTFOUND ",
        ),
        ("aliases", "a\u{1}b@catch.example", "NOTFOUND "),
        (
            "mailboxes",
            "alice@example.org",
            "OK mail/example.org/alice",
        ),
        (
            "mailboxes",
            "Carol@Catch.Example",
            "OK mail/catch.example/carol",
        ),
        ("mailboxes", "info@example.org", "NOTFOUND "),
        ("mailboxes", "random@catch.example", "NOTFOUND "),
        ("mailboxes", "@example.org", "NOTFOUND "),
        ("uids", "alice@example.org", "OK 8"),
        ("gids", "alice@example.org", "OK 8"),
        ("uids", "dave@other.example", "OK 8"),
        ("uids", "nobody@example.org", "NOTFOUND "),
    ];
    for (map, key, want) in cases {
        assert_eq!(c.ask(map, key), want, "{map} {key}");
    }
    // Unsafe stored data: TEMP (Postfix defers), and the log names the row.
    for (map, key) in [
        ("aliases", "eve@unsafe.example"),
        ("mailboxes", "eve@unsafe.example"),
        ("aliases", "mallory@rootuser.example"),
        ("uids", "nemo@nouser.example"),
    ] {
        assert!(c.ask(map, key).starts_with("TEMP "), "{map} {key}");
    }
    // Malformed requests: PERM, and the same connection keeps answering.
    for bad in ["nosuchmap alice@example.org", "aliases", "aliases ", ""] {
        c.send_raw(format!("{}:{bad},", bad.len()).as_bytes());
        assert!(c.reply().starts_with("PERM "), "{bad:?}");
        assert_eq!(c.ask("domains", "example.org"), "OK example.org");
    }
    c.send_raw(b"9:aliases \xff,");
    assert_eq!(c.reply(), "NOTFOUND ");
    // A broken frame cannot be resynchronised: PERM, then the server hangs up.
    let mut broken = server.connect();
    broken.send_raw(b"x3:abc,");
    assert!(broken.reply().starts_with("PERM "));
    assert_eq!(broken.0.read(&mut [0u8; 8]).unwrap(), 0);
    assert_eq!(c.ask("domains", "example.org"), "OK example.org");
    drop(c);
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("mbox_name") && log.contains("eve"), "{log}");
    assert!(log.contains("rootuser.example"), "{log}");
    assert!(log.contains("no-such-user-vmailsql"), "{log}");
    assert!(log.contains("malformed request"), "{log}");
}

#[test]
fn database_down_is_temp_never_notfound() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "mysql://u:secret@localhost/db?socket={}/no-server.sock",
        dir.path().display()
    );
    let server = Server::start(dir.path(), &url, &[]);
    let mut c = server.connect();
    for (map, key) in [
        ("domains", "example.org"),
        ("aliases", "alice@example.org"),
        ("aliases", "@example.org"),
        ("mailboxes", "alice@example.org"),
        ("uids", "alice@example.org"),
    ] {
        let reply = c.ask(map, key);
        assert!(reply.starts_with("TEMP "), "{map} {key}: {reply}");
        assert!(!reply.contains("secret"));
    }
    let (_, log) = server.terminate();
    assert!(
        !log.contains("secret"),
        "the log shows the database password: {log}"
    );
    assert!(
        log.contains("listening on") && log.contains("u:***@"),
        "{log}"
    );
}

#[test]
fn connections_past_the_bound_are_refused_clearly_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &site(dir.path()), &["--max-connections", "3"]);
    let mut held: Vec<Client> = (0..3).map(|_| server.connect()).collect();
    for c in &mut held {
        assert_eq!(c.ask("domains", "example.org"), "OK example.org");
    }
    let mut extra = server.connect();
    let reply = extra.ask("domains", "example.org");
    assert!(reply.starts_with("TEMP too many connections"), "{reply}");
    assert!(
        matches!(extra.0.read(&mut [0u8; 8]), Ok(0) | Err(_)),
        "refused connection stays open"
    );
    // A slot freed is a slot usable again.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut again = server.connect();
    assert_eq!(again.ask("domains", "example.org"), "OK example.org");
    // SIGTERM with clients connected: they are hung up, the socket file removed, exit 0.
    let socket = server.socket.clone();
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?} {log}");
    assert!(
        log.contains("refused a connection: 3 open, --max-connections 3"),
        "{log}"
    );
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(!socket.exists());
    assert!(
        matches!(again.0.read(&mut [0u8; 8]), Ok(0) | Err(_)),
        "still connected"
    );
}

#[test]
fn command_line_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let url = site(dir.path());
    let ok = Command::new(BIN)
        .args(["--database", &url, "--check-config"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("configuration OK"));
    let down = format!(
        "mysql://u:pw@localhost/db?socket={}/none.sock",
        dir.path().display()
    );
    let bad = Command::new(BIN)
        .args(["--database", &down, "--check-config"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&bad.stderr).contains(":pw@"));
    let usage = Command::new(BIN)
        .args(["--database", &url])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("nothing to listen on"));
    // A file in the socket's place is never removed; a live server's socket neither.
    let file = dir.path().join("taken");
    std::fs::write(&file, "x").unwrap();
    let taken = Command::new(BIN)
        .args(["--database", &url, "--listen"])
        .arg(format!("unix:{}", file.display()))
        .output()
        .unwrap();
    assert_eq!(taken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("not a socket"));
    assert!(file.exists());
    let server = Server::start(dir.path(), &url, &[]);
    let twice = Command::new(BIN)
        .args(["--database", &url, "--listen"])
        .arg(format!("unix:{}", server.socket.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("another server"),
        "{twice:?}"
    );
    assert_eq!(
        server.connect().ask("domains", "example.org"),
        "OK example.org"
    );
}
