"""The two real Dovecots of the Lua tests (tests/e2e/test_dovecot_lua.py) and the benchmark.

- Dovecot 2.3 of this Debian 12 machine (dovecot-auth-lua), with libvmailsql, the Lua module
  and dovecot/vmailsql.lua from a staged `make install DESTDIR=...`; Dovecot finds them
  through LUA_CPATH_5_4 and LD_LIBRARY_PATH given in its import_environment.
- Dovecot 2.4 of Debian 13, in a trixie root built and cached by tests/dovecot/trixie-root.sh
  (which also builds the library inside it and runs `make install` there), started with
  `chroot ROOT dovecot -F -c CONF`. Everything the chrooted Dovecot reads (configuration,
  mailboxes, the MariaDB socket) lives in a private directory under ROOT/tmp, so each path
  has a host form and a form inside the root.

Both listen on 127.0.0.1 high ports, with private base_dir, state_dir and log.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dovecotlib as dl

TRIXIE_ROOT = Path(os.environ.get("VMAILSQL_TRIXIE_ROOT", "/var/cache/vmailsql-tests/trixie"))
INSTALL_LUA = "apt-get install dovecot-auth-lua liblua5.4-dev"
INSTALL_DEBOOTSTRAP = "apt-get install debootstrap"

# What both versions share: loopback listeners, no delays, no TLS, the anvil penalty off.
COMMON = """\
protocols = pop3 imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = no
auth_failure_delay = 0
auth_verbose = yes
first_valid_uid = {first_uid}
default_internal_user = dovecot
default_login_user = dovenull

