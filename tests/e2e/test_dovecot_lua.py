"""Dovecot 2.3 and 2.4 authenticate through libvmailsql in-process: dovecot/vmailsql.lua on
the `vmailsql` Lua module (lua/vmailsql.c), as `make install` installs them.

Each test runs against both real Dovecots: Debian 12's 2.3 (dovecot-auth-lua) on this machine
and Debian 13's 2.4 in a trixie root that tests/dovecot/trixie-root.sh builds with debootstrap
and caches under /var/cache/vmailsql-tests/ (VMAILSQL_TRIXIE_ROOT overrides), the library and
module built inside it. One throw-away MariaDB per Dovecot. Real clients: poplib, imaplib. A
missing Dovecot, Lua plugin, debootstrap, MariaDB or gcc fails with what to install.

Run: python3 -m pytest tests/e2e/test_dovecot_lua.py   (as root)
"""

from __future__ import annotations

import imaplib
import os
import subprocess
import poplib
import tempfile
from pathlib import Path

import pytest

import dovecotlib as dl
import dovecotlua as dv

PASSWORDS = {"alice": "alice-s3cret", "bob": "b0b-secret", "eve": "eve-secret", "rooty": "rooty-secret"}
CAROL_CLEAR = "tanstaaf"  # {plaintext}: the only kind of popbox that can use APOP
DAVE_CLEAR = "secret"  # stored as legacy {md5} hex, upgraded on login
DAVE_MD5 = "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69"
MESSAGE_ID = "<vmailsql-lua-1@elsewhere.example>"


def build_site(flavour: dv.Flavour, work: tempfile.TemporaryDirectory, so: Path) -> dict:
    """MariaDB, the vmailsql configuration, domains, popboxes, mboxes and Dovecot for one
    flavour. `so` is a host build of the library for the tests' own administration calls."""
    base = Path(work.name)
    name, uid, gid = flavour.mail_user()
    db = dl.MariaDB(base / "mysql")
    db.start()
    state = {"db": db, "dovecot": None, "flavour": flavour, "uid": uid, "gid": gid}
    try:
        db.sql("CREATE DATABASE vmail")
        config = base / "vmailsql.conf"
        inner_socket = flavour.inside(db.socket)
        config.write_text(
            f"database = mysql://root@localhost/vmail?socket={inner_socket}\n"
            "upgrade_on_login = yes\n"
        )
        os.chmod(config, 0o644)  # no password in it
        mail = base / "mail"
        domain_path = mail / "example.org"
        bad_path = mail / "bad.example"
        for d in (domain_path, bad_path):
            d.mkdir(parents=True)
            os.chown(d, uid, gid)
            os.chmod(d, 0o700)
        os.chmod(mail, 0o755)
        api = dl.Vmailsql(so, db.url("vmail"))
        state["api"] = api
        api.create_schema()
        api.add_domain("example.org", flavour.inside(domain_path), name)
        api.add_domain("bad.example", flavour.inside(bad_path), name)
        api.add_popbox("example.org", "alice", PASSWORDS["alice"])
        api.add_popbox("example.org", "bob", PASSWORDS["bob"], "bob.mbox")
        api.add_popbox_record("example.org", "carol", "{plaintext}" + CAROL_CLEAR)
        api.add_popbox_record("example.org", "dave", DAVE_MD5)
        api.add_popbox("bad.example", "eve", PASSWORDS["eve"])
        # Unsafe stored data, written behind the library's back as another tool could: a
        # mailbox escaping domain.path, and a domain owned by root.
        db.sql("UPDATE vmail.popbox SET mbox_name = '../../etc/passwd' "
               "WHERE local_part = 'eve'")
        api.add_domain("rooted.example", flavour.inside(bad_path), name)
        api.add_popbox("rooted.example", "rooty", PASSWORDS["rooty"])
        db.sql("UPDATE vmail.domain SET unix_user = 'root' WHERE domain_name = 'rooted.example'")

        dl.write_mbox(domain_path / "alice", [(MESSAGE_ID, "hello alice", "First.")], uid, gid)
        dl.write_mbox(domain_path / "bob.mbox", [("<b1@elsewhere.example>", "one", "1"),
                                                 ("<b2@elsewhere.example>", "two", "2")],
                      uid, gid)
        for who in ("carol", "dave"):
            dl.write_mbox(domain_path / who, [(f"<{who}@elsewhere.example>", who, "hi")],
                          uid, gid)
        dovecot = dv.Dovecot(flavour, base / "dovecot", config, uid)
        dovecot.start()
        state.update(dovecot=dovecot, config=config, domain_path=domain_path)
        return state
    except BaseException:
        teardown(state)
        raise


