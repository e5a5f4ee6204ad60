"""Dovecot 2.3 authenticates POP3 and IMAP users through libvmailsql (examples/checkpassword.c).

A private Dovecot (`dovecot -F -c <own config>`, passdb checkpassword, userdb prefetch) and a
throw-away MariaDB, both started here once per run. Real clients: Python's poplib and imaplib.
The checkpassword program is also driven directly, with Dovecot's own checkpassword-reply, to
pin the exact reply it gives. A missing Dovecot, MariaDB or gcc fails these tests with the
`apt-get install` line to run; nothing is skipped.

Run: python3 -m pytest tests/e2e/test_dovecot.py   (as root: Dovecot and mariadbd start here)
"""

from __future__ import annotations

import imaplib
import os
import poplib
import subprocess
import tempfile
from pathlib import Path

import pytest

import dovecotlib as dl

PASSWORDS = {
    "alice": "alice-s3cret",
    "bob": "b0b-passw0rd",
}
CAROL_CLEAR = "tanstaaf"  # {plaintext}: the only kind of popbox that can use APOP
DAVE_CLEAR = "secret"  # stored as legacy {md5} hex, upgraded on login
DAVE_MD5 = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69"
MESSAGE_ID = "<vmailsql-e2e-1@elsewhere.example>"


@pytest.fixture(scope="module")
def site():
    """Everything once per module: MariaDB, library, checkpassword, mailboxes, Dovecot."""
    dl.require_dovecot()
    if os.geteuid() != 0:
        raise dl.Missing("the Dovecot tests start Dovecot and mariadbd: run them as root")
    uid, gid = dl.mail_user()
    tmp = tempfile.TemporaryDirectory(prefix="vmailsql-dovecot-")
    base = Path(tmp.name)
    os.chmod(base, 0o755)
    db = dl.MariaDB(base / "mysql")
    db.start()
    state = {"db": db, "dovecot": None, "tmp": tmp}
    try:
        db.sql("CREATE DATABASE vmail")
        libdir = base / "lib"
        so = dl.build_library(libdir)
        checkpassword = dl.build_checkpassword(libdir, base / "checkpassword")

        config = base / "vmailsql.conf"
        config.write_text(f"database = {db.url('vmail')}\nupgrade_on_login = yes\n")
        os.chmod(config, 0o644)  # no password in it; the dovecot user must read it

        domain_path = base / "mail" / "example.org"
        domain_path.mkdir(parents=True)
        os.chmod(base / "mail", 0o755)
        os.chown(domain_path, uid, gid)
        os.chmod(domain_path, 0o700)
        # A domain whose path holds a ':' (Dovecot's location separator, doubled in userdb_mail).
        odd_path = base / "mail" / "odd:domain.example"
        odd_path.mkdir()
        os.chown(odd_path, uid, gid)

        api = dl.Vmailsql(so, db.url("vmail"))
        api.create_schema()
        api.add_domain("example.org", str(domain_path), dl.MAIL_USER)
        api.add_domain("odd.example", str(odd_path), str(uid))
        api.add_popbox("example.org", "alice", PASSWORDS["alice"])
        api.add_popbox("example.org", "bob", PASSWORDS["bob"], "bob.mbox")
        api.add_popbox_record("example.org", "carol", "{plaintext}" + CAROL_CLEAR)
        api.add_popbox_record("example.org", "dave", DAVE_MD5)
        api.add_popbox("odd.example", "olga", "olga-passw0rd")

        dl.write_mbox(domain_path / "alice", [(MESSAGE_ID, "hello alice", "First message.")],
                      uid, gid)
        dl.write_mbox(domain_path / "bob.mbox",
                      [("<b1@elsewhere.example>", "one", "1"),
                       ("<b2@elsewhere.example>", "two", "2")], uid, gid)
        for name in ("carol", "dave"):
            dl.write_mbox(domain_path / name,
                          [(f"<{name}@elsewhere.example>", f"for {name}", "hi")], uid, gid)
        dl.write_mbox(odd_path / "olga", [("<olga@elsewhere.example>", "odd", "hi")], uid, gid)

        dovecot = dl.Dovecot(base / "dovecot", checkpassword, config, uid)
        dovecot.start()
        state.update(dovecot=dovecot, api=api, base=base, config=config, uid=uid, gid=gid,
                     checkpassword=checkpassword, domain_path=domain_path, odd_path=odd_path)
        yield state
    finally:
        if state["dovecot"] is not None:
            state["dovecot"].stop()
        if "api" in state:
            state["api"].close()
        db.stop()
        tmp.cleanup()


def pop3(site) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", site["dovecot"].pop3_port, timeout=20)


def login_error(site, user: str, password: str) -> str:
    client = pop3(site)
    try:
        client.user(user)
        with pytest.raises(poplib.error_proto) as failure:
            client.pass_(password)
        return failure.value.args[0].decode()
    finally:
        client.close()


