"""Helpers for the Postfix end-to-end tests and the Postfix benchmark.

Debian 12's Postfix is not installed (its package would replace exim4-daemon-heavy): it is
unpacked into a private root by tests/postfix/fetch-postfix.sh (cached), and run from there as
a private instance: its own config_directory, queue_directory, data_directory, log file and
loopback port, chroot off. `vmailsql-socketmap` runs beside it on a private Unix socket.
Nothing on the system is changed except the postfix user and postdrop group that
tests/install-deps.sh creates, as Debian's package would.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import eximlib as E

REPO = E.REPO
POSTFIX_DIR = REPO / "postfix"
FETCH = REPO / "tests" / "postfix" / "fetch-postfix.sh"
DEFAULT_ROOT = Path(os.environ.get("VMAILSQL_POSTFIX_ROOT", "/var/cache/vmailsql-tests/postfix"))
HOW = "run tests/install-deps.sh (it fetches Debian's postfix and postfix-mysql into " \
      f"{DEFAULT_ROOT} with apt-get download, and creates the postfix user and postdrop group)"


class Missing(E.Missing):
    pass


def postfix_root() -> Path:
    """The unpacked Postfix tree (fetched now if the cache is empty)."""
    root = DEFAULT_ROOT / "root"
    if not (root / "usr/sbin/postfix").exists():
        proc = subprocess.run([str(FETCH)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise Missing(f"Debian's Postfix is not in {root} and fetching it failed "
                          f"({proc.stderr.strip()[-500:]}): {HOW}")
    for need in ("usr/sbin/postfix", "usr/lib/postfix/sbin/virtual",
                 "usr/lib/postfix/postfix-mysql.so", "etc/postfix/dynamicmaps.cf"):
        if not (root / need).exists():
            raise Missing(f"{root / need} missing: {HOW}")
    env = dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix"))
    for binary in ("usr/lib/postfix/sbin/smtpd", "usr/lib/postfix/postfix-mysql.so"):
        ldd = subprocess.run(["ldd", str(root / binary)], capture_output=True, text=True, env=env)
        missing = [l.split()[0] for l in ldd.stdout.splitlines() if "not found" in l]
        if missing:
            raise Missing(f"{binary} needs {', '.join(missing)}: {HOW} (it installs "
                          "Postfix's library dependencies)")
    for user in ("postfix",):
        try:
            pwd.getpwnam(user)
        except KeyError as e:
            raise Missing(f"user {user} missing: {HOW}") from e
    try:
        grp.getgrnam("postdrop")
    except KeyError as e:
        raise Missing(f"group postdrop missing: {HOW}") from e
    return root


def build_socketmap() -> Path:
    proc = subprocess.run(["cargo", "build", "--release", "--bin", "vmailsql-socketmap"],
                          cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build --bin vmailsql-socketmap failed:\n{proc.stderr[-4000:]}")
    return E.target_dir() / "release" / "vmailsql-socketmap"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Socketmap:
    """vmailsql-socketmap on a private Unix socket."""

    def __init__(self, binary: Path, work: Path, config: Path, mailbox_base: Path,
                 extra: tuple[str, ...] = ()):
        self.socket = work / "socketmap.sock"
        self.log_path = work / "socketmap.log"
        self.args = [str(binary), "--config", str(config), "--listen", f"unix:{self.socket}",
                     "--mailbox-base", str(mailbox_base), "--socket-group", "postfix",
                     "--socket-mode", "0660", *extra]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vmailsql-socketmap did not start: {self.log()}")
            time.sleep(0.02)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            return self.proc.wait(timeout=20)
        return self.proc.returncode if self.proc else 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


MAIN_CF = """\
# Private test instance, written by tests/e2e/postfixlib.py.
compatibility_level = 3.6
queue_directory = {work}/queue
data_directory = {work}/data
command_directory = {root}/usr/sbin
daemon_directory = {root}/usr/lib/postfix/sbin
shlib_directory = {root}/usr/lib/postfix
meta_directory = {root}/etc/postfix
sendmail_path = {root}/usr/sbin/sendmail
newaliases_path = {root}/usr/bin/newaliases
mailq_path = {root}/usr/bin/mailq
html_directory = no
manpage_directory = {root}/usr/share/man
sample_directory = no
readme_directory = no
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={root}/usr/lib/postfix
maillog_file = {work}/log/maillog
maillog_file_prefixes = {work}/log
myhostname = mx.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Loopback is NOT a trusted network here: the test client must not be able to relay.
mynetworks = 192.0.2.0/24
relay_domains =
relay_domains_reject_code = 550
smtpd_banner = $myhostname ESMTP
biff = no
smtputf8_enable = no
notify_classes =
# Mail for remote domains is captured in {work}/capture/remote.mbox, never sent.
default_transport = capture
# Quick retries, so that the tests need not wait.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_recipient_limit = 1000
default_process_limit = 20
"""

MASTER_CF = """\
# Private test instance: every service unchained from the chroot, smtpd on loopback.
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
capture   unix  -       n       n       -       -       pipe flags=FB> user={capture_user}
    argv=/bin/sh -c {{ cat >> {work}/capture/remote.mbox }}