def teardown(state: dict) -> None:
    if state.get("dovecot") is not None:
        state["dovecot"].stop()
    if "api" in state:
        state["api"].close()
    state["db"].stop()


@pytest.fixture(scope="module")
def host_build():
    """The host's build of the library, staged `make install`, and the 2.3 flavour."""
    if os.geteuid() != 0:
        raise dl.Missing("the Dovecot tests start Dovecot and mariadbd: run them as root")
    work = tempfile.TemporaryDirectory(prefix="vmailsql-lua-build-")
    os.chmod(work.name, 0o755)
    try:
        yield dv.Host23(Path(work.name))
    finally:
        work.cleanup()


@pytest.fixture(scope="module", params=["2.3", "2.4"])
def site(request, host_build):
    flavour = host_build if request.param == "2.3" else dv.Chroot24()
    work = flavour.private_dir()
    state = build_site(flavour, work, host_build.so)
    try:
        yield state
    finally:
        teardown(state)
        work.cleanup()


def pop3(site) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", site["dovecot"].pop3_port, timeout=30)


def imap(site) -> imaplib.IMAP4:
    return imaplib.IMAP4("127.0.0.1", site["dovecot"].imap_port, timeout=30)


def pop3_login_error(site, user: str, password: str) -> str:
    client = pop3(site)
    try:
        client.user(user)
        with pytest.raises(poplib.error_proto) as failure:
            client.pass_(password)
        return failure.value.args[0].decode()
    finally:
        client.close()


def imap_login_error(site, user: str, password: str) -> str:
    client = imap(site)
    try:
        with pytest.raises(imaplib.IMAP4.error) as failure:
            client.login(user, password)
        return str(failure.value)
    finally:
        client.shutdown()


def test_pop3_user_pass_and_retr(site):
    client = pop3(site)
    client.user("alice@example.org")
    assert client.pass_(PASSWORDS["alice"]).startswith(b"+OK")
    assert client.stat()[0] == 1
    _resp, lines, _ = client.retr(1)
    assert f"Message-ID: {MESSAGE_ID}".encode() in lines
    assert b"Subject: hello alice" in lines
    client.quit()


