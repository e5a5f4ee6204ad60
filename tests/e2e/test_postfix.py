"""Postfix end to end: Debian 12's real Postfix routes through vmailsql-socketmap and delivers
into mbox files with virtual(8), over SMTP from Python's smtplib, against a throw-away MariaDB.

Run as root from the repository root:

    python3 -m pytest tests/e2e/test_postfix.py

The data and the cases are those of test_exim.py, on the seed's legacy schema and on the
recommended one. Postfix is not installed (Debian's package would replace Exim): it runs from
the private root that tests/postfix/fetch-postfix.sh unpacks, as a private instance (own
config_directory, queue_directory, log file, loopback port) with the shipped postfix/main.cf
and postfix/master.cf applied. A missing Postfix, MariaDB or postfix user is a failure naming
what to do, never a skip.
"""

from __future__ import annotations

import mailbox
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import eximlib as E
import postfixlib as P
import test_exim as X

SENDER = "sender@remote.example"


@pytest.fixture(scope="session")
def base():
    if os.geteuid() != 0:
        pytest.fail("the Postfix end-to-end tests run as root (postfix start needs it)",
                    pytrace=False)
    try:
        root = P.postfix_root()
        E.find_program("mariadbd")
        E.exim_ids()  # the fixture's mail directories belong to Debian-exim, as for Exim
    except (E.Missing, KeyError) as e:
        pytest.fail(str(e), pytrace=False)
    d = Path(tempfile.mkdtemp(prefix="vmailsql-postfix-e2e-"))
    d.chmod(0o755)
    yield d, root
    if not os.environ.get("VMAILSQL_KEEP_TEST_DIRS"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb(base):
    db = E.MariaDB(base[0] / "mariadb")
    db.start()
    yield db
    db.stop()


@pytest.fixture(scope="session")
def socketmap_binary():
    return P.build_socketmap()


class Site:
    """One vmail-sql site: database, mail root, vmailsql.conf, vmailsql-socketmap, Postfix."""

    def __init__(self, root: Path, db: E.MariaDB, dbname: str, schema: str, postfix_root: Path,
                 binary: Path):
        self.root, self.db, self.dbname, self.schema = root, db, dbname, schema
        self.mail = root / "mail"
        root.mkdir(parents=True)
        root.chmod(0o755)
        X.load_fixture(self)
        self.vmail_conf = E.write_vmailsql_config(
            root / "vmailsql.conf", db.url(dbname, X.DB_USER, X.DB_PASSWORD))
        self.socketmap = P.Socketmap(binary, root, self.vmail_conf, Path("/"), ("--verbose",))
        maps = root / "postfix-maps"
        P.install_virtual_maps(maps, db, dbname, X.DB_USER, X.DB_PASSWORD)
        # The fixture's "mail" user (uid 8) owns a domain: let virtual(8) deliver as it.
        self.postfix = P.PrivatePostfix(postfix_root, root / "postfix",
                                        P.shipped_main_cf(self.socketmap.socket, maps),
                                        {"virtual_minimum_uid": "8"})

    def start(self) -> None:
        self.socketmap.start()
        self.postfix.start()

    def stop(self) -> None:
        self.postfix.stop()
        self.socketmap.stop()

    def mbox(self, domain: str, name: str) -> Path:
        return self.mail / domain / name

    def messages(self, domain: str, name: str, token: str) -> list[mailbox.mboxMessage]:
        return read_mbox(self.mbox(domain, name), token)

    def remote_messages(self, token: str) -> list[mailbox.mboxMessage]:
        return read_mbox(self.postfix.work / "capture" / "remote.mbox", token)

    def wait_done(self, since: int) -> str:
        """Waits until Postfix has removed every message received since log offset `since`
        (or has deferred it); returns that part of the log."""
        deadline = time.monotonic() + 60
        while True:
            log = self.postfix.log()[since:]
            queued = set(re_ids(log, "message-id="))
            finished = set(re_ids(log, "removed")) | set(re_ids(log, "status=deferred"))
            if queued <= finished:
                return log
            if time.monotonic() > deadline:
                raise TimeoutError(f"Postfix did not finish {queued - finished}:\n{log[-4000:]}")
            time.sleep(0.1)


def re_ids(log: str, what: str) -> list[str]:
    import re
    return re.findall(rf"postfix/\S+\[\d+\]: ([0-9A-F]{{6,}}): .*{re.escape(what)}", log)


def read_mbox(path: Path, token: str) -> list[mailbox.mboxMessage]:
    if not path.exists():
        return []
    box = mailbox.mbox(str(path), create=False)
    try:
        return [m for m in box if m.get("Message-ID") == f"<{token}@test.example>"]
    finally:
        box.close()


@pytest.fixture(scope="module", params=["legacy", "recommended"])
def site(request, base, mariadb, socketmap_binary):
    schema = request.param
    s = Site(base[0] / schema, mariadb, f"vmail_{schema}", schema, base[1], socketmap_binary)
    s.start()
    yield s
    s.stop()


def deliver(site: Site, recipients: list[str], token: str) -> tuple[dict, str]:
    """One SMTP message from SENDER; waits for Postfix to finish with it."""
    since = len(site.postfix.log())
    r = P.send(site.postfix.port, SENDER, recipients, token)
    log = site.wait_done(since) if r["data"] else site.postfix.log()[since:]
    return r, log


def code(result: dict, address: str) -> int:
    return result["rcpt"][address][0]


# ---- delivery ----


def test_popbox_delivery_over_smtp(site):
    r, log = deliver(site, ["alice@example.org"], "popbox1")
    assert code(r, "alice@example.org") == 250, r
    assert r["data"][0] == 250, r
    [m] = site.messages("example.org", "alice", "popbox1")
    assert m["Return-Path"] == f"<{SENDER}>"
    assert m["Delivered-To"] == "alice@example.org"
    assert m.get_from().startswith(SENDER), "mbox From_ line carries the envelope sender"
    assert "Body line for popbox1." in m.get_payload()
    st = site.mbox("example.org", "alice").stat()
    assert (st.st_uid, st.st_gid) == E.exim_ids()
    assert "to=<alice@example.org>, relay=virtual" in log and "status=sent" in log, log
    assert "warning" not in log, log


def test_alias_domain_delivers_to_the_real_popbox(site):
    r, log = deliver(site, ["bob@alias.example"], "alias1")
    assert code(r, "bob@alias.example") == 250, r
    [m] = site.messages("example.org", "bob", "alias1")
    assert m["X-Original-To"] == "bob@alias.example"
    assert "to=<bob@example.org>, orig_to=<bob@alias.example>" in log, log
    assert not (site.mail / "alias.example").exists()


def test_forwarder_with_one_target_shadows_the_popbox(site):
    r, _ = deliver(site, ["info@example.org"], "fwd1")
    assert code(r, "info@example.org") == 250, r
    assert len(site.messages("example.org", "alice", "fwd1")) == 1
    # info is also a popbox: the forwarder wins, as in the seed.
    assert site.messages("example.org", "info", "fwd1") == []


def test_forwarder_with_a_list_of_targets(site):
    r, log = deliver(site, ["team@example.org"], "fwdlist")
    assert code(r, "team@example.org") == 250, r
    assert len(site.messages("example.org", "alice", "fwdlist")) == 1
    assert len(site.messages("example.org", "bob", "fwdlist")) == 1  # via the alias domain
    assert len(site.messages("other.example", "dave", "fwdlist")) == 1
    assert len(site.remote_messages("fwdlist")) == 1
    assert "to=<friend@remote.example>, orig_to=<team@example.org>, relay=capture" in log, log


def test_catch_all_only_for_local_parts_that_are_neither_popbox_nor_forwarder(site):
    rcpts = ["random@catch.example", "carol@catch.example", "sales@catch.example"]
    r, log = deliver(site, rcpts, "catch1")
    for a in rcpts:
        assert code(r, a) == 250, r
    [m] = site.messages("example.org", "catchall", "catch1")
    assert m["X-Original-To"] == "random@catch.example"
    assert len(site.messages("catch.example", "carol", "catch1")) == 1
    assert len(site.messages("example.org", "bob", "catch1")) == 1
    assert "to=<catchall@example.org>, orig_to=<carol@catch.example>" not in log, log


def test_unknown_user_without_catch_all_gets_550_at_rcpt(site):
    since = len(site.postfix.log())
    s = P.Session(site.postfix.port)
    s.mail(SENDER)
    for address in ("nobody@other.example", "nobody@example.org", "nobody@alias.example"):
        c, text = s.rcpt(address)
        assert c == 550 and "User unknown" in text, (address, text)
    s.quit()
    log = site.postfix.wait_log(r"(?s)(reject: RCPT.*){3}", since)  # the log is written async
    assert log.count("reject: RCPT") == 3, log
    assert site.postfix.queue() == []


def test_non_local_domain_is_refused_as_relaying(site):
    s = P.Session(site.postfix.port)
    s.mail(SENDER)
    c, text = s.rcpt("someone@remote.example")
    s.quit()
    assert c == 550 and "Relay access denied" in text, text


def test_case_variants_route_like_the_lower_case_address(site):
    r, _ = deliver(site, ["ALICE@EXAMPLE.ORG", "RaNdOm@CATCH.example", "Info@Alias.Example",
                          "Carol@Catch.Example"], "case1")
    assert r["data"][0] == 250, r
    assert len(site.messages("example.org", "alice", "case1")) == 2  # direct, and info's
    assert len(site.messages("example.org", "catchall", "case1")) == 1
    assert len(site.messages("catch.example", "carol", "case1")) == 1
    s = P.Session(site.postfix.port)
    s.mail(SENDER)
    c, text = s.rcpt("NoBody@Other.Example")
    s.quit()
    assert c == 550, text


def test_delivery_as_the_domains_unix_user(site):
    r, _ = deliver(site, ["mo@mailuser.example"], "asuser")
    assert code(r, "mo@mailuser.example") == 250, r
    [m] = site.messages("mailuser.example", "mo", "asuser")
    st = site.mbox("mailuser.example", "mo").stat()
    mail = pwd.getpwnam("mail")
    assert (st.st_uid, st.st_gid) == (mail.pw_uid, mail.pw_gid)


# ---- failures ----


def test_database_down_defers_and_a_later_run_delivers(site):
    pf = site.postfix
    since = len(pf.log())
    # Hold local delivery so that the message waits on the queue while the database stops.
    pf.postconf("-e", "defer_transports=virtual,capture")
    pf.reload()
    r = P.send(pf.port, SENDER, ["alice@example.org", "team@example.org"], "dbdown")
    assert r["data"][0] == 250, r
    [msgid] = pf.queue()
    site.db.stop()
    try:
        # While the database is down a new recipient gets a temporary error, never a 550.
        s = P.Session(pf.port)
        s.mail(SENDER)
        c, text = s.rcpt("bob@example.org")
        s.quit()
        assert 400 <= c < 500, text
        # Delivery attempts with the database down: deferred, never bounced, never lost.
        pf.postconf("-#", "defer_transports")
        pf.reload()
        mark = len(pf.log())
        pf.flush()
        pf.wait_log(rf"{msgid}: to=<alice@example.org>, .*status=deferred", mark)
        pf.wait_log(rf"{msgid}: to=<dave@other.example>.*status=deferred", mark)
        time.sleep(1)
        log = pf.log()[since:]
        assert "status=bounced" not in log, log
        assert pf.queue() == [msgid], "message lost, or a bounce queued"
        assert site.messages("example.org", "alice", "dbdown") == []
        assert "temporarily unavailable" in site.socketmap.log()
    finally:
        site.db.start()
    mark = len(pf.log())
    pf.flush()
    pf.wait_log(rf"{msgid}: removed", mark, timeout=60)
    assert len(site.messages("example.org", "alice", "dbdown")) == 2  # direct, and team's
    assert len(site.messages("other.example", "dave", "dbdown")) == 1
    assert len(site.remote_messages("dbdown")) == 1
    log = pf.log()[since:]
    assert "status=bounced" not in log and "from=<>" not in log, "a bounce was generated"
    assert pf.queue() == []


def test_socketmap_server_down_is_a_temporary_error(site):
    assert site.socketmap.stop() == 0, site.socketmap.log()  # SIGTERM: clean exit
    assert not site.socketmap.socket.exists()
    try:
        s = P.Session(site.postfix.port)
        s.mail(SENDER)
        c, text = s.rcpt("alice@example.org")
        s.quit()
        assert 400 <= c < 500, text
    finally:
        site.socketmap.start()
    # Postfix reconnects by itself (its resolver may answer the same address from its one-entry
    # cache for a moment): the address is accepted again without any restart of Postfix.
    deadline = time.monotonic() + 60
    while True:
        r, _ = deliver(site, ["alice@example.org"], "serverback")
        if r["data"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(site.messages("example.org", "alice", "serverback")) == 1, r


def test_hostile_local_parts_never_escape_and_never_break_sql(site):
    before = E.all_files(site.mail)
    counts = site.db.sql("SELECT (SELECT COUNT(*) FROM popbox), (SELECT COUNT(*) FROM forwarder)",
                         db=site.dbname)
    since = len(site.postfix.log())
    s = P.Session(site.postfix.port)
    s.mail(SENDER)
    accepted = []
    for local in X.HOSTILE:
        for domain in ("example.org", "catch.example"):
            c, text = s.rcpt(f"{local}@{domain}")
            assert c in (250, 501, 550, 553), (local, domain, text)
            if domain == "example.org":
                assert c != 250, (local, text)  # no catch-all: nothing hostile exists there
            elif c == 250:
                accepted.append(f"{local}@{domain}")
    # Refused at catch.example: user%host (Postfix's percent hack makes it mail for host, so
    # relaying, which is refused) and local parts longer than any column.
    refused = {l for l in X.HOSTILE if f"{l}@catch.example" not in accepted}
    assert all("%" in l or len(l) > 255 for l in refused), refused
    c, text = s.data(E.message("hostile", SENDER, "undisclosed-recipients:;"))
    assert c == 250, text
    s.quit()
    log = site.wait_done(since)
    # One copy per accepted address (Postfix keeps each original recipient), all in the
    # catch-all's mailbox.
    got = site.messages("example.org", "catchall", "hostile")
    assert len(got) == len(accepted), (len(got), accepted)
    new = E.all_files(site.mail) - before
    assert all(f.startswith(str(site.mail / "example.org" / "catchall")) for f in new), new
    assert not any((site.mail / "outside").iterdir())
    assert not Path("/tmp/vmailsql-pwned").exists()
    server = site.socketmap.log()
    for needle in ("SQL syntax", "1064", "internal error", "panicked"):
        assert needle not in log + server, needle
    assert "status=bounced" not in log, log
    assert site.db.sql("SELECT (SELECT COUNT(*) FROM popbox), (SELECT COUNT(*) FROM forwarder)",
                       db=site.dbname) == counts


def test_unsafe_stored_data_is_deferred_never_delivered(site):
    pf = site.postfix
    s = P.Session(pf.port)
    s.mail(SENDER)
    for address in ("eve@unsafe.example", "mallory@rootuser.example"):
        c, text = s.rcpt(address)
        assert 400 <= c < 500, (address, text)
    s.quit()
    server = site.socketmap.log()
    assert "mbox_name" in server and "eve" in server, server
    assert "rootuser.example" in server and "root" in server, server
    # Data that turns unsafe after Postfix accepted a message: delivery defers, nothing is
    # written outside the domain, nothing bounces.
    db = lambda sql: site.db.sql(sql, db=site.dbname)  # noqa: E731
    db("UPDATE popbox SET mbox_name = 'eve' WHERE domain_name = 'unsafe.example'")
    since = len(pf.log())
    try:
        pf.postconf("-e", "defer_transports=virtual")
        pf.reload()
        r = P.send(pf.port, SENDER, ["eve@unsafe.example"], "unsafe1")
        assert r["data"] and r["data"][0] == 250, r
    finally:
        db("UPDATE popbox SET mbox_name = '../outside/escaped' "
           "WHERE domain_name = 'unsafe.example'")
        pf.postconf("-#", "defer_transports")
        pf.reload()
    [msgid] = pf.queue()
    mark = len(pf.log())
    pf.flush()
    pf.wait_log(rf"{msgid}: to=<eve@unsafe.example>, relay=virtual.*status=deferred", mark)
    assert not (site.mail / "outside" / "escaped").exists()
    assert not any((site.mail / "outside").iterdir())
    assert not any((site.mail / "unsafe.example").iterdir())
    assert not any((site.mail / "rootuser.example").iterdir())
    log = pf.log()[since:]
    assert "status=bounced" not in log and "status=sent" not in log, log
    assert pf.queue() == [msgid]
    pf.command("postsuper", "-d", "ALL")


def test_shipped_configuration_passes_postfix_check(site):
    out = site.postfix.command("postfix", "check")
    assert out.returncode == 0
    conf = site.postfix.postconf("-n")
    assert "virtual_alias_maps = ${vmailsql_socketmap}:aliases" in conf, conf
    assert "proxy:socketmap:unix:" in conf, conf