# ---- through the real Dovecot ----


def test_pop3_stat_retr_dele_and_a_new_session_no_longer_sees_it(site):
    client = pop3(site)
    client.user("alice@example.org")
    assert client.pass_(PASSWORDS["alice"]).startswith(b"+OK")
    count, _size = client.stat()
    assert count == 1
    _resp, lines, _octets = client.retr(1)
    headers = [line.decode() for line in lines]
    assert f"Message-ID: {MESSAGE_ID}" in headers
    assert "Subject: hello alice" in headers
    assert client.dele(1).startswith(b"+OK")
    assert client.quit().startswith(b"+OK")

    again = pop3(site)
    again.user("alice@example.org")
    again.pass_(PASSWORDS["alice"])
    assert again.stat()[0] == 0
    again.quit()


def test_login_name_is_case_insensitive(site):
    for login in ("BOB@Example.ORG", "bob@EXAMPLE.org"):
        client = pop3(site)
        client.user(login)
        assert client.pass_(PASSWORDS["bob"]).startswith(b"+OK"), login
        assert client.stat()[0] == 2
        client.quit()


def test_wrong_password_is_rejected(site):
    message = login_error(site, "alice@example.org", "not-the-password")
    assert "[AUTH]" in message and "TEMP" not in message, message


def test_unknown_user_is_rejected(site):
    message = login_error(site, "mallory@example.org", PASSWORDS["alice"])
    assert "[AUTH]" in message and "TEMP" not in message, message
    message = login_error(site, "alice@unknown.example", PASSWORDS["alice"])
    assert "[AUTH]" in message, message


def test_apop_works_for_a_plaintext_popbox_only(site):
    client = pop3(site)
    assert b"<" in client.getwelcome(), "Dovecot offers no APOP timestamp"
    assert client.apop("carol@example.org", CAROL_CLEAR).startswith(b"+OK")
    assert client.stat()[0] == 1
    client.quit()

    client = pop3(site)
    with pytest.raises(poplib.error_proto):
        client.apop("carol@example.org", "wrong")
    client.close()
    # A hashed popbox has no cleartext to compute APOP from (tpop3d behaved the same).
    client = pop3(site)
    with pytest.raises(poplib.error_proto):
        client.apop("alice@example.org", PASSWORDS["alice"])
    client.close()