service pop3-login {{
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
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

CONF_23 = """\
# Private Dovecot 2.3 for vmailsql's tests; nothing of /etc/dovecot is read.
{common}
disable_plaintext_auth = no
auth_cache_size = {cache_size}
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 0
mail_location = mbox:/nonexistent

# dovecot/2.3/auth-vmailsql.conf.ext, with the staged script and the test's configuration:
{fragment}
# The staged module and library (make install DESTDIR=...), after the fragment's own
import_environment = $import_environment LUA_CPATH_5_4={cpath} LD_LIBRARY_PATH={libdir}
"""

CONF_24 = """\
# Private Dovecot 2.4 for vmailsql's tests; nothing of /etc/dovecot is read.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{common}
instance_name = vmailsql-test-{port_tag}
auth_allow_cleartext = yes
auth_internal_failure_delay = 0
auth_cache_size = {cache_size}
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 0
mail_driver = mbox
mail_path = /nonexistent

# dovecot/2.4/auth-vmailsql.conf.ext, with the test's configuration:
{fragment}
"""


def fragment(version: str, script: str, config: str) -> str:
    """The configuration fragment of dovecot/<version>/ as a site would include it, with the
    script's and the configuration's paths replaced by the test's."""
    text = (dl.REPO / "dovecot" / version / "auth-vmailsql.conf.ext").read_text()
    for default, ours in (("/usr/local/share/vmailsql/dovecot/vmailsql.lua", script),
                          ("/etc/vmailsql.conf", config)):
        assert default in text, f"dovecot/{version}/auth-vmailsql.conf.ext names no {default}"
        text = text.replace(default, ours)
    return text


def _wait_banner(proc: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dovecot exited: {proc.stderr.read().decode()}\n{log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(512).startswith(b"+OK"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"dovecot gave no +OK banner within 30 s\n{log()}")


class Flavour:
    """One Dovecot version with its file-system root. `host(p)` is where the tests see a path
    that Dovecot sees as `p`; `inside(p)` the reverse."""

    version: str
    root: Path

    def host(self, path: str | Path) -> Path:
        return Path(str(self.root) + str(path)) if str(self.root) != "/" else Path(path)

    def inside(self, path: Path) -> str:
        text = str(path)
        if str(self.root) == "/":
            return text
        assert text.startswith(str(self.root) + "/"), text
        return text[len(str(self.root)):]

    def private_dir(self) -> tempfile.TemporaryDirectory:
        tmp = self.host("/tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        d = tempfile.TemporaryDirectory(prefix=f"vmailsql-dovecot{self.version}-", dir=tmp)
        os.chmod(d.name, 0o755)
        return d

    def mail_user(self) -> tuple[str, int, int]:
        raise NotImplementedError

    def dovecot_command(self, conf: str) -> list[str]:
        raise NotImplementedError

    def doveadm(self, conf: str, *args: str) -> subprocess.CompletedProcess:
        raise NotImplementedError


class Host23(Flavour):
    version = "2.3"
    root = Path("/")

    def __init__(self, work: Path):
        dl.require_dovecot()
        module = dl.DOVECOT_LIBEXEC / "modules" / "auth" / "libauthdb_lua.so"
        if not module.exists():
            raise dl.Missing(f"{module} not found (package dovecot-auth-lua): {INSTALL_LUA}")
        if not Path("/usr/include/lua5.4/lua.h").exists():
            raise dl.Missing(f"/usr/include/lua5.4/lua.h not found: {INSTALL_LUA}")
        libdir = work / "lib"
        so = dl.build_library(libdir)
        stage = work / "stage"
        proc = subprocess.run(
            ["make", "-s", "install", f"DESTDIR={stage}", "PREFIX=/usr/local",
             f"LIBRARY={so}", f"CARGO_TARGET_DIR={work / 'build'}",
             "CFLAGS=-O2 -Wall -Wextra -Werror"],
            cwd=dl.REPO, capture_output=True, text=True,
        )
        assert proc.returncode == 0, f"make install failed:\n{proc.stdout}\n{proc.stderr}"
        self.libdir = stage / "usr/local/lib"
        self.cmoddir = self.libdir / "lua/5.4"
        assert (self.cmoddir / "vmailsql.so").exists(), "make install put no Lua module"
        self.script = stage / "usr/local/share/vmailsql/dovecot/vmailsql.lua"
        assert self.script.exists(), "make install put no dovecot/vmailsql.lua"
        self.so = so

    def mail_user(self) -> tuple[str, int, int]:
        uid, gid = dl.mail_user()
        return dl.MAIL_USER, uid, gid

    def conf(self, base: str, config: str, pop3_port: int, imap_port: int, first_uid: int,
             cache_size: str) -> str:
        common = COMMON.format(base=base, first_uid=first_uid, pop3_port=pop3_port,
                               imap_port=imap_port)
        return CONF_23.format(common=common, cache_size=cache_size,
                              fragment=fragment("2.3", str(self.script), config),
                              cpath=f"{self.cmoddir}/?.so", libdir=self.libdir)

    def dovecot_command(self, conf: str) -> list[str]:
        return [str(dl.DOVECOT), "-F", "-c", conf]

    def doveadm(self, conf: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["doveadm", "-c", conf, *args], capture_output=True, text=True,
                              timeout=60)


class Chroot24(Flavour):
    version = "2.4"

    def __init__(self, root: Path = TRIXIE_ROOT):
        if os.geteuid() != 0:
            raise dl.Missing("the Dovecot 2.4 tests build a trixie root and chroot: run as root")
        if shutil.which("debootstrap") is None and not (root / ".vmailsql-root").exists():
            raise dl.Missing(f"debootstrap not found: {INSTALL_DEBOOTSTRAP}")
        self.root = root
        start = time.monotonic()
        proc = subprocess.run(
            [str(dl.REPO / "tests/dovecot/trixie-root.sh"), str(root)],
            capture_output=True, text=True, timeout=1800,
        )
        assert proc.returncode == 0, f"trixie-root.sh failed:\n{proc.stdout}\n{proc.stderr}"
        self.setup_log = proc.stdout + f"(trixie root ready in {time.monotonic() - start:.0f} s)"
        print(self.setup_log)
        version = self.run("dovecot", "--version").stdout
        assert version.startswith("2.4"), f"the trixie root holds Dovecot {version!r}"
        self.script = "/usr/local/share/vmailsql/dovecot/vmailsql.lua"
        assert self.host(self.script).exists(), "make install in the root put no vmailsql.lua"

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["chroot", str(self.root), *argv], capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        if check:
            assert proc.returncode == 0, f"{argv}: {proc.stderr}"
        return proc

    def mail_user(self) -> tuple[str, int, int]:
        if self.run("id", "-u", dl.MAIL_USER, check=False).returncode != 0:
            self.run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                     dl.MAIL_USER)
        uid = int(self.run("id", "-u", dl.MAIL_USER).stdout)
        gid = int(self.run("id", "-g", dl.MAIL_USER).stdout)
        assert uid != 0
        return dl.MAIL_USER, uid, gid

    def conf(self, base: str, config: str, pop3_port: int, imap_port: int, first_uid: int,
             cache_size: str) -> str:
        common = COMMON.format(base=base, first_uid=first_uid, pop3_port=pop3_port,
                               imap_port=imap_port)
        return CONF_24.format(common=common, cache_size=cache_size, port_tag=pop3_port,
                              fragment=fragment("2.4", self.script, config))

    def dovecot_command(self, conf: str) -> list[str]:
        return ["chroot", str(self.root), "/usr/sbin/dovecot", "-F", "-c", conf]

    def doveadm(self, conf: str, *args: str) -> subprocess.CompletedProcess:
        return self.run("doveadm", "-c", conf, *args, check=False)


class Dovecot:
    """A private Dovecot of a flavour; `base` is a host path inside the flavour's root."""

    def __init__(self, flavour: Flavour, base: Path, config: Path, first_uid: int,
                 cache_size: str = "0"):
        self.flavour = flavour
        self.base = base
        self.pop3_port = dl.free_port()
        self.imap_port = dl.free_port()
        base.mkdir(parents=True, exist_ok=True)
        (base / "state").mkdir(exist_ok=True)
        self.conf = base / "dovecot.conf"
        self.log = base / "dovecot.log"
        self.conf.write_text(flavour.conf(
            base=flavour.inside(base), config=flavour.inside(config),
            pop3_port=self.pop3_port, imap_port=self.imap_port,
            first_uid=min(first_uid, 500), cache_size=cache_size,
        ))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        run = self.base / "run"
        if run.exists():
            shutil.rmtree(run)  # a stale socket would delay the first login
        self.proc = subprocess.Popen(
            self.flavour.dovecot_command(self.flavour.inside(self.conf)),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        _wait_banner(self.proc, self.pop3_port, self.log_text)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def doveadm(self, *args: str) -> subprocess.CompletedProcess:
        return self.flavour.doveadm(self.flavour.inside(self.conf), *args)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
