"""Helpers for the Dovecot end-to-end tests (tests/e2e/test_dovecot.py).

A throw-away MariaDB, libvmailsql driven through its C ABI with ctypes (as any C or XS caller
would), the example checkpassword program built against it, and a private Dovecot 2.3 started
as `dovecot -F -c <own config>` with its own base_dir, state_dir and log, listening on
127.0.0.1 high ports. Nothing here changes the system except creating the unprivileged
mailbox owner `vmailtest` when it does not exist.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL_DOVECOT = "apt-get install dovecot-core dovecot-pop3d dovecot-imapd"
INSTALL_MARIADB = "apt-get install mariadb-server mariadb-client"
INSTALL_GCC = "apt-get install gcc"
DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_LIBEXEC = Path("/usr/lib/dovecot")
MAIL_USER = "vmailtest"


class Missing(AssertionError):
    """A program the tests need is not installed: a test failure, never a skip."""


def find_program(name: str, install: str) -> str:
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        p = Path(d) / name
        if p.exists():
            return str(p)
    raise Missing(f"{name} not found: {install}")


def require_dovecot() -> None:
    if not DOVECOT.exists():
        raise Missing(f"{DOVECOT} not found: {INSTALL_DOVECOT}")
    for program, package in (
        ("checkpassword-reply", "dovecot-core"),
        ("pop3", "dovecot-pop3d"),
        ("pop3-login", "dovecot-pop3d"),
        ("imap", "dovecot-imapd"),
        ("imap-login", "dovecot-imapd"),
    ):
        if not (DOVECOT_LIBEXEC / program).exists():
            raise Missing(
                f"{DOVECOT_LIBEXEC / program} not found (package {package}): {INSTALL_DOVECOT}"
            )
    version = subprocess.run([str(DOVECOT), "--version"], capture_output=True, text=True).stdout
    if not version.startswith("2.3"):
        raise Missing(
            f"Dovecot {version.strip()} found, but checkpassword needs Dovecot 2.3 "
            f"(Debian 12): {INSTALL_DOVECOT}"
        )
    for user in ("dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError as e:
            raise Missing(f"user {user} missing: {INSTALL_DOVECOT}") from e


def mail_user() -> tuple[int, int]:
    """The mailbox owner (created as a system user when missing); returns (uid, gid)."""
    try:
        pw = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_USER],
            check=True,
        )
        pw = pwd.getpwnam(MAIL_USER)
    assert pw.pw_uid != 0, f"{MAIL_USER} must not be root"
    return pw.pw_uid, pw.pw_gid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def build_library(dest: Path) -> Path:
    """Builds the release cdylib and copies it, with its SONAME link, into `dest` (a directory
    the dovecot user can read). Returns the copy."""
    proc = subprocess.run(
        ["cargo", "build", "--release", "--lib"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"cargo build --release --lib failed:\n{proc.stderr[-4000:]}"
    so = target_dir() / "release" / "libvmailsql.so"
    assert so.exists(), f"cargo built no {so}"
    dest.mkdir(parents=True, exist_ok=True)
    copy = dest / "libvmailsql.so"
    shutil.copy2(so, copy)
    os.chmod(copy, 0o755)
    (dest / "libvmailsql.so.0").symlink_to("libvmailsql.so")
    return copy


def build_checkpassword(libdir: Path, out: Path) -> Path:
    gcc = find_program("gcc", INSTALL_GCC)
    cmd = [
        gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
        f"-I{REPO / 'include'}", "-o", str(out), str(REPO / "examples" / "checkpassword.c"),
        f"-L{libdir}", "-lvmailsql", f"-Wl,-rpath,{libdir}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    os.chmod(out, 0o755)
    return out


class MariaDB:
    """A throw-away mariadbd on a Unix socket, no TCP, --no-defaults."""

    def __init__(self, base: Path):
        self.base = base
        self.data = base / "data"
        self.socket = base / "sock"
        self.proc: subprocess.Popen | None = None
        self.server = find_program("mariadbd", INSTALL_MARIADB)
        self.client = find_program("mariadb", INSTALL_MARIADB)
        install = find_program("mariadb-install-db", INSTALL_MARIADB)
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o755)  # the socket must be reachable by the dovecot user
        proc = subprocess.run(
            [install, "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, f"mariadb-install-db failed: {proc.stderr[-2000:]}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.server, "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
             f"--pid-file={self.base / 'pid'}", "--skip-networking", "--user=root",
             f"--log-error={self.base / 'err'}", "--skip-log-bin",
             "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mariadbd exited: {(self.base / 'err').read_text()[-2000:]}")
            if self.socket.exists() and self.sql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError("mariadbd did not answer within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.proc = None

    def sql(self, text: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [self.client, "--no-defaults", "-S", str(self.socket), "-uroot", "-N", "-B", "-e",
             text],
            capture_output=True, text=True,
        )
        if check:
            assert proc.returncode == 0, f"{text}: {proc.stderr}"
        return proc

    def url(self, db: str) -> str:
        return f"mysql://root@localhost/{db}?socket={self.socket}"


class _Popbox(ctypes.Structure):
    _fields_ = [
        ("domain", ctypes.c_char_p),
        ("local_part", ctypes.c_char_p),
        ("password_hash", ctypes.c_char_p),
        ("mbox_name", ctypes.c_char_p),
    ]


class Vmailsql:
    """The administration calls the tests need, through the C ABI (ctypes)."""

    OK = 0

    def __init__(self, so: Path, url: str):
        self.lib = ctypes.CDLL(str(so))
        lib = self.lib
        lib.vmailsql_last_error.restype = ctypes.c_char_p
        lib.vmailsql_open_url.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.vmailsql_free.argtypes = [ctypes.c_void_p]
        lib.vmailsql_get_popbox.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
            ctypes.POINTER(ctypes.POINTER(_Popbox)),
        ]
        lib.vmailsql_popbox_free.argtypes = [ctypes.POINTER(_Popbox)]
        lib.vmailsql_add_domain.argtypes = [ctypes.c_void_p] + [ctypes.c_char_p] * 4 + [
            ctypes.c_int64
        ]
        for name in ("vmailsql_add_popbox", "vmailsql_add_popbox_record"):
            getattr(lib, name).argtypes = [ctypes.c_void_p] + [ctypes.c_char_p] * 4
        lib.vmailsql_create_schema.argtypes = [ctypes.c_void_p]
        self.handle = ctypes.c_void_p()
        self._check(lib.vmailsql_open_url(url.encode(), ctypes.byref(self.handle)))

    def _check(self, code: int) -> None:
        assert code == self.OK, f"libvmailsql code {code}: {self.lib.vmailsql_last_error()!r}"

    @staticmethod
    def _b(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    def create_schema(self) -> None:
        self._check(self.lib.vmailsql_create_schema(self.handle))

    def add_domain(self, name: str, path: str, unix_user: str) -> None:
        self._check(
            self.lib.vmailsql_add_domain(
                self.handle, name.encode(), path.encode(), unix_user.encode(), None, -1
            )
        )

    def add_popbox(self, domain: str, local: str, password: str, mbox: str | None = None):
        self._check(
            self.lib.vmailsql_add_popbox(
                self.handle, domain.encode(), local.encode(), password.encode(), self._b(mbox)
            )
        )

    def add_popbox_record(self, domain: str, local: str, stored: str, mbox: str | None = None):
        self._check(
            self.lib.vmailsql_add_popbox_record(
                self.handle, domain.encode(), local.encode(), stored.encode(), self._b(mbox)
            )
        )

    def stored_hash(self, domain: str, local: str) -> str:
        out = ctypes.POINTER(_Popbox)()
        self._check(
            self.lib.vmailsql_get_popbox(self.handle, domain.encode(), local.encode(),
                                         ctypes.byref(out))
        )
        try:
            return out.contents.password_hash.decode()
        finally:
            self.lib.vmailsql_popbox_free(out)

    def close(self) -> None:
        self.lib.vmailsql_free(self.handle)
        self.handle = ctypes.c_void_p()


def write_mbox(path: Path, messages: list[tuple[str, str, str]], uid: int, gid: int) -> None:
    """An mbox with (message_id, subject, body) messages, owned by the mailbox user."""
    text = ""
    for message_id, subject, body in messages:
        text += (
            "From sender@elsewhere.example Mon Jan  1 00:00:00 2024\n"
            "Return-Path: <sender@elsewhere.example>\n"
            "From: Sender <sender@elsewhere.example>\n"
            f"To: {path.name}\n"
            f"Subject: {subject}\n"
            f"Message-ID: {message_id}\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
            "\n"
            f"{body}\n\n"
        )
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)


DOVECOT_CONF = """\
# Private Dovecot for vmailsql's end-to-end tests; nothing of /etc/dovecot is read.
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = pop3 imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login apop
auth_failure_delay = 0
auth_verbose = yes
auth_cache_size = 0
first_valid_uid = {first_uid}
mbox_write_locks = fcntl
mail_location = mbox:/nonexistent
import_environment = TZ VMAILSQL_CONFIG={config}
default_internal_user = dovecot
default_login_user = dovenull

passdb {{
  driver = checkpassword
  args = {checkpassword}
}}
userdb {{
  driver = prefetch
}}

service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, base: Path, checkpassword: Path, config: Path, first_uid: int):
        self.base = base
        self.pop3_port = free_port()
        self.imap_port = free_port()
        self.conf = base / "dovecot.conf"
        self.log = base / "dovecot.log"
        base.mkdir(parents=True, exist_ok=True)
        for sub in ("state",):
            (base / sub).mkdir(exist_ok=True)
        self.conf.write_text(
            DOVECOT_CONF.format(
                base=base, config=config, checkpassword=checkpassword,
                first_uid=min(first_uid, 500), pop3_port=self.pop3_port,
                imap_port=self.imap_port,
            )
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        run = self.base / "run"
        if run.exists():
            shutil.rmtree(run)  # a stale socket would delay the first login
        self.proc = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"dovecot exited: {self.proc.stderr.read().decode()}\n{self.log_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.pop3_port), timeout=2) as s:
                    if s.recv(512).startswith(b"+OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"dovecot gave no +OK banner within 20 s\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
