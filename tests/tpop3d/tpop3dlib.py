"""Helpers for the tpop3d tests: tpop3d's side of auth-other and auth-perl, and the sites.

tpop3d is not packaged in Debian 12, so the tests play its side of each interface byte for
byte as ../shared/reference/daemons.md documents it: a request and a reply are each a sequence
of key\\0value\\0 pairs ended by one more \\0, at most 4096 bytes, on the helper's stdin and
stdout. The auth-perl route is driven through perl_host.c, which embeds Perl as tpop3d does
and speaks the same framing, so one case table serves both routes.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import select
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from dovecotlib import MariaDB, Missing, find_program, target_dir  # noqa: E402

MAX_MESSAGE = 4096
REPLY_TIMEOUT = 30.0  # seconds; generous for valgrind

# ---- the protocol ----


def encode(pairs) -> bytes:
    """A request: key\\0value\\0 ... \\0. Keys and values are str (UTF-8) or bytes."""
    out = b""
    for key, value in pairs:
        k = key.encode() if isinstance(key, str) else key
        v = value.encode() if isinstance(value, str) else value
        out += k + b"\0" + v + b"\0"
    return out + b"\0"


def decode(reply: bytes) -> list[tuple[str, str]]:
    """The pairs of one complete reply; asserts the framing is exact."""
    assert reply.endswith(b"\0"), reply
    assert len(reply) <= MAX_MESSAGE, f"reply of {len(reply)} bytes"
    fields = reply[:-1].split(b"\0")
    assert fields[-1] == b"", reply
    fields = fields[:-1]
    assert len(fields) % 2 == 0, reply
    pairs = [(fields[i].decode(), fields[i + 1].decode()) for i in range(0, len(fields), 2)]
    assert all(k for k, _ in pairs), reply
    return pairs


class Peer:
    """tpop3d's end of the pipes to a helper (the auth-other program, or perl_host)."""

    def __init__(self, argv: list[str], env: dict | None = None):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.buf = b""

    def send(self, data: bytes, chunks: list[int] | None = None, pause: float = 0.0) -> None:
        """Writes data, split into the given chunk sizes (the rest in one write)."""
        fd = self.proc.stdin.fileno()
        pos = 0
        for size in chunks or []:
            os.write(fd, data[pos:pos + size])
            pos += size
            if pause:
                time.sleep(pause)
        while pos < len(data):
            pos += os.write(fd, data[pos:])

    def read_reply(self, timeout: float = REPLY_TIMEOUT) -> bytes:
        """One reply: bytes up to the empty key that ends it."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            end = _reply_end(self.buf)
            if end is not None:
                reply, self.buf = self.buf[:end], self.buf[end:]
                return reply
            left = deadline - time.monotonic()
            assert left > 0, f"no complete reply within {timeout} s; have {self.buf[:200]!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, f"helper closed stdout; stderr: {self.stderr_text()}"
                self.buf += chunk

    def ask(self, pairs, **send_args) -> list[tuple[str, str]]:
        self.send(encode(pairs), **send_args)
        return decode(self.read_reply())

    def ask_raw(self, data: bytes) -> bytes:
        self.send(data)
        return self.read_reply()

    def close(self, timeout: float = 120) -> int:
        """Closes the helper's stdin (EOF), keeps what it still wrote in buf, returns its exit
        status."""
        self.proc.stdin.close()
        status = self.proc.wait(timeout=timeout)
        self.buf += self.proc.stdout.read()
        self.proc.stdout.close()
        return status

    def stderr_text(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


def _reply_end(buf: bytes) -> int | None:
    """Index just past the terminator of the first complete reply in buf, else None."""
    in_value, field_len = False, 0
    for i, b in enumerate(buf):
        if b:
            field_len += 1
        elif not in_value and field_len == 0:
            return i + 1
        else:
            in_value, field_len = not in_value, 0
    return None


# ---- builds ----


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@dataclass
class Build:
    helper: Path  # the installed auth-other helper
    libdir: Path  # where the installed libvmailsql.so.0 is
    perl_host: Path
    perl_inc: list[str]  # -I paths of the built Vmailsql module
    tpop3d_pl: Path
    stage: Path  # DESTDIR of the staged make install (PREFIX=/usr/local)


def build_all(work: Path) -> Build:
    """The library (cargo), the helper as `make install` installs it (DESTDIR staging), the
    Perl module (perl Makefile.PL && make) and perl_host."""
    for tool, package in (("gcc", "gcc"), ("make", "make"), ("perl", "perl"),
                          ("valgrind", "valgrind")):
        find_program(tool, f"apt-get install {package}")
    run(["cargo", "build", "--release", "--lib"], cwd=REPO)
    so = target_dir() / "release" / "libvmailsql.so"
    stage = work / "stage"
    run(["make", "-s", "-C", str(REPO), "install", f"DESTDIR={stage}", "PREFIX=/usr/local",
         f"LIBRARY={so}"])
    helper = stage / "usr/local/libexec/vmailsql/tpop3d-auth-other"
    assert helper.exists(), f"make install did not install {helper}"
    core = run(["perl", "-MConfig", "-e", 'print "$Config{archlibexp}/CORE"']).stdout
    if not (Path(core) / "perl.h").exists():
        raise Missing(f"{core}/perl.h not found: apt-get install libperl-dev")
    perl_dir = REPO / "perl"
    run(["perl", "Makefile.PL"], cwd=perl_dir)
    run(["make"], cwd=perl_dir)
    flags = run(["perl", "-MExtUtils::Embed", "-e", "ccopts", "-e", "ldopts"]).stdout.split()
    host = work / "perl_host"
    run(["gcc", "-O1", "-Wall", "-o", str(host), str(Path(__file__).with_name("perl_host.c")),
         *flags])
    return Build(helper=helper, libdir=stage / "usr/local/lib", perl_host=host,
                 perl_inc=[str(perl_dir / "blib/lib"), str(perl_dir / "blib/arch")],
                 tpop3d_pl=perl_dir / "tpop3d" / "tpop3d.pl", stage=stage)


DOC = REPO / "docs" / "tpop3d.md"
INSTALLED_HELPER = "/usr/local/libexec/vmailsql/tpop3d-auth-other"  # make install PREFIX=/usr/local


def conf_fragment(doc: Path, route: str) -> dict[str, str]:
    """The tpop3d.conf lines of a route as a page shows them (a ```text block whose first
    line is "# tpop3d.conf: <route>"), so that the tests run what the documentation says."""
    blocks = re.findall(r"```text\n# tpop3d\.conf: (\S+)\n(.*?)```", doc.read_text(), re.S)
    found = [body for name, body in blocks if name == route]
    assert len(found) == 1, f"{doc}: {len(found)} tpop3d.conf blocks for {route}"
    conf = {}
    for line in found[0].splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(":")
            conf[key.strip()] = value.strip()
    assert conf.get("auth-mysql-enable") == "false", f"{doc} {route}: auth-mysql stays on"
    assert conf.get(f"{route}-enable") == "true", f"{doc}: {route} not enabled"
    return conf


def auth_other(build: Build, config: Path, wrapper: list[str] | None = None) -> Peer:
    """The installed helper, started as docs/tpop3d.md's auth-other-program line says, with
    the test's configuration file in place of /etc/vmailsql.conf."""
    argv = conf_fragment(DOC, "auth-other")["auth-other-program"].split()
    assert argv[0] == INSTALLED_HELPER, argv
    argv = [str(build.helper)] + [str(config) if a == "/etc/vmailsql.conf" else a
                                  for a in argv[1:]]
    assert str(config) in argv, f"the documented program line names no configuration: {argv}"
    return Peer([*(wrapper or []), *argv], env={"LD_LIBRARY_PATH": str(build.libdir)})


def auth_perl(build: Build, config: Path) -> Peer:
    """perl_host configured with docs/tpop3d.md's auth-perl lines, the start file being the
    ready perl/tpop3d/tpop3d.pl (which reads $VMAILSQL_CONFIG)."""
    conf = conf_fragment(DOC, "auth-perl")
    start = conf["auth-perl-start"]
    assert "/etc/tpop3d/vmailsql.pl" in start, start
    start = start.replace("/etc/tpop3d/vmailsql.pl", str(build.tpop3d_pl))
    return Peer(
        [str(build.perl_host), start, conf["auth-perl-pass"], conf["auth-perl-apop"],
         conf["auth-perl-onlogin"]],
        env={"PERL5LIB": ":".join(build.perl_inc), "VMAILSQL_CONFIG": str(config)},
    )


def write_config(path: Path, url: str, **extra: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"database = {url}\n")
        for key, value in extra.items():
            f.write(f"{key} = {value}\n")
    return path


# ---- the site: a vmail-sql database as the seed's tools left it ----

MAIL = pwd.getpwnam("mail")  # Debian's base-passwd: uid 8, gid 8
NUMERIC_UID = 65534  # Debian's nobody: a numeric uid with a passwd entry
UNKNOWN_UID = 4711   # a numeric uid without one: tpop3d refused such logins
LATIN1_PASSWORD = "pässwörd".encode("latin-1")
APOP_TIMESTAMP = "<1896.697170952@dbc.mtview.ca.us>"
APOP_DIGEST = "c4c9334bac560ecc979e58001b3e22fb"  # RFC 1939: tanstaaf

DOMAINS = [
    # domain_name, unix_user, path
    ("example.org", "mail", "/var/mail/example.org"),
    ("numeric.example", str(NUMERIC_UID), "/srv/mail/numeric"),
    ("nouid.example", str(UNKNOWN_UID), "/srv/mail/nouid"),
    ("Mixed.EXAMPLE", "mail", "/var/mail/mixed"),
    ("rootuser.example", "root", "/var/mail/root"),
    ("emptyuser.example", "", "/var/mail/empty"),
    ("zero.example", "0", "/var/mail/zero"),
    ("ghost.example", "no-such-user-vmt", "/var/mail/ghost"),
]
ALIASES = [("example.org", "example.net")]  # domain_name, alias
POPBOXES = [
    # domain_name, local_part, password_hash, mbox_name
    ("example.org", "alice", "5ebe2294ecd0e0f08eab7690d2a6ee69", "alice"),
    ("example.org", "md5b64", "{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "md5b64"),
    ("example.org", "md5hex", "{md5}5EBE2294ECD0E0F08EAB7690D2A6EE69", "md5hex"),
    ("example.org", "des", "{crypt}abNANd1rDfiNc", "des"),
    ("example.org", "md5crypt", "{crypt_md5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1", "md5crypt"),
    ("example.org", "sha512", "{crypt}$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/"
     "JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1", "sha512"),
    ("example.org", "oldmysql", "{mysql}428567f408994404", "oldmysql"),
    ("example.org", "sha1", "{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4", "sha1"),
    ("example.org", "plain", "{plaintext}tanstaaf", "plain"),
    ("example.org", "umlaut", "12841e4ba5e37d2fbfc78458c6714ade", "umlaut"),
    ("example.org", "latin1", hashlib.md5(LATIN1_PASSWORD).hexdigest(), "latin1"),
    ("example.org", "nohash", None, "nohash"),
    ("example.org", "emptyhash", "", "emptyhash"),
    ("example.org", "rot13", "{rot13}frperg", "rot13"),
    ("example.org", "escape", "5ebe2294ecd0e0f08eab7690d2a6ee69", "../../../etc/passwd"),
    ("example.org", "nombox", "5ebe2294ecd0e0f08eab7690d2a6ee69", None),
    ("numeric.example", "nina", "5ebe2294ecd0e0f08eab7690d2a6ee69", "nina"),
    ("nouid.example", "nick", "5ebe2294ecd0e0f08eab7690d2a6ee69", "nick"),
    ("Mixed.EXAMPLE", "Carol", "5ebe2294ecd0e0f08eab7690d2a6ee69", "carol"),
    ("rootuser.example", "rob", "5ebe2294ecd0e0f08eab7690d2a6ee69", "rob"),
    ("emptyuser.example", "emma", "5ebe2294ecd0e0f08eab7690d2a6ee69", "emma"),
    ("zero.example", "zed", "5ebe2294ecd0e0f08eab7690d2a6ee69", "zed"),
    ("ghost.example", "gus", "5ebe2294ecd0e0f08eab7690d2a6ee69", "gus"),
]


def _rows_sql(quote) -> list[str]:
    def q(v):
        return "NULL" if v is None else quote(v)

    out = [f"INSERT INTO domain VALUES ({q(d)},{q(u)},NULL,{q(p)},NULL)" for d, u, p in DOMAINS]
    out += [f"INSERT INTO domain_alias VALUES ({q(d)},{q(a)})" for d, a in ALIASES]
    out += [f"INSERT INTO popbox VALUES ({q(d)},{q(lp)},{q(h)},{q(m)})"
            for d, lp, h, m in POPBOXES]
    return out


def _sql_quote(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"


def sqlite_site(path: Path, lib_so: Path) -> str:
    """An SQLite site: the library's schema (SQLite has no legacy one), rows planted raw."""
    url = f"sqlite://{path}"
    create_schema(lib_so, url)
    con = sqlite3.connect(path)
    with con:
        for stmt in _rows_sql(lambda v: "'" + v.replace("'", "''") + "'"):
            con.execute(stmt)
    con.close()
    return url


def mariadb_site(db: MariaDB, name: str) -> str:
    """A MariaDB site on the seed's own schema file (sql/legacy/init-db.sql) in a latin1,
    case-insensitive database, as a 2002 installation has it."""
    db.sql(f"CREATE DATABASE {name} CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    schema = (REPO / "sql/legacy/init-db.sql").read_text()
    proc = subprocess.run(
        [db.client, "--no-defaults", "-S", str(db.socket), "-uroot", name],
        input=schema, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    db.sql(f"USE {name}; " + "; ".join(_rows_sql(_sql_quote)))
    return db.url(name)


def create_schema(lib_so: Path, url: str) -> None:
    import ctypes

    lib = ctypes.CDLL(str(lib_so))
    lib.vmailsql_last_error.restype = ctypes.c_char_p
    h = ctypes.c_void_p()
    assert lib.vmailsql_open_url(url.encode(), ctypes.byref(h)) == 0, lib.vmailsql_last_error()
    assert lib.vmailsql_create_schema(h) == 0, lib.vmailsql_last_error()
    lib.vmailsql_free(h)


# ---- the login cases of legacy-contract.md §3 (and every stored scheme of §4) ----


@dataclass
class Case:
    name: str
    request: list  # pairs
    result: str  # YES or NO
    fields: dict = field(default_factory=dict)  # YES: uid, gid, mailbox, domain
    logmsg: str | None = None  # NO: a regex the logmsg must match; None: no logmsg at all


def _yes(mailbox: str, domain: str = "example.org", uid: int | None = None,
         gid: int | None = None) -> dict:
    return {"uid": str(MAIL.pw_uid if uid is None else uid),
            "gid": str(MAIL.pw_gid if gid is None else gid),
            "mailbox": mailbox, "mboxtype": "bsd", "domain": domain}


def pass_req(user, password, **extra) -> list:
    pairs = [("method", "PASS"), ("user", user)]
    pairs += [(k, v) for k, v in extra.items()]
    pairs += [("pass", password), ("clienthost", "192.0.2.7"), ("serverhost", "pop.example.org")]
    return pairs


def apop_req(user, digest, timestamp=APOP_TIMESTAMP) -> list:
    return [("method", "APOP"), ("user", user), ("timestamp", timestamp), ("digest", digest),
            ("clienthost", "192.0.2.7"), ("serverhost", "pop.example.org")]


def numeric_gid() -> int:
    try:
        return pwd.getpwuid(NUMERIC_UID).pw_gid
    except KeyError:
        return NUMERIC_UID


def login_cases() -> list[Case]:
    alice = _yes("/var/mail/example.org/alice")
    unsafe = r"^vmailsql: cannot log in popbox {} \(.*\), fix this row: unsafe data"
    owner = r"^vmailsql: refusing popbox {}: unix_user {} \(domain\.unix_user\)$"
    cases = [
        Case("right password", pass_req("alice@example.org", "secret"), "YES", alice),
        Case("wrong password", pass_req("alice@example.org", "Secret"), "NO"),
        Case("empty password", pass_req("alice@example.org", ""), "NO"),
        Case("unknown user", pass_req("nobody@example.org", "secret"), "NO"),
        Case("unknown domain", pass_req("alice@unknown.example", "secret"), "NO"),
        Case("case-insensitive login", pass_req("ALICE@Example.ORG", "secret"), "YES", alice),
        Case("separator %", pass_req("alice%example.org", "secret"), "YES", alice),
        Case("separator !", pass_req("alice!example.org", "secret"), "YES", alice),
        Case("separator :", pass_req("alice:example.org", "secret"), "YES", alice),
        Case("split at the first separator", pass_req("alice%example.org@x", "secret"), "NO"),
        Case("bare name has no local part", pass_req("alice", "secret"), "NO"),
        Case("empty login", pass_req("", "secret"), "NO"),
        Case("tpop3d split the login",
             pass_req("alice@example.org", "secret", local_part="alice", domain="example.org"),
             "YES", alice),
        Case("tpop3d appended its domain (append-domain)",
             pass_req("alice", "secret", local_part="alice", domain="example.org"), "YES", alice),
        Case("alias domain cannot log in (tpop3d never resolved domain_alias)",
             pass_req("alice@example.net", "secret"), "NO"),
        Case("stored row in mixed case", pass_req("carol@mixed.example", "secret"), "YES",
             _yes("/var/mail/mixed/carol", "mixed.example")),
        Case("numeric unix_user is the uid", pass_req("nina@numeric.example", "secret"), "YES",
             _yes("/srv/mail/numeric/nina", "numeric.example", NUMERIC_UID, numeric_gid())),
        Case("numeric unix_user without a passwd entry", pass_req("nick@nouid.example", "secret"),
             "NO"),
        Case("unsafe mbox_name escaping domain.path", pass_req("escape@example.org", "secret"),
             "NO", logmsg=unsafe.format("escape@example.org")),
        Case("unsafe row, wrong password: plain NO", pass_req("escape@example.org", "bad"), "NO"),
        Case("NULL mbox_name", pass_req("nombox@example.org", "secret"), "NO",
             logmsg=unsafe.format("nombox@example.org")),
        Case("unix_user root", pass_req("rob@rootuser.example", "secret"), "NO",
             logmsg=unsafe.format("rob@rootuser.example")),
        Case("empty unix_user (tpop3d made it uid 0)", pass_req("emma@emptyuser.example",
                                                               "secret"), "NO",
             logmsg=unsafe.format("emma@emptyuser.example")),
        Case("unix_user 0", pass_req("zed@zero.example", "secret"), "NO",
             logmsg=unsafe.format("zed@zero.example")),
        Case("unix_user unknown to the system", pass_req("gus@ghost.example", "secret"), "NO",
             logmsg=owner.format("gus@ghost.example", "does not exist on this system")),
        Case("login not UTF-8", pass_req(b"al\xffce@example.org", "secret"), "NO",
             logmsg=r"^vmailsql: login al\?ce@example.org refused: "),
        Case("UTF-8 password, bare hex MD5", pass_req("umlaut@example.org", "pässwörd"), "YES",
             _yes("/var/mail/example.org/umlaut")),
        Case("Latin-1 password bytes verify", pass_req("latin1@example.org", LATIN1_PASSWORD),
             "YES", _yes("/var/mail/example.org/latin1")),
        Case("Latin-1 hash, UTF-8 password", pass_req("latin1@example.org", "pässwörd"), "NO"),
        Case("NULL hash", pass_req("nohash@example.org", ""), "NO"),
        Case("empty hash", pass_req("emptyhash@example.org", ""), "NO"),
        Case("unknown scheme", pass_req("rot13@example.org", "secret"), "NO"),
        Case("unknown scheme, stored text", pass_req("rot13@example.org", "{rot13}frperg"), "NO"),
        Case("{mysql} skips spaces", pass_req("oldmysql@example.org", "sec ret"), "YES",
             _yes("/var/mail/example.org/oldmysql")),
        Case("APOP", apop_req("plain@example.org", APOP_DIGEST), "YES",
             _yes("/var/mail/example.org/plain")),
        Case("APOP upper-case digest", apop_req("plain@example.org", APOP_DIGEST.upper()), "YES",
             _yes("/var/mail/example.org/plain")),
        Case("APOP wrong digest", apop_req("plain@example.org", "0" * 32), "NO"),
        Case("APOP other timestamp", apop_req("plain@example.org", APOP_DIGEST, "<1.2@x>"), "NO"),
        Case("APOP needs {plaintext}", apop_req("alice@example.org",
                                               hashlib.md5(f"{APOP_TIMESTAMP}secret".encode())
                                               .hexdigest()), "NO"),
        Case("APOP unknown user", apop_req("nobody@example.org", APOP_DIGEST), "NO"),
        Case("ONLOGIN", [("method", "ONLOGIN"), ("user", "alice@example.org"),
                         ("local_part", "alice"), ("domain", "example.org"),
                         ("clienthost", "192.0.2.7"), ("serverhost", "pop.example.org")], "YES"),
    ]
    for local, right in (("md5b64", "secret"), ("md5hex", "secret"), ("des", "secret"),
                         ("md5crypt", "secret"), ("sha512", "secret"), ("oldmysql", "secret"),
                         ("sha1", "secret"), ("plain", "tanstaaf")):
        cases.append(Case(f"scheme {local}, right password", pass_req(f"{local}@example.org",
                                                                      right), "YES",
                          _yes(f"/var/mail/example.org/{local}")))
        cases.append(Case(f"scheme {local}, wrong password",
                          pass_req(f"{local}@example.org", right + "x"), "NO"))
    return cases


def check_reply(case: Case, pairs: list[tuple[str, str]], ordered: bool = True) -> None:
    """The reply for a case: exactly the expected keys; for auth-other also in the order
    result first (a hash reference from auth-perl has no order)."""
    got = dict(pairs)
    assert len(got) == len(pairs), f"{case.name}: duplicate keys in {pairs}"
    assert "host_error" not in got, f"{case.name}: the subroutine failed: {got['host_error']}"
    if ordered:
        assert pairs[0][0] == "result", f"{case.name}: {pairs}"
    assert got.get("result") == case.result, f"{case.name}: {pairs}"
    if case.result == "YES":
        want = {"result": "YES", **case.fields}
        # The domain comes back as the row stores it (a legacy row may be mixed case):
        # domains compare case-insensitively.
        if "domain" in got:
            got["domain"] = got["domain"].lower()
        assert got == want, f"{case.name}: {got} != {want}"
        return
    if case.logmsg is None:
        assert got == {"result": "NO"}, f"{case.name}: {pairs}"
    else:
        import re

        assert set(got) == {"result", "logmsg"}, f"{case.name}: {pairs}"
        assert re.search(case.logmsg, got["logmsg"]), f"{case.name}: logmsg {got['logmsg']!r}"
        assert "secret" not in got["logmsg"], f"{case.name}: password in {got['logmsg']!r}"
