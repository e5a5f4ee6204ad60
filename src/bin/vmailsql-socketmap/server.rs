//! Listeners and connections: one thread per Postfix connection (each blocks in `read`, so an
//! idle connection costs no CPU), bounded in number, sharing a few library handles (each
//! serialises its calls on its own database connection).

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use vmailsql::Vmail;

use crate::log::{debug, error, info, warning};
use crate::maps::{Maps, Reply};
use crate::netstring::{self, FrameError};

/// A client connection, over either kind of socket.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(how),
            Conn::Tcp(s) => s.shutdown(how),
        };
    }

    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(Some(t)),
            Conn::Tcp(s) => s.set_read_timeout(Some(t)),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A bound socket.
pub enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

impl Listener {
    pub fn name(&self) -> String {
        match self {
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
            Listener::Tcp(l) => l
                .local_addr()
                .map_or("inet:?".into(), |a| format!("inet:{a}")),
        }
    }

    fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Conn::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Conn::Tcp(s)
            }),
        }
    }

    /// Connects to itself, so that a thread blocked in `accept` sees the shutdown flag.
    fn wake(&self) {
        match self {
            Listener::Unix(_, path) => drop(UnixStream::connect(path)),
            Listener::Tcp(l) => {
                if let Ok(mut addr) = l.local_addr() {
                    if addr.ip().is_unspecified() {
                        addr = SocketAddr::new([127, 0, 0, 1].into(), addr.port());
                    }
                    drop(TcpStream::connect_timeout(&addr, Duration::from_secs(1)));
                }
            }
        }
    }

    fn remove_socket_file(&self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub struct Server {
    pub maps: Maps,
    pub handles: Vec<Vmail>,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    stopping: AtomicBool,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Conn>>,
    closed: Condvar,
}

impl Server {
    pub fn new(maps: Maps, handles: Vec<Vmail>, max_connections: usize, idle: Duration) -> Server {
        Server {
            maps,
            handles,
            max_connections,
            idle_timeout: idle,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            closed: Condvar::new(),
        }
    }

    /// Accepts on every listener until [`Server::stop`]; returns when all are closed.
    pub fn run(self: &Arc<Server>, listeners: Vec<Listener>, stop: impl FnOnce()) {
        let listeners: Vec<Arc<Listener>> = listeners.into_iter().map(Arc::new).collect();
        let acceptors: Vec<_> = listeners
            .iter()
            .map(|l| {
                let (server, l) = (Arc::clone(self), Arc::clone(l));
                thread::spawn(move || server.accept_loop(&l))
            })
            .collect();
        stop(); // blocks until a signal asks us to stop
        self.stopping.store(true, Ordering::SeqCst);
        listeners.iter().for_each(|l| l.wake());
        for a in acceptors {
            let _ = a.join();
        }
        self.close_all();
        listeners.iter().for_each(|l| l.remove_socket_file());
    }

    fn accept_loop(self: &Arc<Server>, listener: &Listener) {
        loop {
            let conn = listener.accept();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            match conn {
                Ok(conn) => self.admit(conn),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    error!("accept on {}: {e}", listener.name());
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn admit(self: &Arc<Server>, mut conn: Conn) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if open.len() >= self.max_connections {
                let n = open.len();
                drop(open);
                // The reply waits in the socket: Postfix reads it as the answer to its first
                // request, defers, and retries later on a new connection.
                let why = format!(
                    "TEMP too many connections ({n} open, limit {})",
                    self.max_connections
                );
                let _ = netstring::write(&mut conn, why.as_bytes());
                conn.shutdown(Shutdown::Write);
                // Read the request (briefly) before closing: closing on unread data would reset
                // the connection and could discard the reply.
                if conn.set_read_timeout(Duration::from_millis(100)).is_ok() {
                    let _ = conn.read(&mut [0u8; 4096]);
                }
                warning!(
                    "refused a connection: {n} open, --max-connections {}",
                    self.max_connections
                );
                return;
            }
            match conn.try_clone() {
                Ok(copy) => open.insert(id, copy),
                Err(e) => return warning!("refused a connection: {e}"),
            };
        }
        let server = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn(move || {
                server.serve(id, conn);
                server.forget(id);
            });
        if let Err(e) = spawned {
            warning!("refused a connection: cannot start a thread: {e}");
            self.forget(id);
        }
    }

    fn forget(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&id);
        self.closed.notify_all();
    }

    fn serve(&self, id: u64, conn: Conn) {
        let handle = &self.handles[id as usize % self.handles.len()];
        if let Err(e) = conn.set_read_timeout(self.idle_timeout) {
            return warning!("connection {id}: {e}");
        }
        let Ok(mut output) = conn.try_clone() else {
            return;
        };
        let mut input = BufReader::new(conn);
        debug!("connection {id} opened");
        loop {
            let request = match netstring::read(&mut input) {
                Ok(r) => r,
                Err(FrameError::Closed) => break,
                Err(FrameError::Io(e)) => {
                    debug!("connection {id}: {e}");
                    break;
                }
                Err(FrameError::Malformed(why)) => {
                    // The stream is out of step: answer once, then hang up.
                    warning!("connection {id}: {why}; closing it");
                    let _ = netstring::write(&mut output, format!("PERM {why}").as_bytes());
                    break;
                }
            };
            let (reply, note) = self.maps.answer(handle, &request);
            if let Some(note) = note {
                warning!("{note}");
            }
            if let Reply::Perm(why) = &reply {
                warning!("connection {id}: malformed request: {why}");
            }
            let mut wire = reply.to_wire();
            if wire.len() > netstring::MAX_LEN {
                warning!(
                    "reply longer than {} bytes for {:?}",
                    netstring::MAX_LEN,
                    String::from_utf8_lossy(&request)
                );
                wire = "TEMP reply too long".into();
            }
            debug!(
                "connection {id}: {:?} -> {wire}",
                String::from_utf8_lossy(&request)
            );
            if netstring::write(&mut output, wire.as_bytes()).is_err() {
                break;
            }
        }
        debug!("connection {id} closed");
    }

    /// Ends every open connection (a request being answered still gets its reply) and waits a
    /// little for their threads.
    fn close_all(&self) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.len();
        open.values().for_each(|c| c.shutdown(Shutdown::Read));
        let (open, wait) = self
            .closed
            .wait_timeout_while(open, Duration::from_secs(5), |o| !o.is_empty())
            .unwrap_or_else(|p| p.into_inner());
        if wait.timed_out() {
            warning!("{} connections still busy at shutdown", open.len());
        } else if n > 0 {
            info!("closed {n} connections");
        }
    }
}
