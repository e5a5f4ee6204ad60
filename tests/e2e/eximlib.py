"""Helpers for the Exim end-to-end tests and the Exim benchmark.

A throw-away MariaDB (`MariaDB`), a private Exim configuration run as root with `-C`
(`PrivateExim`), the vmailsql library copied where the Exim user can read it, and the three
Exim configurations under test (dlfunc, updated native MySQL, the seed's original baseline),
assembled from the files in `exim/` exactly as a site would include them.

Nothing here changes the system: every file lives in a temporary directory, and Exim's spool
and log are private to it.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXIM_DIR = REPO / "exim"
EXIM = Path("/usr/sbin/exim4")
EXIM_USER = "Debian-exim"
INSTALL_EXIM = "apt-get install exim4-daemon-heavy"
INSTALL_MARIADB = "apt-get install mariadb-server mariadb-client"


class Missing(Exception):
    """A program the tests need is not installed (a failure, never a skip)."""


def find_program(name: str) -> Path:
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        p = Path(d) / name
        if p.exists():
            return p
    raise Missing(f"{name} not found: {INSTALL_MARIADB}")


def require_exim() -> None:
    """Checks for Debian's exim4-daemon-heavy with dlfunc and MySQL lookups."""
    if not EXIM.exists():
        raise Missing(f"{EXIM} not found: {INSTALL_EXIM}")
    info = subprocess.run([str(EXIM), "-bV"], capture_output=True, text=True).stdout
    for feature in ("Expand_dlfunc", "mysql"):
        if feature not in info:
            raise Missing(f"{EXIM} lacks {feature} (light daemon?): {INSTALL_EXIM}")
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError as e:
        raise Missing(f"user {EXIM_USER} missing: {INSTALL_EXIM}") from e


