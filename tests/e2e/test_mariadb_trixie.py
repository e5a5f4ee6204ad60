"""MariaDB 11.8 (Debian 13's, from the trixie root that tests/dovecot/trixie-root.sh builds and
caches): what Debian 12's MariaDB 10.11 cannot show.

- Accounts with the `parsec` plugin (MariaDB 11.6+) and `ed25519` log in through `vmailctl`
  (the library's own driver, over TCP to the chrooted server); a wrong password is a clear
  error that names no secret, never a panic.
- On the seed's schema created with 11.8's default collation (`utf8mb4_uca1400_ai_ci`: it folds
  accents as well as case), names match as the library decides: ASCII case-insensitively and
  nothing else.

Run as root: `python3 -m pytest tests/e2e/test_mariadb_trixie.py`. The root is built on first
use (debootstrap; see the README's Tests section) and reused from its cache afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import eximlib as E

ROOT = Path(os.environ.get("VMAILSQL_TRIXIE_ROOT", "/var/cache/vmailsql-tests/trixie"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mariadb118:
    """mariadbd from the trixie root, chrooted, with a private datadir under the root's /tmp,
    listening on 127.0.0.1; it stops when this process ends (its stdin closes)."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = Path(tempfile.mkdtemp(prefix="vmailsql-m118-", dir=root / "tmp"))
        self.inner = "/" + str(self.dir.relative_to(root))
        self.port = free_port()
        install = self.chroot("mariadb-install-db", "--no-defaults", "--user=root",
                              "--auth-root-authentication-method=normal", "--skip-test-db",
                              # the root has no /etc/hosts: grants by address, no name lookup
                              "--force", "--skip-name-resolve", f"--datadir={self.inner}/data")
        assert install.returncode == 0, install.stderr[-2000:]
        server = ["/usr/sbin/mariadbd", "--no-defaults", "--user=root",
                  f"--datadir={self.inner}/data", f"--socket={self.inner}/sock",
                  f"--pid-file={self.inner}/pid", f"--log-error={self.inner}/err",
                  f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
                  "--skip-log-bin",
                  "--innodb-buffer-pool-size=32M"]
        self.proc = subprocess.Popen(
            ["chroot", str(root), "sh", "-c", '"$@" & pid=$!; read _; kill $pid; wait $pid',
             "mariadbd", *server],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while self.chroot("mariadb", "--no-defaults", "-uroot", f"--socket={self.inner}/sock",
                          "-e", "SELECT 1").returncode != 0:
            err = self.dir / "err"
            assert time.monotonic() < deadline, err.read_text() if err.exists() else "no log"
            time.sleep(0.1)

    def chroot(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["chroot", str(self.root), *argv], input=input,
                              capture_output=True, text=True)

    def sql(self, text: str, db: str | None = None) -> str:
        proc = self.chroot("mariadb", "--no-defaults", "-uroot", f"--socket={self.inner}/sock",
                           "--batch", "--skip-column-names", *([db] if db else []), input=text)
        assert proc.returncode == 0, f"{proc.stderr}\n--- SQL ---\n{text}"
        return proc.stdout

    def url(self, user: str, password: str, db: str) -> str:
        return f"mysql://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    if os.geteuid() != 0:
        pytest.fail("the MariaDB 11.8 tests build a trixie root and chroot: run as root",
                    pytrace=False)
    proc = subprocess.run([str(E.REPO / "tests/dovecot/trixie-root.sh"), str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"trixie-root.sh failed:\n{proc.stdout}\n{proc.stderr}"
    s = Mariadb118(ROOT)
    version = s.sql("SELECT VERSION()").strip()
    assert version.startswith("11.8"), f"the trixie root holds MariaDB {version!r}"
    yield s
    s.stop()


@pytest.fixture(scope="module")
def vmailctl():
    build = subprocess.run(["cargo", "build", "--release", "-q", "--bin", "vmailctl"],
                           cwd=E.REPO, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return E.target_dir() / "release" / "vmailctl"


def run(vmailctl: Path, url: str, *args: str, stdin: str | None = None):
    return subprocess.run([str(vmailctl), "--database", url, *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


ACCOUNTS = {
    "parsec": ("INSTALL SONAME 'auth_parsec'", "IDENTIFIED VIA parsec USING PASSWORD('{pw}')"),
    "ed25519": ("INSTALL SONAME 'auth_ed25519'", "IDENTIFIED VIA ed25519 USING PASSWORD('{pw}')"),
}


@pytest.mark.parametrize("plugin", sorted(ACCOUNTS))
def test_accounts_of_the_plugin_administer_and_look_up(server, vmailctl, plugin):
    install, identified = ACCOUNTS[plugin]
    loaded = server.sql(f"SELECT COUNT(*) FROM information_schema.plugins "
                        f"WHERE plugin_name = '{plugin}' AND plugin_status = 'ACTIVE'").strip()
    if loaded == "0":
        server.sql(install)
    db, user, secret = f"vmail_{plugin}", f"vm_{plugin}", f"{plugin}-Secret-9"
    server.sql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; "
               f"CREATE OR REPLACE USER {user}@'127.0.0.1' {identified.format(pw=secret)}; "
               f"GRANT ALL ON {db}.* TO {user}@'127.0.0.1'")
    plugin_of = server.sql(f"SELECT plugin FROM mysql.user WHERE user = '{user}'").strip()
    assert plugin_of == plugin
    url = server.url(user, secret, db)
    for args in (["init"],
                 ["domain", "add", "example.org", "--path", "/var/mail/example.org",
                  "--user", "nobody"]):
        r = run(vmailctl, url, *args)
        assert r.returncode == 0, r.stderr
    r = run(vmailctl, url, "popbox", "add", "alice@example.org", "--password-stdin",
            stdin="pw-secret-1\n")
    assert r.returncode == 0, r.stderr
    r = run(vmailctl, url, "--json", "resolve", "Alice@Example.ORG")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["mailbox"] == "/var/mail/example.org/alice"
    r = run(vmailctl, url, "--json", "auth", "alice@example.org", "--password-stdin",
            stdin="pw-secret-1\n")
    assert r.returncode == 0 and json.loads(r.stdout)["result"] == "accepted", r.stderr

    wrong = run(vmailctl, server.url(user, "not-the-secret", db), "domain", "list")
    assert wrong.returncode not in (0, 101), wrong
    assert "1045" in wrong.stderr, wrong.stderr
    assert "panick" not in wrong.stderr and "not-the-secret" not in wrong.stderr, wrong.stderr


def test_legacy_schema_on_the_uca1400_default_matches_ascii_case_only(server, vmailctl):
    """The seed's schema takes the server's default collation; on 11.8 that is
    utf8mb4_uca1400_ai_ci, under which `alicé`, `ALİCE` and `exämple.org` equal their ASCII
    look-alikes. The library decides instead: only ASCII case is folded."""
    db = "vmail_uca"
    schema = (E.REPO / "sql/legacy/init-db.sql").read_text()
    server.sql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}")
    server.sql(schema, db=db)
    collation = server.sql(f"SELECT DEFAULT_COLLATION_NAME FROM information_schema.schemata "
                           f"WHERE schema_name = '{db}'").strip()
    assert collation.startswith("utf8mb4_uca1400"), collation
    server.sql("INSERT INTO domain (domain_name, unix_user, path) VALUES "
               "('example.org', 'nobody', '/var/mail/example.org');"
               "INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) VALUES "
               "('example.org', 'alice', NULL, 'alice');"
               "INSERT INTO domain_alias (domain_name, alias) VALUES "
               "('example.org', 'example.net');", db=db)
    # The collation itself equates them: the server would route all of these to alice.
    folded = server.sql("SELECT COUNT(*) FROM popbox WHERE local_part IN "
                        "('alicé', 'ALİCE', 'alice ')", db=db).strip()
    assert folded == "1", folded
    url = server.url("root", "", db).replace("root:@", "root@")
    server.sql("CREATE OR REPLACE USER root@'127.0.0.1'; "
               "GRANT ALL ON *.* TO root@'127.0.0.1'")
    for address, found in [("alice@example.org", True), ("ALICE@Example.ORG", True),
                           ("alice@EXAMPLE.net", True), ("alicé@example.org", False),
                           ("ALİCE@example.org", False), ("alice@exämple.org", False),
                           ("alice@example.nét", False)]:
        r = run(vmailctl, url, "--json", "resolve", address)
        assert r.returncode == (0 if found else 1), (address, r.stdout, r.stderr)
        result = json.loads(r.stdout)[0]
        assert (result.get("mailbox") == "/var/mail/example.org/alice") == found, result