"""


def shipped_main_cf(socket_path: Path, maps_dir: Path, via_proxy: bool = True) -> str:
    """postfix/main.cf as a site appends it, with the socket where this test's server is and
    the virtual(8) tables in `maps_dir` instead of /etc/postfix/vmailsql."""
    text = (POSTFIX_DIR / "main.cf").read_text()
    prefix = "proxy:socketmap" if via_proxy else "socketmap"
    new, n = re.subn(r"^vmailsql_socketmap = .*$",
                     f"vmailsql_socketmap = {prefix}:unix:{socket_path}", text, flags=re.M)
    assert n == 1, "postfix/main.cf lost its vmailsql_socketmap line"
    return new.replace("/etc/postfix/vmailsql/", f"{maps_dir}/")


def shipped_master_cf() -> str:
    """The service lines of postfix/master.cf (comments dropped)."""
    lines = (POSTFIX_DIR / "master.cf").read_text().splitlines()
    return "\n".join(l for l in lines if l.strip() and not l.startswith("#")) + "\n"


def install_virtual_maps(maps_dir: Path, db: E.MariaDB, dbname: str, user: str,
                         password: str) -> None:
    """postfix/virtual/*.cf with this test's database, and the uid/gid tables written by
    postfix/vmailsql-unix-ids, as the README tells a site to install them."""
    maps_dir.mkdir(parents=True, exist_ok=True)
    maps_dir.chmod(0o755)
    pf = pwd.getpwnam("postfix")
    for name in ("mailbox.cf", "unix-user.cf"):
        text = (POSTFIX_DIR / "virtual" / name).read_text()
        for key, value in (("hosts", f"unix:{db.socket}"), ("user", user),
                           ("password", password), ("dbname", dbname)):
            text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
            assert n == 1, (name, key)
        path = maps_dir / name
        path.write_text(text)
        os.chown(path, 0, pf.pw_gid)
        path.chmod(0o640)
    proc = subprocess.run([str(POSTFIX_DIR / "vmailsql-unix-ids"), str(maps_dir)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vmailsql-unix-ids failed: {proc.stderr}")


class PrivatePostfix:
    """A Postfix instance under `work`: etc/ (main.cf, master.cf), queue/, data/, log/."""

    def __init__(self, root: Path, work: Path, maps_text: str,
                 settings: dict[str, str] | None = None, capture_user: str = E.EXIM_USER):
        self.root, self.work = root, work
        self.port = free_port()
        self.etc = work / "etc"
        for d in ("etc", "queue", "data", "log", "capture"):
            (work / d).mkdir(parents=True, exist_ok=True)
        work.chmod(0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(work / "data", pf.pw_uid, pf.pw_gid)
        cap = pwd.getpwnam(capture_user)
        os.chown(work / "capture", cap.pw_uid, cap.pw_gid)
        main = MAIN_CF.format(work=work, root=root) + "\n" + maps_text
        (self.etc / "main.cf").write_text(main)
        (self.etc / "master.cf").write_text(MASTER_CF.format(
            work=work, port=self.port, capture_user=capture_user) + shipped_master_cf())
        self.env = dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix"))
        # Site-specific values changed as an administrator would: postconf -e.
        if settings:
            self.postconf("-e", *(f"{k}={v}" for k, v in settings.items()))

    def command(self, name: str, *args: str, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.root / "usr/sbin" / name), "-c", str(self.etc), *args],
                              capture_output=True, text=True, env=self.env, input=input,
                              timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}\n{self.log()[-3000:]}")
        return proc

    def postconf(self, *args: str) -> str:
        return self.command("postconf", *args).stdout

    def start(self) -> None:
        self.command("postfix", "check")
        self.command("postfix", "start")
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                    s.noop()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Postfix did not listen on {self.port}: {self.log()}")
                time.sleep(0.1)

    def stop(self) -> None:
        self.command("postfix", "stop", check=False)
        deadline = time.monotonic() + 30
        pid = self.work / "queue" / "pid" / "master.pid"
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def reload(self) -> None:
        self.command("postfix", "reload")

    def flush(self) -> None:
        self.command("postqueue", "-f")

    def log(self) -> str:
        p = self.work / "log" / "maillog"
        return p.read_text(errors="replace") if p.exists() else ""

    def queue(self) -> list[str]:
        """Ids of messages in the queue (any state), from postqueue -j."""
        import json
        out = self.command("postqueue", "-j").stdout
        return [json.loads(l)["queue_id"] for l in out.splitlines() if l.strip()]

    def queue_files(self) -> list[Path]:
        """Every message file Postfix holds, including maildrop (not yet picked up)."""
        files = []
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            d = self.work / "queue" / sub
            if d.exists():
                files += [p for p in d.rglob("*") if p.is_file()]
        return files

    def wait_log(self, pattern: str, since: int = 0, timeout: float = 30) -> str:
        """Waits until the log (after offset `since`) matches `pattern`; returns that part."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()[since:]
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not in the Postfix log:\n{text[-4000:]}")
            time.sleep(0.1)

    def wait_idle(self, timeout: float = 30) -> None:
        """Waits until the active and incoming queues are empty (deferred may hold mail)."""
        deadline = time.monotonic() + timeout
        while True:
            busy = [p for sub in ("incoming", "active", "maildrop")
                    for p in (self.work / "queue" / sub).rglob("*") if p.is_file()]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Postfix queue still busy: {busy}\n{self.log()[-3000:]}")
            time.sleep(0.1)


class Session:
    """One SMTP session by Python's smtplib; replies as (code, text)."""

    def __init__(self, port: int):
        self.smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test.example",
                                 timeout=60)
        self.smtp.ehlo()

    def mail(self, sender: str) -> tuple[int, str]:
        code, text = self.smtp.mail(sender)
        return code, text.decode(errors="replace")

    def rcpt(self, address: str) -> tuple[int, str]:
        code, text = self.smtp.docmd(f"RCPT TO:<{address}>")
        return code, text.decode(errors="replace")

    def data(self, message: str) -> tuple[int, str]:
        code, text = self.smtp.data(message.encode())
        return code, text.decode(errors="replace")

    def quit(self) -> None:
        try:
            self.smtp.quit()
        except smtplib.SMTPServerDisconnected:
            pass


def send(port: int, sender: str, recipients: list[str], token: str) -> dict:
    """One SMTP transaction; returns the RCPT replies and the DATA reply."""
    s = Session(port)
    s.mail(sender)
    rcpt = {r: s.rcpt(r) for r in recipients}
    accepted = [r for r, (code, _) in rcpt.items() if code == 250]
    data = s.data(E.message(token, sender, ", ".join(accepted))) if accepted else None
    s.quit()
    return {"rcpt": rcpt, "data": data}


def postfix_version(root: Path) -> str:
    proc = subprocess.run([str(root / "usr/sbin/postconf"), "-d", "-h", "mail_version"],
                          capture_output=True, text=True,
                          env=dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix")))
    return proc.stdout.strip()


def install_baseline_maps(maps_dir: Path, db: E.MariaDB, dbname: str, user: str,
                          password: str) -> None:
    """postfix/baseline/*.cf (the PostfixAdmin-style maps) with this database, under
    maps_dir/baseline."""
    target = maps_dir / "baseline"
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    pf = pwd.getpwnam("postfix")
    for src in sorted(p for p in (POSTFIX_DIR / "baseline").glob("*.cf") if p.name != "main.cf"):
        text = src.read_text()
        for key, value in (("hosts", f"unix:{db.socket}"), ("user", user),
                           ("password", password), ("dbname", dbname)):
            text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
            assert n == 1, (src, key)
        path = target / src.name
        path.write_text(text)
        os.chown(path, 0, pf.pw_gid)
        path.chmod(0o640)


def baseline_main_cf(maps_dir: Path) -> str:
    text = (POSTFIX_DIR / "baseline" / "main.cf").read_text()
    text = text.replace("/etc/postfix/baseline/", f"{maps_dir}/baseline/")
    return text.replace("/etc/postfix/vmailsql/", f"{maps_dir}/")