def exim_ids() -> tuple[int, int]:
    pw = pwd.getpwnam(EXIM_USER)
    return pw.pw_uid, pw.pw_gid


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def build_library() -> Path:
    """`cargo build --release --lib` (a no-op when up to date); returns the cdylib."""
    so = target_dir() / "release" / "libvmailsql.so"
    proc = subprocess.run(
        ["cargo", "build", "--release", "--lib"], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build --release --lib failed:\n{proc.stderr[-4000:]}")
    if not so.exists():
        raise RuntimeError(f"cargo built no {so}")
    return so


def build_example(name: str) -> Path:
    """`cargo build --release --example NAME`; returns the binary."""
    proc = subprocess.run(
        ["cargo", "build", "--release", "--example", name],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build --example {name} failed:\n{proc.stderr[-4000:]}")
    return target_dir() / "release" / "examples" / name


def install_library(so: Path, dest: Path) -> Path:
    """Copies the cdylib to `dest` (made traversable), mode 0644, so the Exim user can load it."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    copy = dest / "libvmailsql.so"
    shutil.copyfile(so, copy)
    copy.chmod(0o644)
    return copy


def sql_str(value: str | None) -> str:
    """A MySQL string literal (or NULL) for fixture data."""
    if value is None:
        return "NULL"
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
    return f"'{escaped}'"


# ---- MariaDB ----


class MariaDB:
    """A private mariadbd on a Unix socket, under `base` (made traversable so the Exim user can
    reach the socket). `start()`/`stop()` may be called repeatedly; data persists."""

    def __init__(self, base: Path, buffer_pool: str = "64M", extra_args: tuple[str, ...] = ()):
        self.base = base
        self.data = base / "data"
        self.socket = base / "mysqld.sock"
        self.buffer_pool = buffer_pool
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.server = find_program("mariadbd")
        self.client = find_program("mariadb")
        self.admin = find_program("mariadb-admin")
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        install = find_program("mariadb-install-db")
        proc = subprocess.run(
            [
                str(install),
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {proc.stderr[-2000:]}")

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        server = [
            str(self.server),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--pid-file={self.base}/mysqld.pid",
            "--skip-networking",
            "--user=root",
            f"--log-error={self.base}/error.log",
            "--skip-log-bin",
            f"--innodb-buffer-pool-size={self.buffer_pool}",
            "--max-connections=500",
            *self.extra_args,
        ]
        # The shell ties the server's life to ours: when our end of its stdin closes (stop(), or
        # this process dying), `read` returns and the server is shut down cleanly.
        script = '"$@" & pid=$!; read _; kill $pid; wait $pid'
        self.proc = subprocess.Popen(
            ["sh", "-c", script, "mariadbd", *server],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            ping = subprocess.run(
                [str(self.admin), "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                capture_output=True,
            )
            if ping.returncode == 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.error_log()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("mariadbd did not start within 60 s")
            time.sleep(0.05)
        self.socket.chmod(0o777)

    def stop(self) -> None:
        """Shuts the server down and waits until it has exited."""
        if not self.proc or self.proc.poll() is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=120)

    def error_log(self) -> str:
        p = self.base / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def sql(self, text: str, db: str | None = None, local_infile: bool = False) -> str:
        """Runs SQL as root through the mariadb client; returns tab-separated output."""
        args = [str(self.client), "--no-defaults", f"--socket={self.socket}", "-uroot",
                "--batch", "--skip-column-names"]
        if local_infile:
            args.append("--local-infile=1")
        if db:
            args.append(db)
        proc = subprocess.run(args, input=text, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"SQL failed: {proc.stderr.strip()}\n--- SQL ---\n{text[:2000]}")
        return proc.stdout

    def status(self, *names: str) -> dict[str, int]:
        """SHOW GLOBAL STATUS values (one query: counts itself once in Questions)."""
        like = " OR ".join(f"Variable_name = '{n}'" for n in names)
        out = self.sql(f"SHOW GLOBAL STATUS WHERE {like}")
        values = {}
        for line in out.splitlines():
            k, v = line.split("\t")
            values[k] = int(v)
        return values

    def general_log(self, path: Path, on: bool) -> None:
        """Turns the server's general query log (every statement, to `path`) on or off."""
        if on:
            self.sql(f"SET GLOBAL general_log_file = {sql_str(str(path))}; "
                     "SET GLOBAL general_log = ON;")
        else:
            self.sql("SET GLOBAL general_log = OFF;")

    def create_database(self, name: str, schema: str, user: str, password: str) -> None:
        """A database with the `legacy` (seed) or `recommended` schema and a read-only user."""
        files = {
            "legacy": [REPO / "sql/legacy/init-db.sql", REPO / "sql/legacy/init-session-db.sql"],
            "recommended": [REPO / "sql/mysql/schema.sql"],
        }[schema]
        ddl = "\n".join(f.read_text() for f in files)
        self.sql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};")
        self.sql(ddl, db=name)
        self.sql(
            f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{password}';\n"
            f"GRANT SELECT ON {name}.* TO '{user}'@'localhost';"
        )

    def url(self, db: str, user: str, password: str) -> str:
        return f"mysql://{user}:{password}@localhost/{db}?socket={self.socket}"

    def exim_server(self, db: str, user: str, password: str) -> str:
        """Exim's `mysql_servers` entry: host(socket)/database/user/password."""
        return f"localhost({self.socket})/{db}/{user}/{password}"


def write_vmailsql_config(path: Path, url: str, read_timeout: int = 5) -> Path:
    """/etc/vmailsql.conf for the Exim user: root:Debian-exim 0640 (it holds a password)."""
    path.write_text(
        "# written by tests/e2e/eximlib.py\n"
        f"database = {url}\nconnect_timeout = 2\nread_timeout = {read_timeout}\n"
    )
    os.chown(path, 0, exim_ids()[1])
    path.chmod(0o640)
    return path


# ---- Exim configurations ----

COMMON_MAIN = """\
# Private test instance: root runs it with -C; nothing outside {work} is touched.
exim_path = /usr/sbin/exim4
primary_hostname = mx.test.example
qualify_domain = mx.test.example
spool_directory = {work}/spool
log_file_path = {work}/log/%slog
keep_environment =
deliver_drop_privilege = {drop}
never_users = root
host_lookup =
rfc1413_hosts =
log_selector = +all -subject -arguments
"""

ACL = """\
begin acl

acl_check_rcpt:
  # Our own clients may send anywhere; everyone else only to local domains.
  accept  hosts = +relay_from_hosts
          domains = ! +local_domains
  require message = relay not permitted
          domains = +local_domains
  # Unknown users in local domains are refused here, during SMTP (550).
  require verify = recipient
  accept
"""

CAPTURE_ROUTER = """\
# Test only: mail for remote domains is written to {work}/capture/remote.mbox, not sent.
remote_capture:
  driver = accept
  domains = ! +local_domains
  transport = remote_capture
  no_more
"""

CAPTURE_TRANSPORT = """\
remote_capture:
  driver = appendfile
  file = {work}/capture/remote.mbox
  user = Debian-exim
  envelope_to_add
  return_path_add
  mode = 0660
"""


def variant_files(variant) -> tuple[Path, Path, Path]:
    """The main, routers and transports fragments of a configuration variant (a name, or the
    three paths themselves)."""
    if not isinstance(variant, str):
        return tuple(variant)
    if variant == "native":
        # The native routers feed the same transport as the dlfunc ones.
        d = EXIM_DIR / "native"
        return d / "main.conf", d / "routers.conf", EXIM_DIR / "vmailsql" / "transports.conf"
    d = {"dlfunc": EXIM_DIR / "vmailsql", "seed": EXIM_DIR / "seed"}[variant]
    return d / "main.conf", d / "routers.conf", d / "transports.conf"


def build_config(work: Path, variant, macros: dict[str, str], drop_privilege: bool = True,
                 mysql_servers: str | None = None) -> str:
    """A complete private configuration that includes the shipped fragments of `variant`."""
    # The shipped fragments are copied next to the configuration, so that the Exim user can
    # read them wherever the repository lives.
    frag = work / "fragments"
    frag.mkdir(parents=True, exist_ok=True)
    copies = []
    for f in variant_files(variant):
        copy = frag / f"{f.parent.name}-{f.name}"
        shutil.copyfile(f, copy)
        copy.chmod(0o644)
        copies.append(copy)
    work.chmod(0o755)
    frag.chmod(0o755)
    main, routers, transports = copies
    lines = [f"{k} = {v}" for k, v in macros.items()]
    text = "\n".join(lines) + "\n"
    text += COMMON_MAIN.format(work=work, drop="true" if drop_privilege else "false")
    if mysql_servers:
        text += f"hide mysql_servers = {mysql_servers}\n"
    text += f".include {main}\n"
    text += "domainlist local_domains = @ : localhost : +vmailsql_domains\n"
    text += "hostlist relay_from_hosts = <; 127.0.0.1 ; ::1\n"
    text += "acl_smtp_rcpt = acl_check_rcpt\n\n"
    text += ACL + "\n"
    text += "begin routers\n\n" + CAPTURE_ROUTER.format(work=work) + f"\n.include {routers}\n\n"
    text += "begin transports\n\n" + CAPTURE_TRANSPORT.format(work=work)
    text += f"\n.include {transports}\n\n"
    text += "begin retry\n\n*   *   F,2h,15m; G,16h,1h,1.5; F,4d,6h\n"
    return text


class PrivateExim:
    """One configuration file plus private spool and log directories under `work`."""

    def __init__(self, work: Path, config_text: str, name: str = "exim.conf"):
        self.work = work
        uid, gid = exim_ids()
        work.mkdir(parents=True, exist_ok=True)
        work.chmod(0o755)
        for sub in ("spool", "log", "capture"):
            d = work / sub
            d.mkdir(exist_ok=True)
            os.chown(d, uid, gid)
            d.chmod(0o750)
        self.config = work / name
        self.config.write_text(config_text)
        os.chown(self.config, 0, 0)
        self.config.chmod(0o644)

    def run(self, *args: str, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(EXIM), "-C", str(self.config), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)

    def check(self) -> None:
        proc = self.run("-bV")
        if proc.returncode != 0:
            raise RuntimeError(f"exim -bV failed for {self.config}:\n{proc.stdout}{proc.stderr}")

    def log(self, which: str = "main") -> str:
        p = self.work / "log" / f"{which}log"
        return p.read_text(errors="replace") if p.exists() else ""

    def queue(self) -> list[str]:
        """Message ids on the queue."""
        out = self.run("-bp").stdout
        return re.findall(r"\b([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})\b", out)

    def route(self, *addresses: str) -> subprocess.CompletedProcess:
        """`exim -bt`: exit 0 routed, 1 deferred, 2 failed (for the worst address)."""
        return self.run("-bt", *addresses)


class SmtpSession:
    """`exim -bs`: an SMTP dialogue over stdin/stdout, one command at a time."""

    def __init__(self, exim: PrivateExim, mode: str = "-odi"):
        self.proc = subprocess.Popen(
            [str(EXIM), "-C", str(exim.config), mode, "-bs"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.transcript: list[str] = []
        self.banner = self.reply()

    def reply(self, timeout: float = 60) -> tuple[int, str]:
        """Reads one (possibly multi-line) reply."""
        assert self.proc.stdout is not None
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            if not select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"no SMTP reply; transcript: {self.transcript}")
            raw = self.proc.stdout.readline()
            if not raw:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise EOFError(f"exim closed the session; transcript: {self.transcript}; {err}")
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.transcript.append("S: " + line)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line: str) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.transcript.append("C: " + line)
        self.proc.stdin.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
        self.proc.stdin.flush()
        return self.reply()

    def data(self, message: str) -> tuple[int, str]:
        code, text = self.cmd("DATA")
        if code != 354:
            return code, text
        assert self.proc.stdin is not None
        body = "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in message.splitlines())
        self.proc.stdin.write(body.encode() + b".\r\n")
        self.proc.stdin.flush()
        self.transcript.append("C: <message>")
        return self.reply(timeout=120)

    def quit(self) -> int:
        try:
            self.cmd("QUIT")
        except (EOFError, BrokenPipeError):
            pass
        if self.proc.stdin:
            self.proc.stdin.close()
        return self.proc.wait(timeout=120)


def message(token: str, sender: str, to: str) -> str:
    return (
        f"From: {sender}\nTo: {to}\nSubject: vmailsql e2e {token}\n"
        f"Message-ID: <{token}@test.example>\n\nBody line for {token}.\n.dot-stuffed line\n"
    )


def send(exim: PrivateExim, sender: str, recipients: list[str], token: str,
         mode: str = "-odi") -> dict:
    """One SMTP transaction; returns the RCPT replies and the DATA reply."""
    s = SmtpSession(exim, mode)
    s.cmd("HELO client.test.example")
    s.cmd(f"MAIL FROM:<{sender}>")
    rcpt = {r: s.cmd(f"RCPT TO:<{r}>") for r in recipients}
    accepted = [r for r, (code, _) in rcpt.items() if code == 250]
    data = s.data(message(token, sender, ", ".join(accepted))) if accepted else None
    s.quit()
    return {"rcpt": rcpt, "data": data, "transcript": s.transcript}


def parse_bt(output: str) -> dict[str, str]:
    """`exim -bt` output → {address: outcome}, outcome `router/transport`, `undeliverable`,
    `deferred` or `redirect` (with the final deliveries listed under each child)."""
    result: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        m = re.match(r"^(\S.*?) is undeliverable: (.*)$", line)
        if m:
            result[m.group(1)] = "undeliverable"
            continue
        m = re.match(r"^(\S.*?) cannot be resolved at this time:", line)
        if m:
            result[m.group(1)] = "deferred"
            continue
        if line and not line[0].isspace():
            current = line.strip()
            continue
        m = re.match(r"^\s+router = (\S+), transport = (\S+)", line)
        if m and current:
            result[current] = f"{m.group(1)}/{m.group(2)}"
    return result


def all_files(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")} if root.exists() else set()