def test_imap_login_and_fetch(site):
    client = imap(site)
    try:
        assert client.login("bob@example.org", PASSWORDS["bob"])[0] == "OK"
        status, data = client.select("INBOX", readonly=True)
        assert status == "OK" and data[0] == b"2"
        status, data = client.fetch("2", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert status == "OK" and b"<b2@elsewhere.example>" in data[0][1]
    finally:
        client.logout()


def test_apop_for_a_plaintext_popbox_only(site):
    client = pop3(site)
    assert b"<" in client.getwelcome(), "Dovecot offers no APOP timestamp"
    assert client.apop("carol@example.org", CAROL_CLEAR).startswith(b"+OK")
    _resp, lines, _ = client.retr(1)
    assert b"Message-ID: <carol@elsewhere.example>" in lines
    client.quit()
    for user, password in (("carol@example.org", "wrong"), ("alice@example.org",
                                                            PASSWORDS["alice"])):
        client = pop3(site)
        with pytest.raises(poplib.error_proto) as failure:
            client.apop(user, password)
        assert b"[AUTH]" in failure.value.args[0], (user, failure.value,
                                                    site["dovecot"].log_text()[-1500:])
        client.close()


def test_wrong_password_and_unknown_user_are_rejected(site):
    for user, password in (("alice@example.org", "not-the-password"),
                           ("mallory@example.org", PASSWORDS["alice"]),
                           ("alice@unknown.example", PASSWORDS["alice"])):
        message = pop3_login_error(site, user, password)
        assert "[AUTH]" in message and "TEMP" not in message, (user, message)
        message = imap_login_error(site, user, password)
        assert "AUTHENTICATIONFAILED" in message and "UNAVAILABLE" not in message, message


@pytest.mark.parametrize("separator", ["@", "%", "!", ":"])
def test_each_login_separator(site, separator):
    login = f"Bob{separator}Example.org"
    client = pop3(site)
    client.user(login)
    assert client.pass_(PASSWORDS["bob"]).startswith(b"+OK"), login
    assert client.stat()[0] == 2
    client.quit()
    client = imap(site)
    try:
        assert client.login(login, PASSWORDS["bob"])[0] == "OK", login
        assert client.select("INBOX", readonly=True)[1][0] == b"2"
    finally:
        client.logout()


def test_userdb_iterate_lists_every_popbox(site):
    proc = site["dovecot"].doveadm("user", "*")
    assert proc.returncode == 0, proc.stderr + site["dovecot"].log_text()[-3000:]
    users = set(proc.stdout.split())
    assert {"alice@example.org", "bob@example.org", "carol@example.org",
            "dave@example.org", "eve@bad.example", "rooty@rooted.example"} <= users, users


def test_userdb_lookup_gives_the_popbox_owner_and_mbox(site):
    proc = site["dovecot"].doveadm("user", "bob@example.org")
    assert proc.returncode == 0, proc.stderr
    fields = dict(line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)
    assert (fields["uid"], fields["gid"]) == (str(site["uid"]), str(site["gid"])), fields
    inside = site["flavour"].inside(site["domain_path"])
    assert fields["home"] == inside, fields
    if site["flavour"].version == "2.3":
        assert fields["mail"] == f"mbox:{inside}:INBOX={inside}/bob.mbox:INDEX=MEMORY", fields
    else:
        assert fields["mail_inbox_path"] == f"{inside}/bob.mbox", fields
    proc = site["dovecot"].doveadm("user", "nobody@example.org")
    assert proc.returncode == 67, (proc.returncode, proc.stdout, proc.stderr)  # EX_NOUSER
    assert "doesn't exist" in proc.stdout, proc.stdout


def test_legacy_md5_is_upgraded_on_login(site):
    api = site["api"]
    assert api.stored_hash("example.org", "dave") == DAVE_MD5
    assert "[AUTH]" in pop3_login_error(site, "dave@example.org", "Secret")
    assert api.stored_hash("example.org", "dave") == DAVE_MD5  # a failure changes nothing
    client = pop3(site)
    client.user("dave@example.org")
    assert client.pass_(DAVE_CLEAR).startswith(b"+OK")
    client.quit()
    upgraded = api.stored_hash("example.org", "dave")
    assert upgraded.startswith("{crypt}$6$"), upgraded
    client = imap(site)
    try:
        assert client.login("dave@example.org", DAVE_CLEAR)[0] == "OK"
    finally:
        client.logout()
    assert api.stored_hash("example.org", "dave") == upgraded


def test_unsafe_stored_data_is_a_temporary_failure(site):
    for user in ("eve@bad.example", "rooty@rooted.example"):
        password = PASSWORDS[user.split("@")[0]]
        message = pop3_login_error(site, user, password)
        assert "[SYS/TEMP]" in message and "[AUTH]" not in message, (user, message)
        message = imap_login_error(site, user, password)
        assert "UNAVAILABLE" in message and "AUTHENTICATIONFAILED" not in message, message
    log = site["dovecot"].log_text()
    assert "vmailsql: temporary failure for eve@bad.example" in log, log[-3000:]


def test_database_down_is_a_temporary_failure(site):
    """Last in the module: the database goes away, every login says "try later", and once it
    is back logins work again."""
    db = site["db"]
    db.stop()
    try:
        for user, password in (("alice@example.org", PASSWORDS["alice"]),
                               ("alice@example.org", "wrong"),
                               ("nobody@example.org", "x")):
            message = pop3_login_error(site, user, password)
            assert "[SYS/TEMP]" in message and "[AUTH]" not in message, (user, message)
            message = imap_login_error(site, user, password)
            assert "UNAVAILABLE" in message and "AUTHENTICATIONFAILED" not in message, message
        client = pop3(site)
        with pytest.raises(poplib.error_proto) as failure:
            client.apop("carol@example.org", CAROL_CLEAR)
        assert b"[SYS/TEMP]" in failure.value.args[0], failure.value
        client.close()
    finally:
        db.start()
    client = pop3(site)
    client.user("bob@example.org")
    assert client.pass_(PASSWORDS["bob"]).startswith(b"+OK")
    client.quit()


def test_readme_lua_example_runs(host_build, tmp_path):
    """The README's Lua example, as written, with lua5.4 and the staged module."""
    lua = dl.find_program("lua5.4", "apt-get install lua5.4")
    readme = (dl.REPO / "README.md").read_text()
    example = readme.split("```lua\n", 1)[1].split("```", 1)[0]
    uid, gid = dl.mail_user()
    db = tmp_path / "vmail.db"
    api = dl.Vmailsql(host_build.so, f"sqlite://{db}")
    try:
        api.create_schema()
        api.add_domain("example.org", "/var/mail/example.org", dl.MAIL_USER)
        api.add_popbox("example.org", "alice", "alice-secret")
    finally:
        api.close()
    config = tmp_path / "vmailsql.conf"
    config.write_text(f"database = sqlite://{db}\n")
    env = {"PATH": "/usr/bin:/bin", "VMAILSQL_CONFIG": str(config),
           "LUA_CPATH_5_4": f"{host_build.cmoddir}/?.so", "LD_LIBRARY_PATH": str(host_build.libdir)}
    proc = subprocess.run([lua, "-"], input=example, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"alice@example.org\t{uid}\t{gid}\t/var/mail/example.org/alice\n"
    # The other branches: a wrong password, and a database that cannot be opened.
    wrong = example.replace('"alice-secret"', '"wrong"')
    proc = subprocess.run([lua, "-"], input=wrong, env=env, capture_output=True, text=True)
    assert proc.stdout == "wrong password or unknown user\n", proc.stderr
    config.write_text("database = sqlite:///nonexistent-dir/vmail.db\n")
    proc = subprocess.run([lua, "-"], input=example, env=env, capture_output=True, text=True)
    assert proc.stdout.startswith("try again later: "), (proc.stdout, proc.stderr)


LUA_API_CHECKS = r"""
local vmailsql = require "vmailsql"
local h = assert(vmailsql.open(os.getenv("VMAILSQL_CONFIG")))
for _ = 1, 3 do
  local box = assert(h:authenticate("Alice!Example.org", "alice-secret"))
  assert(box.user == "alice@example.org" and box.mbox_path == "/var/mail/example.org/alice")
  assert(box.domain_path == "/var/mail/example.org" and box.unix_user == arg[1])
  assert(box.uid == tonumber(arg[2]) and box.gid == tonumber(arg[3]))
  local none, kind = h:authenticate("alice@example.org", "wrong")
  assert(none == nil and kind == "auth_failed" and vmailsql.rejected(kind))
  assert(select(2, h:authenticate("alice@example.org", "sec\0ret")) == "invalid_input")
  assert(h:lookup("alice@example.org").user == "alice@example.org")
  assert(select(2, h:lookup("nobody@example.org")) == "not_found")
  assert(select(2, h:lookup("a\0b")) == "invalid_input")
  local carol, clear = h:plaintext_credentials("carol@example.org")
  assert(carol.user == "carol@example.org" and clear == "tanstaaf")
  assert(select(2, h:plaintext_credentials("alice@example.org")) == "auth_failed")
  local users = h:popboxes()
  table.sort(users)
  assert(#users == 2 and users[1] == "alice@example.org" and users[2] == "carol@example.org")
end
local none, message, kind = vmailsql.open("/nonexistent/vmailsql.conf")
assert(none == nil and kind == "not_found" and message:find("/nonexistent", 1, true))
assert(not vmailsql.rejected("temporary") and not vmailsql.rejected("internal"))
local dropped = vmailsql.open(os.getenv("VMAILSQL_CONFIG"))  -- freed by the collector
dropped = nil
collectgarbage()
h:close()
h:close()  -- a second close does nothing
assert(not pcall(h.lookup, h, "alice@example.org"))  -- a closed handle is an error
assert(vmailsql.version() == "0.1.0" or vmailsql.version():match("^%d+%.%d+%.%d+"))
print("lua api ok")
"""


def test_lua_module_api_under_valgrind(host_build, tmp_path):
    """Every function of the Lua module, success and failure, under valgrind: no memory
    errors, no definite leaks."""
    lua = dl.find_program("lua5.4", "apt-get install lua5.4")
    valgrind = dl.find_program("valgrind", "apt-get install valgrind")
    uid, gid = dl.mail_user()
    db = tmp_path / "vmail.db"
    api = dl.Vmailsql(host_build.so, f"sqlite://{db}")
    try:
        api.create_schema()
        api.add_domain("example.org", "/var/mail/example.org", dl.MAIL_USER)
        api.add_popbox("example.org", "alice", "alice-secret")
        api.add_popbox_record("example.org", "carol", "{plaintext}tanstaaf")
    finally:
        api.close()
    config = tmp_path / "vmailsql.conf"
    config.write_text(f"database = sqlite://{db}\n")
    script = tmp_path / "checks.lua"
    script.write_text(LUA_API_CHECKS)
    env = {"PATH": "/usr/bin:/bin", "VMAILSQL_CONFIG": str(config),
           "LUA_CPATH_5_4": f"{host_build.cmoddir}/?.so", "LD_LIBRARY_PATH": str(host_build.libdir)}
    proc = subprocess.run(
        [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
         "--errors-for-leak-kinds=definite", lua, str(script), dl.MAIL_USER, str(uid), str(gid)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "lua api ok\n", proc.stdout + proc.stderr