def test_imap_login_and_select(site):
    imap = imaplib.IMAP4("127.0.0.1", site["dovecot"].imap_port, timeout=20)
    try:
        status, _ = imap.login("bob@example.org", PASSWORDS["bob"])
        assert status == "OK"
        status, data = imap.select("INBOX", readonly=True)
        assert status == "OK" and data[0] == b"2"
        status, data = imap.fetch("2", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert status == "OK" and b"<b2@elsewhere.example>" in data[0][1]
    finally:
        imap.logout()
    imap = imaplib.IMAP4("127.0.0.1", site["dovecot"].imap_port, timeout=20)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login("bob@example.org", "wrong")
    finally:
        imap.logout()


def test_mailbox_path_with_a_colon_is_escaped_for_dovecot(site):
    client = pop3(site)
    client.user("olga@odd.example")
    assert client.pass_("olga-passw0rd").startswith(b"+OK")
    _resp, lines, _ = client.retr(1)
    assert b"Message-ID: <olga@elsewhere.example>" in lines
    client.quit()


def test_upgrade_on_login_rewrites_a_legacy_md5_hash(site):
    api = site["api"]
    assert api.stored_hash("example.org", "dave") == DAVE_MD5
    message = login_error(site, "dave@example.org", "Secret")
    assert "[AUTH]" in message
    assert api.stored_hash("example.org", "dave") == DAVE_MD5  # a failure changes nothing

    client = pop3(site)
    client.user("dave@example.org")
    assert client.pass_(DAVE_CLEAR).startswith(b"+OK")
    client.quit()
    upgraded = api.stored_hash("example.org", "dave")
    assert upgraded.startswith("{crypt}$6$"), upgraded

    client = pop3(site)
    client.user("dave@example.org")
    assert client.pass_(DAVE_CLEAR).startswith(b"+OK")
    assert client.stat()[0] == 1
    client.quit()
    assert api.stored_hash("example.org", "dave") == upgraded


# ---- the checkpassword program on its own, with Dovecot's checkpassword-reply ----


def checkpassword(site, user: str | bytes, password: str = "", env: dict | None = None,
                  config: Path | None = None) -> tuple[int, dict[str, str], str]:
    """Runs the program as Dovecot does: request on fd 3, checkpassword-reply's answer on fd 4.
    Returns (exit status, reply fields, stderr)."""
    reply = site["base"] / "reply.out"
    reply.write_bytes(b"")
    # Dovecot passes ORIG_UID; checkpassword-reply refuses to run without it.
    environment = {"PATH": "/usr/bin:/bin", "VMAILSQL_CONFIG": str(config or site["config"]),
                   "ORIG_UID": str(os.getuid())}
    environment.update(env or {})
    proc = subprocess.run(
        ["sh", "-c", f'exec "$@" 3<&0 0</dev/null 4>"{reply}"', "sh",
         str(site["checkpassword"]), str(dl.DOVECOT_LIBEXEC / "checkpassword-reply")],
        input=(user if isinstance(user, bytes) else user.encode()) + b"\0"
        + password.encode() + b"\0\0",
        env=environment, capture_output=True, timeout=60,
    )
    fields = {}
    for item in reply.read_text().split("\t"):
        if item:
            key, _, value = item.partition("=")
            fields[key] = value
    return proc.returncode, fields, proc.stderr.decode(errors="replace")


def test_checkpassword_success_reply(site):
    status, fields, err = checkpassword(site, "Alice@Example.org", PASSWORDS["alice"])
    assert status == 0, err
    path = site["domain_path"]
    assert fields == {
        "user": "alice@example.org",
        "userdb_home": str(path),
        "userdb_uid": str(site["uid"]),
        "userdb_gid": str(site["gid"]),
        "userdb_mail": f"mbox:{path}:INBOX={path}/alice:INDEX=MEMORY",
    }


def test_checkpassword_escapes_colons_in_paths(site):
    status, fields, _ = checkpassword(site, "olga@odd.example", "olga-passw0rd")
    assert status == 0
    odd = str(site["odd_path"]).replace(":", "::")
    assert fields["userdb_mail"] == f"mbox:{odd}:INBOX={odd}/olga:INDEX=MEMORY"
    # A numeric unix_user is used as is.
    assert fields["userdb_uid"] == str(site["uid"])


def test_checkpassword_rejections_exit_1(site):
    for user, password in (
        ("alice@example.org", "wrong"),
        ("mallory@example.org", "x"),
        ("alice", PASSWORDS["alice"]),
        (b"caf\xe9@example.org", "x"),  # not UTF-8
    ):
        status, fields, _ = checkpassword(site, user, password)
        assert (status, fields) == (1, {}), user


def test_checkpassword_accepts_tpop3d_separators(site):
    # Dovecot's default auth_username_chars refuses '%'; other front ends may pass it.
    status, fields, _ = checkpassword(site, "bob%example.org", PASSWORDS["bob"])
    assert status == 0 and fields["user"] == "bob@example.org"


def test_checkpassword_userdb_lookup(site):
    status, fields, _ = checkpassword(site, "bob@example.org", env={"AUTHORIZED": "1"})
    assert status == 2  # checkpassword-reply's "found" for AUTHORIZED=2
    assert fields["userdb_mail"].endswith(f"INBOX={site['domain_path']}/bob.mbox:INDEX=MEMORY")
    status, fields, _ = checkpassword(site, "nobody@example.org", env={"AUTHORIZED": "1"})
    assert (status, fields) == (3, {})


def test_checkpassword_credentials_lookup_for_apop(site):
    env = {"AUTHORIZED": "1", "CREDENTIALS_LOOKUP": "1", "SCHEME": "PLAIN"}
    status, fields, _ = checkpassword(site, "carol@example.org", env=env)
    assert status == 2
    assert fields["password"] == "{PLAIN}" + CAROL_CLEAR
    assert fields["user"] == "carol@example.org"
    # Hashed popboxes have no cleartext; unknown users neither.
    for user in ("alice@example.org", "nobody@example.org"):
        status, fields, _ = checkpassword(site, user, env=env)
        assert (status, fields) == (3, {}), user


def test_checkpassword_missing_config_is_temporary(site):
    status, fields, err = checkpassword(site, "alice@example.org", PASSWORDS["alice"],
                                        config=site["base"] / "missing.conf")
    assert (status, fields) == (111, {})
    assert "missing.conf" in err


# ---- last: the database goes away ----


def test_database_down_is_a_temporary_failure_not_a_wrong_password(site):
    db = site["db"]
    db.stop()
    try:
        status, fields, err = checkpassword(site, "alice@example.org", PASSWORDS["alice"])
        assert (status, fields) == (111, {}), err
        status, _, _ = checkpassword(site, "nobody@example.org", "x")
        assert status == 111
        status, _, _ = checkpassword(site, "bob@example.org", env={"AUTHORIZED": "1"})
        assert status == 111

        for user, password in (("alice@example.org", PASSWORDS["alice"]),
                               ("alice@example.org", "wrong")):
            message = login_error(site, user, password)
            assert "[SYS/TEMP]" in message, message
            assert "[AUTH]" not in message, message
    finally:
        db.start()
    # And once it is back, logins work again.
    client = pop3(site)
    client.user("bob@example.org")
    assert client.pass_(PASSWORDS["bob"]).startswith(b"+OK")
    client.quit()
