"""Exim end to end: the real exim4-daemon-heavy routes and delivers through ${dlfunc} into
libvmailsql, over SMTP, against a throw-away MariaDB.

Run as root from the repository root (after `cargo build --release`, which the tests also run):

    python3 -m pytest tests/e2e/test_exim.py

Every test runs twice: on the seed's legacy schema (as sites have it) and on the recommended
schema. Exim runs with a private configuration (`-C`, private spool and log, deliver_drop_privilege)
that includes the shipped fragments from exim/vmailsql/; nothing on the system is changed. Exim
exits 0 even when it defers, so every outcome is read from its log, the queue and the mailboxes.
A missing Exim or MariaDB is a failure naming the package, never a skip.
"""

from __future__ import annotations

import mailbox
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import eximlib as E

SENDER = "sender@remote.example"
DB_USER, DB_PASSWORD = "exim_lookup", "lookup-secret"


# ---- fixtures ----


@pytest.fixture(scope="session")
def base():
    try:
        E.require_exim()
        E.find_program("mariadbd")
    except E.Missing as e:
        pytest.fail(str(e), pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the Exim end-to-end tests run as root (exim4 -C needs it)", pytrace=False)
    d = Path(tempfile.mkdtemp(prefix="vmailsql-exim-e2e-"))
    d.chmod(0o755)
    yield d
    if not os.environ.get("VMAILSQL_KEEP_TEST_DIRS"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def library(base):
    return E.install_library(E.build_library(), base / "lib")


@pytest.fixture(scope="session")
def mariadb(base):
    db = E.MariaDB(base / "mariadb")
    db.start()
    yield db
    db.stop()


class Site:
    """One vmail-sql site: database, mail root, vmailsql.conf and a private Exim."""

    def __init__(self, root: Path, db: E.MariaDB, dbname: str, schema: str, library: Path):
        self.root, self.db, self.dbname, self.schema = root, db, dbname, schema
        self.mail = root / "mail"
        root.mkdir(parents=True)
        root.chmod(0o755)
        self.vmail_conf = E.write_vmailsql_config(
            root / "vmailsql.conf", db.url(dbname, DB_USER, DB_PASSWORD)
        )
        macros = {"VMAILSQL_LIBRARY": str(library), "VMAILSQL_CONFIG_FILE": str(self.vmail_conf)}
        self.exim = E.PrivateExim(root / "exim", E.build_config(root / "exim", "dlfunc", macros))
        self.exim.check()

    def mbox(self, domain: str, name: str) -> Path:
        return self.mail / domain / name

    def messages(self, domain: str, name: str, token: str) -> list[mailbox.mboxMessage]:
        path = self.mbox(domain, name)
        if not path.exists():
            return []
        box = mailbox.mbox(str(path), create=False)
        try:
            return [m for m in box if m.get("Message-ID") == f"<{token}@test.example>"]
        finally:
            box.close()

    def remote_messages(self, token: str) -> list[mailbox.mboxMessage]:
        path = self.exim.work / "capture" / "remote.mbox"
        if not path.exists():
            return []
        box = mailbox.mbox(str(path), create=False)
        try:
            return [m for m in box if m.get("Message-ID") == f"<{token}@test.example>"]
        finally:
            box.close()


DOMAINS = {
    # name: (unix_user, mbox names of its popboxes)
    "example.org": ("Debian-exim", {"alice": "alice", "bob": "bob", "info": "info",
                                    "catchall": "catchall"}),
    "catch.example": ("Debian-exim", {"carol": "carol"}),
    "other.example": ("Debian-exim", {"dave": "dave"}),
    # Stored data the library must refuse to deliver to.
    "unsafe.example": ("Debian-exim", {"eve": "../outside/escaped"}),
    "rootuser.example": ("root", {"mallory": "mallory"}),
    # Delivered as another user than Exim's (queue run as root, no deliver_drop_privilege).
    "mailuser.example": ("mail", {"mo": "mo"}),
}
FORWARDERS = [
    ("example.org", "info", "alice@example.org"),
    ("example.org", "team",
     "alice@example.org, bob@alias.example, dave@other.example, friend@remote.example"),
    ("catch.example", "sales", "bob@example.org"),
    ("catch.example", "_default_", "catchall@example.org"),
]
ALIASES = [("alias.example", "example.org")]


def load_fixture(site: Site) -> None:
    db, mail = site.db, site.mail
    db.create_database(site.dbname, site.schema, DB_USER, DB_PASSWORD)
    uid, gid = E.exim_ids()
    mail.mkdir(parents=True)
    mail.chmod(0o755)
    (mail / "outside").mkdir()
    os.chown(mail / "outside", uid, gid)
    rows = []
    for domain, (user, popboxes) in DOMAINS.items():
        path = mail / domain
        path.mkdir()
        owner = pwd.getpwnam(user) if user != "root" else None
        os.chown(path, *((owner.pw_uid, owner.pw_gid) if owner else (uid, gid)))
        rows.append(f"INSERT INTO domain (domain_name, unix_user, path) VALUES "
                    f"({E.sql_str(domain)}, {E.sql_str(user)}, {E.sql_str(str(path))});")
        for local, mbox in popboxes.items():
            rows.append(f"INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) "
                        f"VALUES ({E.sql_str(domain)}, {E.sql_str(local)}, "
                        f"'{{crypt}}x', {E.sql_str(mbox)});")
    for domain, local, remote in FORWARDERS:
        rows.append(f"INSERT INTO forwarder VALUES "
                    f"({E.sql_str(domain)}, {E.sql_str(local)}, {E.sql_str(remote)});")
    for alias, domain in ALIASES:
        rows.append(f"INSERT INTO domain_alias (domain_name, alias) VALUES "
                    f"({E.sql_str(domain)}, {E.sql_str(alias)});")
    db.sql("\n".join(rows), db=site.dbname)


@pytest.fixture(scope="module", params=["legacy", "recommended"])
def site(request, base, mariadb, library):
    schema = request.param
    site = Site(base / schema, mariadb, f"vmail_{schema}", schema, library)
    load_fixture(site)
    return site


class Logs:
    """What Exim logged since the cursor was made."""

    def __init__(self, exim: E.PrivateExim):
        self.exim = exim
        self.start = {w: len(exim.log(w)) for w in ("main", "panic", "reject")}

    def new(self, which: str = "main") -> str:
        return self.exim.log(which)[self.start[which]:]


def deliver(site: Site, recipients: list[str], token: str, mode: str = "-odi") -> dict:
    """One SMTP message from SENDER; `-odi` delivers before the session ends, `-odq` queues."""
    return E.send(site.exim, SENDER, recipients, token, mode=mode)


def rcpt_code(result: dict, address: str) -> int:
    return result["rcpt"][address][0]


# ---- delivery ----


def test_popbox_delivery_over_smtp(site):
    logs = Logs(site.exim)
    r = deliver(site, ["alice@example.org"], "popbox1")
    assert rcpt_code(r, "alice@example.org") == 250, r["transcript"]
    assert r["data"][0] == 250, r["transcript"]
    [m] = site.messages("example.org", "alice", "popbox1")
    assert m["Return-path"] == f"<{SENDER}>"
    assert m["Envelope-to"] == "alice@example.org"
    assert m["Delivery-date"], "Delivery-date header missing"
    assert m.get_from().startswith(SENDER), "mbox From_ line carries the envelope sender"
    assert "Body line for popbox1." in m.get_payload()
    path = site.mbox("example.org", "alice")
    st = path.stat()
    assert st.st_mode & 0o777 == 0o660
    assert (st.st_uid, st.st_gid) == E.exim_ids()
    log = logs.new()
    assert "=> alice <alice@example.org>" in log, log
    assert "R=vmailsql_popbox T=vmailsql_mbox" in log, log
    assert not logs.new("panic"), logs.new("panic")


def test_alias_domain_delivers_to_the_real_popbox(site):
    r = deliver(site, ["bob@alias.example"], "alias1")
    assert rcpt_code(r, "bob@alias.example") == 250, r["transcript"]
    [m] = site.messages("example.org", "bob", "alias1")
    assert m["Envelope-to"] == "bob@alias.example"
    assert not (site.mail / "alias.example").exists()


def test_forwarder_with_one_target_shadows_the_popbox(site):
    r = deliver(site, ["info@example.org"], "fwd1")
    assert rcpt_code(r, "info@example.org") == 250, r["transcript"]
    assert len(site.messages("example.org", "alice", "fwd1")) == 1
    # info is also a popbox: the forwarder wins, as in the seed.
    assert site.messages("example.org", "info", "fwd1") == []


def test_forwarder_with_a_list_of_targets(site):
    logs = Logs(site.exim)
    r = deliver(site, ["team@example.org"], "fwdlist")
    assert rcpt_code(r, "team@example.org") == 250, r["transcript"]
    assert len(site.messages("example.org", "alice", "fwdlist")) == 1
    assert len(site.messages("example.org", "bob", "fwdlist")) == 1  # via the alias domain
    assert len(site.messages("other.example", "dave", "fwdlist")) == 1
    assert len(site.remote_messages("fwdlist")) == 1
    assert "=> friend <team@example.org>" in logs.new(), logs.new()
    assert not logs.new("panic"), logs.new("panic")


def test_catch_all_only_for_local_parts_that_are_neither_popbox_nor_forwarder(site):
    r = deliver(site, ["random@catch.example", "carol@catch.example", "sales@catch.example"],
                "catch1")
    for a in ("random@catch.example", "carol@catch.example", "sales@catch.example"):
        assert rcpt_code(r, a) == 250, r["transcript"]
    [m] = site.messages("example.org", "catchall", "catch1")
    assert m["Envelope-to"] == "random@catch.example"
    assert len(site.messages("catch.example", "carol", "catch1")) == 1
    assert len(site.messages("example.org", "bob", "catch1")) == 1


def test_unknown_user_without_catch_all_gets_550_at_rcpt(site):
    logs = Logs(site.exim)
    s = E.SmtpSession(site.exim)
    s.cmd("HELO client.test.example")
    s.cmd(f"MAIL FROM:<{SENDER}>")
    for address in ("nobody@other.example", "nobody@example.org", "nobody@alias.example"):
        code, text = s.cmd(f"RCPT TO:<{address}>")
        assert code == 550 and "Unknown user" in text, (address, text)
    s.quit()
    assert logs.new().count("rejected RCPT") == 3
    assert site.exim.queue() == []


def test_non_local_domain_is_refused_as_relaying(site):
    s = E.SmtpSession(site.exim)
    s.cmd("HELO client.test.example")
    s.cmd(f"MAIL FROM:<{SENDER}>")
    code, text = s.cmd("RCPT TO:<someone@remote.example>")
    s.quit()
    assert code == 550 and "relay not permitted" in text, text


def test_case_variants_route_like_the_lower_case_address(site):
    pairs = [("ALICE@EXAMPLE.ORG", "alice@example.org"),
             ("Info@Alias.Example", "info@alias.example"),
             ("RaNdOm@CATCH.example", "random@catch.example"),
             ("Carol@Catch.Example", "carol@catch.example"),
             ("NoBody@Other.Example", "nobody@other.example")]
    for upper, lower in pairs:
        a, b = site.exim.route(upper), site.exim.route(lower)
        assert a.returncode == b.returncode, (upper, a.stdout, b.stdout)
        # Same routers and transports, address for address (Exim keeps the case it was given).
        assert a.stdout.lower() == b.stdout.lower(), (a.stdout, b.stdout)
    r = deliver(site, ["ALICE@EXAMPLE.ORG", "RaNdOm@CATCH.example"], "case1")
    assert r["data"][0] == 250, r["transcript"]
    assert len(site.messages("example.org", "alice", "case1")) == 1
    assert len(site.messages("example.org", "catchall", "case1")) == 1


# ---- failures ----


def test_database_down_defers_quietly_and_a_later_queue_run_delivers(site):
    """An outage defers everything, writes nothing to the panic log (Debian mails the
    administrator about a non-empty one), loses and bounces nothing; after it all is delivered."""
    logs = Logs(site.exim)
    tokens = [f"dbdown{i}" for i in range(5)]
    for token in tokens:
        r = deliver(site, ["alice@example.org", "team@example.org"], token, mode="-odq")
        assert r["data"][0] == 250, r["transcript"]
    queued = site.exim.queue()
    assert len(queued) == len(tokens), queued
    site.db.stop()
    try:
        # While the database is down, a new recipient gets a temporary error, never a 550.
        s = E.SmtpSession(site.exim)
        s.cmd("HELO client.test.example")
        s.cmd(f"MAIL FROM:<{SENDER}>")
        for address in ("alice@example.org", "nobody@other.example"):
            code, text = s.cmd(f"RCPT TO:<{address}>")
            assert 400 <= code < 500, (address, text)
        s.quit()
        # Two queue runs, as a daemon would make during an outage.
        for _ in range(2):
            run = site.exim.run("-qff")
            assert run.returncode == 0, run.stderr
        log = logs.new()
        for msgid in queued:
            assert f"{msgid} == alice@example.org" in log, log
            assert f"{msgid} == team@example.org" in log, log
            assert f"{msgid} **" not in log, "bounced while the database was down"
        assert sorted(site.exim.queue()) == sorted(queued), "message lost or a bounce queued"
        assert site.messages("example.org", "alice", tokens[0]) == []
        assert logs.new("panic") == "", logs.new("panic")
    finally:
        site.db.start()
    run = site.exim.run("-qff")
    assert run.returncode == 0, run.stderr
    assert site.exim.queue() == []
    for token in tokens:
        assert len(site.messages("example.org", "alice", token)) == 1, token
        assert len(site.messages("other.example", "dave", token)) == 1, token
    log = logs.new()
    for msgid in queued:
        assert f"{msgid} Completed" in log
    assert "<= <>" not in log, "a bounce was generated"
    assert logs.new("panic") == "", logs.new("panic")


def test_first_delivery_creates_the_domains_directory(site):
    """A domain added before its directory exists gets its mail, as with the seed's transport:
    Exim creates domain.path (and any missing parent) as the domain's unix_user."""
    uid, gid = E.exim_ids()
    spool = site.mail / "new-spool"
    spool.mkdir()
    os.chown(spool, uid, gid)
    path = spool / "sub" / "fresh.example"
    site.db.sql(f"INSERT INTO domain (domain_name, unix_user, path) VALUES "
                f"('fresh.example', 'Debian-exim', {E.sql_str(str(path))});\n"
                f"INSERT INTO popbox (domain_name, local_part, password_hash, mbox_name) "
                f"VALUES ('fresh.example', 'fred', '{{crypt}}x', 'fred');", db=site.dbname)
    logs = Logs(site.exim)
    r = deliver(site, ["fred@fresh.example"], "fresh1")
    assert rcpt_code(r, "fred@fresh.example") == 250, r["transcript"]
    assert site.exim.queue() == [], logs.new()
    [m] = site.messages(str(path.relative_to(site.mail)), "fred", "fresh1")
    assert m["Envelope-to"] == "fred@fresh.example"
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (uid, gid)
    log = logs.new()
    assert "=> fred <fred@fresh.example>" in log and "T=vmailsql_mbox" in log, log
    assert logs.new("panic") == "", logs.new("panic")


HOSTILE = [
    "\"x'; DROP TABLE popbox; --\"",
    "o'brien",
    "\"a\\\"b\"",
    "\"a\\\\b\"",
    "\"../../outside/x\"",
    "\"../escaped\"",
    "a%b",
    "%",
    "a%25",
    "_%",
    "\"alice/../bob\"",
    "*",
    "\"${run{/bin/touch /tmp/vmailsql-pwned}}\"",
    "$local_part",
    "x" * 64,
    "x" * 65,
    "y" * 300,
]


def test_hostile_local_parts_never_escape_and_never_break_sql(site):
    logs = Logs(site.exim)
    before = E.all_files(site.root)
    counts = site.db.sql("SELECT (SELECT COUNT(*) FROM popbox), (SELECT COUNT(*) FROM forwarder)",
                         db=site.dbname)
    s = E.SmtpSession(site.exim)
    s.cmd("HELO client.test.example")
    s.cmd(f"MAIL FROM:<{SENDER}>")
    accepted = []
    for local in HOSTILE:
        for domain in ("example.org", "catch.example"):
            code, text = s.cmd(f"RCPT TO:<{local}@{domain}>")
            assert code in (250, 501, 550, 553), (local, domain, text)
            if domain == "example.org":
                # No catch-all: nothing hostile exists there.
                assert code != 250, (local, text)
            elif code == 250:
                accepted.append(f"{local}@{domain}")
    assert accepted, "the catch-all domain accepted none of the hostile local parts"
    code, text = s.data(E.message("hostile", SENDER, "undisclosed-recipients:;"))
    assert code == 250, text
    s.quit()
    # Everything accepted went to the catch-all; nothing else was written anywhere.
    [m] = site.messages("example.org", "catchall", "hostile")
    after = E.all_files(site.root)
    new_files = {f for f in after - before if "/exim/spool/" not in f and "/exim/log/" not in f}
    assert all(f.startswith(str(site.mail / "example.org" / "catchall")) for f in new_files), \
        new_files
    assert not any((site.mail / "outside").iterdir())
    assert not Path("/tmp/vmailsql-pwned").exists()
    # Control characters and over-long local parts cannot be sent over SMTP; -bt takes them.
    # At most the catch-all answers: the only mailbox ever chosen is the catch-all's target.
    for local in ("a\x01b", "a\x7fb", "tab\there", "z" * 1000, "../../../../etc/passwd"):
        for domain in ("example.org", "catch.example"):
            out = site.exim.route(f"{local}@{domain}")
            for address, outcome in E.parse_bt(out.stdout).items():
                if "vmailsql_mbox" in outcome:
                    assert address == "catchall@example.org", out.stdout
                elif domain == "example.org":
                    assert outcome == "undeliverable", out.stdout
    main, panic = logs.new(), logs.new("panic")
    for needle in ("SQL syntax", "MySQL error", "1064", "error 1", "internal error"):
        assert needle not in main + panic, (needle, main, panic)
    assert not panic, panic
    assert site.db.sql("SELECT (SELECT COUNT(*) FROM popbox), (SELECT COUNT(*) FROM forwarder)",
                       db=site.dbname) == counts
    assert "ERROR" not in site.db.error_log().split("ready for connections")[-1]


def test_unsafe_stored_data_is_deferred_never_delivered(site):
    logs = Logs(site.exim)
    for address in ("eve@unsafe.example", "mallory@rootuser.example"):
        out = site.exim.route(address)
        assert out.returncode == 1, out.stdout + out.stderr  # deferred
    # Submitted without SMTP (no RCPT-time verification), the message waits on the queue.
    msg = E.message("unsafe1", SENDER, "eve@unsafe.example")
    sub = site.exim.run("-odq", "-f", SENDER, "eve@unsafe.example", "mallory@rootuser.example",
                        input=msg)
    assert sub.returncode == 0, sub.stderr
    run = site.exim.run("-qff")
    assert run.returncode == 0
    log, panic = logs.new(), logs.new("panic")
    assert "== eve@unsafe.example" in log and "== mallory@rootuser.example" in log, log
    assert "mbox_name" in panic and "root" in panic, panic
    assert not (site.mail / "outside" / "escaped").exists()
    assert not any((site.mail / "rootuser.example").iterdir())
    assert len(site.exim.queue()) == 1
    site.exim.run("-Mrm", *site.exim.queue())


# ---- cost ----


def test_one_database_query_per_address(site):
    """Routing N addresses in one process costs N statements, whatever their domains (the domain
    check that precedes a resolution reads the route ahead); a delivery reuses the router's
    answer in the transport (no second lookup)."""
    addresses = ["alice@example.org", "bob@example.org", "info@example.org", "x1@example.org",
                 "catchall@example.org"]
    names = ("Com_select", "Com_stmt_prepare", "Connections")
    before = site.db.status(*names)
    out = site.exim.route(*addresses)
    after = site.db.status(*names)
    assert out.returncode == 2, out.stdout  # x1 is unknown
    selects = after["Com_select"] - before["Com_select"]
    # One statement per address, and one more for each local child address of the info
    # forwarder (alice, already routed, is routed again): the first domain check of example.org
    # (the capture router's `domains = ! +local_domains`) reads alice's route with it.
    assert selects == len(addresses) + 1, (selects, out.stdout)
    assert after["Connections"] - before["Connections"] == 2  # Exim's, and our SHOW STATUS

    # One SMTP message to one popbox, every statement logged: one statement at RCPT time (the
    # ACL's domain check reads bob's route with the domain, verify = recipient uses it) and one
    # in the delivery process; the transport asks nothing.
    glog = site.root / "general.log"
    site.db.general_log(glog, True)
    try:
        r = deliver(site, ["bob@example.org"], "cost1")
    finally:
        site.db.general_log(glog, False)
    assert len(site.messages("example.org", "bob", "cost1")) == 1, r["transcript"]
    statements = [l for l in glog.read_text().splitlines()
                  if re.search(r"\s(Execute|Query)\t", l) and "general_log" not in l]
    assert len(statements) == 2, statements
    assert all("popbox" in l and "bob" in l for l in statements), statements


# ---- the shipped configurations ----


@pytest.fixture(scope="module")
def plain_site(base, mariadb, library):
    """One more site on the recommended schema, for the tests that need to run only once."""
    site = Site(base / "plain", mariadb, "vmail_plain", "recommended", library)
    load_fixture(site)
    return site


def test_shipped_minimal_exim_conf(plain_site, library):
    site = plain_site
    defines = [f"-DVMAILSQL_EXIM_DIR={E.EXIM_DIR / 'vmailsql'}",
               f"-DVMAILSQL_LIBRARY={library}", f"-DVMAILSQL_CONFIG_FILE={site.vmail_conf}"]
    conf = str(E.EXIM_DIR / "exim.conf")

    def exim(*args, input=None):
        return subprocess.run([str(E.EXIM), "-C", conf, *defines, *args], input=input,
                              capture_output=True, text=True, timeout=60)

    assert exim("-bV").returncode == 0
    out = exim("-bt", "alice@example.org", "info@alias.example", "nobody@other.example")
    routed = E.parse_bt(out.stdout)
    assert routed["alice@example.org"] == "vmailsql_popbox/vmailsql_mbox", out.stdout
    assert routed["nobody@other.example"] == "undeliverable", out.stdout
    dialogue = ("HELO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                "RCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\n"
                "RCPT TO:<x@remote.example>\r\nQUIT\r\n")
    out = exim("-bh", "192.0.2.1", input=dialogue)
    replies = [l for l in out.stdout.splitlines() if l[:3].isdigit()]
    assert replies[3].startswith("250"), replies
    assert replies[4].startswith("550") and "Unknown user" in replies[4], replies
    assert replies[5].startswith("550") and "relay not permitted" in replies[5], replies


ROUTING_SET = ["alice@example.org", "bob@alias.example", "info@example.org", "team@example.org",
               "random@catch.example", "carol@catch.example", "sales@catch.example",
               "nobody@other.example", "nobody@example.org", "dave@other.example",
               "Alice@Example.ORG", "_default_@catch.example"]


def final_deliveries(out: str) -> dict[str, str]:
    """-bt output → {final address: router class}, `undeliverable` kept per address."""
    routed = E.parse_bt(out)
    norm = {}
    for address, outcome in routed.items():
        address = address.split()[0].lower()
        if outcome == "undeliverable":
            norm[address] = "undeliverable"
        elif "mbox" in outcome or "localdelivery" in outcome:
            norm[address] = "mailbox"
        elif "remote_capture" in outcome:
            norm[address] = "remote"
        else:
            norm[address] = outcome
    return norm


def test_native_configurations_route_like_the_library(site, mariadb):
    """The updated native-MySQL configuration (and, on the legacy schema, the seed's original
    one) make the same decisions as the dlfunc configuration."""
    variants = ["native"] + (["seed"] if site.schema == "legacy" else [])
    expected = {}
    for address in ROUTING_SET:
        expected.update(final_deliveries(site.exim.route(address).stdout))
    assert expected["alice@example.org"] == "mailbox" and expected["nobody@example.org"] == \
        "undeliverable", expected
    for variant in variants:
        work = site.root / f"exim-{variant}"
        text = E.build_config(work, variant, {},
                              mysql_servers=mariadb.exim_server(site.dbname, DB_USER, DB_PASSWORD))
        exim = E.PrivateExim(work, text)
        exim.check()
        got = {}
        for address in ROUTING_SET:
            got.update(final_deliveries(exim.route(address).stdout))
        assert got == expected, (variant, got, expected)
        if variant == "native":
            logs = Logs(exim)
            r = E.send(exim, SENDER, ["alice@alias.example", "nobody@example.org"], "native1")
            assert rcpt_code(r, "nobody@example.org") == 550, r["transcript"]
            assert len(site.messages("example.org", "alice", "native1")) == 1, logs.new()
            out = exim.route("eve@unsafe.example")
            assert out.returncode == 1, out.stdout  # unsafe stored data: deferred
            assert not logs.new("panic"), logs.new("panic")


def test_delivery_as_the_domains_unix_user(plain_site, library):
    """Without deliver_drop_privilege, a queue run as root delivers as domain.unix_user."""
    site = plain_site
    work = site.root / "exim-root"
    macros = {"VMAILSQL_LIBRARY": str(library), "VMAILSQL_CONFIG_FILE": str(site.vmail_conf)}
    exim = E.PrivateExim(work, E.build_config(work, "dlfunc", macros, drop_privilege=False))
    exim.check()
    logs = Logs(exim)
    r = E.send(exim, SENDER, ["mo@mailuser.example"], "asuser", mode="-odq")
    assert r["data"][0] == 250, r["transcript"]
    run = exim.run("-qff")
    assert run.returncode == 0, run.stderr
    assert exim.queue() == [], logs.new()
    [m] = site.messages("mailuser.example", "mo", "asuser")
    assert m["Envelope-to"] == "mo@mailuser.example"
    st = site.mbox("mailuser.example", "mo").stat()
    mail = pwd.getpwnam("mail")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (mail.pw_uid, mail.pw_gid, 0o660)


DEBIAN_HOOKS = {
    # README.md, "Installing into Debian's exim4": file → content, with the paths of this test.
    "split": {
        "conf.d/main/00_vmailsql": "{macros}.include {frag}/main.conf\n"
                                   "MAIN_LOCAL_DOMAINS = @:localhost:+vmailsql_domains\n",
        "conf.d/router/350_vmailsql": ".include {frag}/routers.conf\n",
        "conf.d/transport/30_vmailsql": ".include {frag}/transports.conf\n",
    },
    "unsplit": {
        "exim4.conf.localmacros": "{macros}.include {frag}/main.conf\n"
                                  "MAIN_LOCAL_DOMAINS = @:localhost:+vmailsql_domains\n",
    },
}


@pytest.mark.parametrize("scheme", ["split", "unsplit"])
def test_debian_exim4_installation(plain_site, library, scheme, base):
    """README's Debian instructions, applied to a copy of /etc/exim4 and generated with Debian's
    own update-exim4.conf (-d copy -o file); the result routes and verifies through the library."""
    site = plain_site
    # Exim reads the configuration as its own user too: the directory must be traversable.
    tmp_path = base / f"debian-{scheme}"
    tmp_path.mkdir(mode=0o755)
    if not Path("/etc/exim4/exim4.conf.template").exists() or not shutil.which("update-exim4.conf"):
        pytest.fail("Debian's exim4-config is missing: apt-get install exim4-config", pytrace=False)
    conf = tmp_path / "etc-exim4"
    shutil.copytree("/etc/exim4", conf, symlinks=True)
    frag = tmp_path / "vmailsql"
    frag.mkdir()
    for f in ("main.conf", "routers.conf", "transports.conf"):
        shutil.copyfile(E.EXIM_DIR / "vmailsql" / f, frag / f)
    macros = f"VMAILSQL_LIBRARY = {library}\nVMAILSQL_CONFIG_FILE = {site.vmail_conf}\n"
    for name, text in DEBIAN_HOOKS[scheme].items():
        (conf / name).write_text(text.format(macros=macros, frag=frag))
    ue4cc = conf / "update-exim4.conf.conf"
    settings = re.sub(r"^dc_use_split_config=.*$", "", ue4cc.read_text(), flags=re.M)
    settings = re.sub(r"^dc_eximconfig_configtype=.*$", "", settings, flags=re.M)
    ue4cc.write_text(settings + f"\ndc_use_split_config='{'true' if scheme == 'split' else 'false'}'"
                     "\ndc_eximconfig_configtype='internet'\n")
    template = conf / "exim4.conf.template"
    if scheme == "unsplit":
        text = template.read_text()
        # The README's two edits of the template.
        text = text.replace("### end router/200_exim4-config_primary\n",
                            f"### end router/200_exim4-config_primary\n.include {frag}/routers.conf\n", 1)
        text = text.replace("\nbegin transports\n",
                            f"\nbegin transports\n.include {frag}/transports.conf\n", 1)
        # update-exim4.conf reads the local macros file only when /etc/exim4 has one; this test
        # changes nothing under /etc, so it puts the file's lines where Debian would: in front.
        text = (conf / "exim4.conf.localmacros").read_text() + text
        template.write_text(text)
    out = tmp_path / "config.autogenerated"
    gen = subprocess.run(["update-exim4.conf", "-d", str(conf), "-o", str(out)],
                         capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    assert ".include" in out.read_text()

    def exim(*args, input=None):
        return subprocess.run([str(E.EXIM), "-C", str(out), *args], input=input,
                              capture_output=True, text=True, timeout=60)

    check = exim("-bV")
    assert check.returncode == 0, check.stderr
    routed = E.parse_bt(exim("-bt", "alice@example.org", "bob@alias.example",
                             "nobody@other.example").stdout)
    assert routed["alice@example.org"] == "vmailsql_popbox/vmailsql_mbox", routed
    assert routed["nobody@other.example"] == "undeliverable", routed
    dialogue = ("HELO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                "RCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\nQUIT\r\n")
    session = exim("-bh", "192.0.2.1", input=dialogue)
    replies = [l for l in session.stdout.splitlines() if l[:3].isdigit()]
    rcpt = [l for l in replies if l.startswith(("250 Accepted", "550"))]
    assert rcpt[0].startswith("250"), replies
    assert rcpt[1].startswith("550") and "Unknown user" in rcpt[1], replies
