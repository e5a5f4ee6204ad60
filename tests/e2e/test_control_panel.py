"""The Domain Control Panel (cgi/login) and passwd_popbox (cgi/passwd_popbox), end to end.

A private lighttpd with mod_cgi serves the pages on 127.0.0.1; headless Chromium drives them
through chromedriver (W3C WebDriver); the vmailsql library, through its Perl module, prepares
data and checks every effect (authentication, resolution). Needs Debian's lighttpd, chromium and
chromium-driver, and the Perl bindings built in perl/blib; a missing one fails, nothing skips.

Screenshots of every page (desktop and phone widths) go to $VMAILSQL_SCREENSHOT_DIR, default
target/screenshots/control-panel; docs/screenshots/ holds a committed copy.
"""

import os
import re
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from cpanel_helpers import REPO, ChromeDriver, Library, Site, WebDriver, request, require, run_cgi

DESKTOP = (1280, 900)
PHONE = (390, 844)
LOGIN = "/vmail/login"
PASSWD = "/vmail/passwd_popbox"
SESSION_COOKIE = "vmailsql_session"
FAIL_DELAY = 2  # VmailCGI's $FAIL_DELAY

# Every password these tests type; none may ever show up in a URL or a log.
PASSWORDS = set()


def pw(text):
    PASSWORDS.add(text)
    return text


# ---------------------------------------------------------------------------------------------
# fixtures

class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require("lighttpd", "lighttpd")
    require("perl", "perl")
    tmp = tmp_path_factory.mktemp("cpanel")
    e = Env()
    e.tmp = tmp
    e.db = tmp / "vmail.db"
    e.config = tmp / "vmailsql.conf"
    e.config.write_text(f"# control panel tests\ndatabase = sqlite://{e.db}\nsession_lifetime = 1800\n")
    e.config.chmod(0o640)
    e.lib = Library(e.config)
    e.lib("create_schema")
    e.site = Site(tmp, e.config)
    yield e
    e.site.close()


@pytest.fixture(scope="module")
def chromedriver(tmp_path_factory):
    driver = ChromeDriver(tmp_path_factory.mktemp("chromedriver"))
    yield driver
    driver.close()


@pytest.fixture
def browser(chromedriver, tmp_path):
    """A factory of fresh headless Chromium sessions (own profiles), closed after the test."""
    opened = []

    def open_browser(size=DESKTOP):
        profile = tmp_path / f"profile{len(opened)}"
        profile.mkdir()
        b = WebDriver(chromedriver, profile, *size)
        b.set_size(*size)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.quit()


@pytest.fixture(scope="module")
def shots():
    path = Path(os.environ.get("VMAILSQL_SCREENSHOT_DIR") or REPO / "target" / "screenshots" / "control-panel")
    path.mkdir(parents=True, exist_ok=True)
    return path


def add_domain(e, name, password, max_popbox=None, aliases=(), secret=True):
    """A domain; its password joins PASSWORDS unless a test puts it in a URL on purpose."""
    args = ["name", name, "path", f"/var/mail/vhosts/{name}", "unix_user", "vmail",
            "password", pw(password) if secret else password]
    if max_popbox is not None:
        args += ["max_popbox", max_popbox]
    e.lib("add_domain", *args)
    for alias in aliases:
        e.lib("add_alias", alias, name)


# ---------------------------------------------------------------------------------------------
# page helpers

def button(action):
    """The submit button of the form that posts `action`."""
    return f'form:has(input[name="action"][value="{action}"]) button[type="submit"]'


def notices(b):
    return [b.text(el) for el in b.find_all(".notice")]


def heading(b):
    return b.text("h1")


def sign_in(b, e, domain, password):
    b.get(e.site.url(LOGIN))
    assert heading(b) == "Sign in"
    b.submit("main button[type=submit]", {"#domain": domain, "#password": password})


def nav(b, label):
    """Follows a link of the control panel's navigation."""
    for link in b.find_all("nav a"):
        if b.text(link) == label:
            before = b.script("return window.performance.timeOrigin;")
            b.click(link)
            b.wait_new_page(before)
            return
    raise AssertionError(f"no navigation link {label!r}")


def follow(b, text):
    """Clicks the link whose visible text starts with `text` (hidden screen-reader text aside)."""
    for link in b.find_all("main a"):
        if b.text(link).startswith(text):
            before = b.script("return window.performance.timeOrigin;")
            b.click(link)
            b.wait_new_page(before)
            return
    raise AssertionError(f"no link starting {text!r} on {b.url}")


def row_texts(b):
    return [b.text(row) for row in b.find_all("table.list tbody tr")]


def session_cookie(b):
    found = [c for c in b.cookies() if c["name"] == SESSION_COOKIE]
    return found[0] if found else None


def csrf_of(b):
    return b.attr('input[name="csrf"]', "value")


def session_count(e, domain):
    with sqlite3.connect(e.db) as con:
        return con.execute("SELECT COUNT(*) FROM web_session WHERE domain_name = ?", (domain,)).fetchone()[0]


def forged(e, fields, cookie, **headers):
    """A POST to the control panel from outside the browser, with a stolen session cookie."""
    hdrs = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    hdrs.update(headers)
    return request(e.site.url(LOGIN), "POST", fields, hdrs)


def signin_by_http(e, domain, password, url_password=False):
    """Signs in without a browser: GET the form (form cookie + token), then POST it."""
    first = request(e.site.url(LOGIN))
    cookie = first.header("Set-Cookie").split(";")[0]
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', first.body).group(1)
    fields = {"action": "signin", "form_token": token, "domain": domain, "password": password}
    started = time.monotonic()
    if url_password:
        answer = request(e.site.url(LOGIN) + "?" + urllib.parse.urlencode(fields), "GET",
                         headers={"Cookie": cookie})
    else:
        answer = request(e.site.url(LOGIN), "POST", fields,
                         {"Cookie": cookie, "Origin": e.site.base})
    return answer, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# scenarios

def test_sign_in_add_popbox_and_it_authenticates(env, browser):
    add_domain(env, "panel.example", "domain-pass-1", aliases=["panel-alias.example"])
    b = browser()
    sign_in(b, env, "Panel.Example", "domain-pass-1")
    assert heading(b) == "Overview"
    assert "Signed in to panel.example" in b.text("header")
    assert "panel-alias.example" in b.text("main")
    assert b.find_all("script") == []

    nav(b, "Popboxes")
    assert "This domain has no popboxes yet." in b.text("main")
    b.submit(button("add_popbox"), {"#local_part": "Alice", "#password": pw("alice-pass-123"),
                                    "#password2": "alice-pass-123"})
    assert notices(b) == ["Popbox alice@panel.example added."]
    assert any(r.startswith("alice@panel.example") for r in row_texts(b))
    # The popbox is real: the library authenticates it (and only with its password).
    mailbox = env.lib("authenticate", "alice@panel.example", "alice-pass-123")
    assert (mailbox["domain"], mailbox["local_part"]) == ("panel.example", "alice")
    assert mailbox["path"] == "/var/mail/vhosts/panel.example/alice"
    assert env.lib.failure("authenticate", "alice@panel.example", "wrong-password").kind == "auth_failed"

    # The domain administrator resets its password.
    follow(b, "Set password")
    assert heading(b) == "Set a popbox password"
    b.submit(button("popbox_password"), {"#password": pw("alice-reset-456"), "#password2": "alice-reset-456"})
    assert notices(b) == ["New password set for alice@panel.example."]
    assert env.lib("authenticate", "alice@panel.example", "alice-reset-456")["local_part"] == "alice"
    assert env.lib.failure("authenticate", "alice@panel.example", "alice-pass-123").kind == "auth_failed"

    # ... and deletes it, after a confirmation page.
    follow(b, "Delete")
    assert heading(b) == "Delete a popbox"
    assert env.lib.list("popboxes", "panel.example") != []  # not yet: GET changes nothing
    b.submit(button("delete_popbox"))
    assert notices(b)[0].startswith("Popbox alice@panel.example deleted.")
    assert env.lib.list("popboxes", "panel.example") == []
    assert env.lib.failure("authenticate", "alice@panel.example", "alice-reset-456").kind == "auth_failed"


def test_popbox_limit_and_bad_input_show_errors_and_change_nothing(env, browser, shots):
    add_domain(env, "small.example", "small-domain-pw", max_popbox=1)
    env.lib("add_popbox", "small.example", "first", pw("first-pass-1"), None)
    b = browser()
    sign_in(b, env, "small.example", "small-domain-pw")
    nav(b, "Popboxes")
    assert "1 of at most 1 popbox in use." in b.text("main")

    b.submit(button("add_popbox"), {"#local_part": "second", "#password": pw("second-pass-1"),
                                    "#password2": "second-pass-1"})
    shown = notices(b)
    # The library's own refusal, word for word (it refuses the same call again).
    refusal = env.lib.failure("add_popbox", "small.example", "second", "second-pass-1", None)
    assert refusal.kind == "limit_exceeded"
    assert len(shown) == 1 and refusal.message.rstrip(".").lower() in shown[0].lower()
    assert b.attr("#local_part", "value") == "second"  # the form keeps what was typed
    assert b.attr("#password", "value") in (None, "")  # but never a password
    b.screenshot(shots / "07-error-limit-desktop.png")
    assert [p["local_part"] for p in env.lib.list("popboxes", "small.example")] == ["first"]

    # Checks made before the library is asked: mismatched or short passwords, invalid names.
    env.lib("change_domain", "small.example", "max_popbox", None)
    b.submit(button("add_popbox"), {"#local_part": "third", "#password": pw("third-pass-1"),
                                    "#password2": "third-pass-2"})
    assert notices(b) == ["The two new passwords differ."]
    b.submit(button("add_popbox"), {"#local_part": "third", "#password": "short", "#password2": "short"})
    assert notices(b) == ["The new password must have at least 8 characters."]
    b.submit(button("add_popbox"), {"#local_part": "bad name", "#password": pw("third-pass-1"),
                                    "#password2": "third-pass-1"})
    assert notices(b)[0].startswith("Invalid local part \"bad name\"")
    assert b.prop("details", "open") is False
    b.click("details summary")  # the optional mail file name is folded away
    b.submit(button("add_popbox"), {"#local_part": "fourth", "#mbox_name": "../../etc/passwd",
                                    "#password": pw("fourth-pass-1"), "#password2": "fourth-pass-1"})
    assert len(notices(b)) == 1 and "Popbox" not in notices(b)[0]
    assert b.prop("details", "open") is True and b.attr("#mbox_name", "value") == "../../etc/passwd"
    assert [p["local_part"] for p in env.lib.list("popboxes", "small.example")] == ["first"]


def test_forwarders_and_catch_all_are_what_resolve_sees(env, browser):
    add_domain(env, "fwd.example", "fwd-domain-pw", aliases=["fwd-alias.example"])
    env.lib("add_popbox", "fwd.example", "bob", pw("bob-pass-123"), None)
    b = browser()
    sign_in(b, env, "fwd.example", "fwd-domain-pw")
    nav(b, "Forwarders")
    assert "There is no catch-all" in b.text("main")
    assert env.lib.failure("resolve", "nobody@fwd.example").kind == "not_found"

    b.submit(button("add_forwarder"), {"#local_part": "sales",
                                       "#remote_name": "team@elsewhere.example,boss@elsewhere.example"})
    assert notices(b) == ["Forwarder sales@fwd.example added."]
    r = env.lib("resolve", "sales@fwd.example")
    assert r["rule"] == "forwarder"
    assert r["targets"] == ["team@elsewhere.example", "boss@elsewhere.example"]
    assert env.lib("resolve", "sales@fwd-alias.example")["targets"] == r["targets"]

    b.submit(button("set_catch_all"), {"#catch_all": "bob@fwd.example"})
    assert notices(b) == ["Catch-all set: mail to any other address of the domain goes to bob@fwd.example."]
    rows = row_texts(b)
    assert any(row.startswith("catch-all") and "bob@fwd.example" in row for row in rows), rows
    r = env.lib("resolve", "anything@fwd.example")
    assert (r["rule"], r["targets"]) == ("catch-all", ["bob@fwd.example"])
    assert env.lib("resolve", "bob@fwd.example")["rule"] == "popbox"  # never swallowed
    assert env.lib("resolve", "sales@fwd.example")["rule"] == "forwarder"

    # Change the forwarder, then the catch-all through its row.
    follow(b, "Change")  # rows are sorted; "sales" comes before the catch-all
    assert heading(b) == "Change a forwarder"
    assert b.attr("#remote_name", "value") == "team@elsewhere.example, boss@elsewhere.example"
    b.submit(button("change_forwarder"), {"#remote_name": "new@elsewhere.example"})
    assert notices(b) == ["Forwarder sales@fwd.example changed."]
    assert env.lib("resolve", "sales@fwd.example")["targets"] == ["new@elsewhere.example"]

    b.get(env.site.url(f"{LOGIN}?page=forwarder&local=_default_"))
    assert heading(b) == "Change the catch-all"
    b.submit(button("change_forwarder"), {"#remote_name": "catch@elsewhere.example"})
    assert env.lib("resolve", "other@fwd.example")["targets"] == ["catch@elsewhere.example"]

    # A forwarder that would loop is refused with the library's message; nothing changes.
    b.submit(button("add_forwarder"), {"#local_part": "loop", "#remote_name": "loop@fwd-alias.example"})
    assert "would loop" in notices(b)[0]
    assert env.lib.failure("forwarder", "fwd.example", "loop").kind == "not_found"

    # Delete the forwarder: its address now goes to the catch-all; then remove the catch-all.
    follow(b, "Delete")
    assert heading(b) == "Delete a forwarder"
    b.submit(button("delete_forwarder"))
    assert notices(b) == ["Forwarder sales@fwd.example deleted."]
    assert env.lib("resolve", "sales@fwd.example")["rule"] == "catch-all"
    follow(b, "Delete")
    assert heading(b) == "Remove the catch-all"
    b.submit(button("delete_forwarder"))
    assert notices(b) == ["Catch-all removed: mail to unknown addresses is now refused."]
    assert env.lib.list("forwarders", "fwd.example") == []
    assert env.lib.failure("resolve", "sales@fwd.example").kind == "not_found"


def test_domain_password_change_ends_the_old_session(env, browser, shots):
    add_domain(env, "pw.example", "old-domain-pw")
    b = browser()
    sign_in(b, env, "pw.example", "old-domain-pw")
    old_cookie = session_cookie(b)
    nav(b, "Domain password")
    assert heading(b) == "Domain password"
    b.screenshot(shots / "05-domain-password-desktop.png")

    # A wrong current password changes nothing.
    started = time.monotonic()
    b.submit(button("domain_password"), {"#current": pw("not-the-password"), "#password": pw("new-domain-pw"),
                                         "#password2": "new-domain-pw"})
    assert time.monotonic() - started >= FAIL_DELAY - 0.2
    assert notices(b) == ["The current domain password is wrong. Nothing was changed."]
    assert env.lib("authenticate_domain", "pw.example", "old-domain-pw") == 1

    b.submit(button("domain_password"), {"#current": "old-domain-pw", "#password": "new-domain-pw",
                                         "#password2": "new-domain-pw"})
    assert heading(b) == "Overview"
    assert notices(b) == ["The domain password has been changed."]
    assert env.lib("authenticate_domain", "pw.example", "new-domain-pw") == 1
    assert env.lib.failure("authenticate_domain", "pw.example", "old-domain-pw").kind == "auth_failed"
    new_cookie = session_cookie(b)
    assert new_cookie["value"] != old_cookie["value"]

    # This browser carries on with its fresh session ...
    nav(b, "Popboxes")
    assert heading(b) == "Popboxes"

    # ... but the old session is dead: a second browser holding the old cookie is sent to sign-in,
    second = browser()
    second.get(env.site.url("/vmail/static/style.css"))
    second.add_cookie({k: old_cookie[k] for k in ("name", "value", "path", "httpOnly", "sameSite")})
    second.get(env.site.url(f"{LOGIN}?page=popboxes"))
    assert heading(second) == "Sign in"
    assert "Your session has ended" in notices(second)[0]
    # and so is a saved copy replayed outside any browser.
    answer = request(env.site.url(f"{LOGIN}?page=overview"),
                     headers={"Cookie": f"{SESSION_COOKIE}={old_cookie['value']}"})
    assert "<h1>Sign in</h1>" in answer.body and "Your session has ended" in answer.body

    # The new password signs in elsewhere (and, one session per domain, ends the first browser's).
    sign_in(second, env, "pw.example", "new-domain-pw")
    assert heading(second) == "Overview"


def test_passwd_popbox_changes_a_password_without_the_domain_password(env, browser, shots):
    add_domain(env, "users.example", "users-domain-pw")
    env.lib("add_popbox", "users.example", "carol", pw("carol-old-pass"), None)
    b = browser()
    b.get(env.site.url(PASSWD))
    assert heading(b) == "Change your mailbox password"
    b.screenshot(shots / "06-passwd-popbox-desktop.png")

    fields = {"#address": "carol@users.example", "#current": pw("carol-wrong-pass"),
              "#password": pw("carol-new-pass"), "#password2": "carol-new-pass"}
    b.submit("main button[type=submit]", fields)
    wrong = notices(b)
    b.submit("main button[type=submit]", dict(fields, **{"#address": "nobody@users.example"}))
    unknown = notices(b)
    assert wrong == unknown == ["The address or the current password is wrong. Nothing was changed."]
    b.submit("main button[type=submit]", dict(fields, **{"#current": "carol-old-pass", "#password2": pw("other-new-pass")}))
    assert notices(b) == ["The two new passwords differ."]
    assert env.lib("authenticate", "carol@users.example", "carol-old-pass")["local_part"] == "carol"

    # A cross-site form, even with the right current password, changes nothing.
    forged_change = request(env.site.url(PASSWD), "POST",
                            {"address": "carol@users.example", "current": "carol-old-pass",
                             "password": "carol-new-pass", "password2": "carol-new-pass"},
                            {"Origin": "http://evil.example"})
    assert forged_change.status == 403 and "did not come from this site" in forged_change.body
    assert env.lib("authenticate", "carol@users.example", "carol-old-pass")["local_part"] == "carol"

    b.submit("main button[type=submit]", dict(fields, **{"#current": "carol-old-pass"}))
    assert heading(b) == "Password changed"
    assert notices(b) == ["The password of carol@users.example has been changed."]
    assert "\\n" not in b.source and "\\n" not in b.text("main")  # no literal backslash-n
    assert env.lib("authenticate", "carol@users.example", "carol-new-pass")["local_part"] == "carol"
    assert env.lib.failure("authenticate", "carol@users.example", "carol-old-pass").kind == "auth_failed"
    assert session_cookie(b) is None  # no domain session was involved


def test_over_long_fields_are_refused_not_truncated(env, browser):
    add_domain(env, "long.example", "long-domain-pw")
    env.lib("add_popbox", "long.example", "dora", pw("dora-old-pass"), None)
    long_pw = pw("L" * 1030)
    b = browser()
    b.get(env.site.url(PASSWD))
    b.submit("main button[type=submit]", {"#address": "dora@long.example", "#current": "dora-old-pass",
                                          "#password": long_pw, "#password2": long_pw})
    assert notices(b) == ['The field "Password" is longer than 1024 characters. Nothing was changed.']
    assert env.lib("authenticate", "dora@long.example", "dora-old-pass")["local_part"] == "dora"
    assert env.lib.failure("authenticate", "dora@long.example", long_pw[:1024]).kind == "auth_failed"

    # In the control panel too: a popbox password of 1030 characters is not set as its first 1024.
    sign_in(b, env, "long.example", "long-domain-pw")
    nav(b, "Popboxes")
    follow(b, "Set password")
    b.submit(button("popbox_password"), {"#password": long_pw, "#password2": long_pw})
    assert notices(b) == ['The field "Password" is longer than 1024 characters. Nothing was changed.']
    assert env.lib("authenticate", "dora@long.example", "dora-old-pass")["local_part"] == "dora"
    # The limit counts characters, not bytes: 1000 "\u00fc" (2000 bytes in the form) pass it
    # and reach the library's own check of the password.
    nav(b, "Popboxes")
    follow(b, "Set password")
    b.submit(button("popbox_password"), {"#password": "\u00fc" * 1000, "#password2": "\u00fc" * 1000})
    assert notices(b) == ["Password longer than 511 bytes."]


def test_form_text_reaches_the_library_as_characters(env, browser):
    """Form fields arrive as UTF-8; the library gets the characters they spell, once encoded."""
    add_domain(env, "text.example", "text-domain-pw")
    b = browser()
    sign_in(b, env, "text.example", "text-domain-pw")
    nav(b, "Forwarders")
    b.submit(button("add_forwarder"), {"#local_part": "info", "#remote_name": "j\u00fcrgen@elsewhere.example"})
    assert notices(b) == ["Forwarder info@text.example added."]
    assert env.lib("forwarder", "text.example", "info")["remote_name"] == "j\u00fcrgen@elsewhere.example"
    assert any("j\u00fcrgen@elsewhere.example" in r for r in row_texts(b))
    env.lib("add_popbox", "text.example", "umlaut", pw("p\u00e4ssw\u00f6rd-1"), None)
    b.get(env.site.url(PASSWD))
    b.submit("main button[type=submit]", {"#address": "umlaut@text.example", "#current": "p\u00e4ssw\u00f6rd-1",
                                          "#password": pw("n\u00e9w-p\u00e4ss-2"), "#password2": "n\u00e9w-p\u00e4ss-2"})
    assert heading(b) == "Password changed", notices(b)
    assert env.lib("authenticate", "umlaut@text.example", "n\u00e9w-p\u00e4ss-2")["local_part"] == "umlaut"


def test_wrong_password_and_unknown_domain_look_the_same(env, browser):
    add_domain(env, "same.example", "same-domain-pw")
    b = browser()
    sign_in(b, env, "same.example", pw("wrong-domain-pw"))
    wrong_text = b.text("main")
    sign_in(b, env, "unknown.example", "wrong-domain-pw")
    unknown_text = b.text("main")
    assert heading(b) == "Sign in" and notices(b) == ["Unknown domain or wrong password."]
    assert wrong_text == unknown_text
    assert session_cookie(b) is None

    # Same status, same page (but for the echoed name), both slowed down.
    wrong, t_wrong = signin_by_http(env, "same.example", "wrong-domain-pw")
    unknown, t_unknown = signin_by_http(env, "unknown.example", "wrong-domain-pw")
    assert wrong.status == unknown.status == 403
    strip = lambda r, name: re.sub(r'name="form_token" value="[0-9a-f]+"', "", r.body).replace(name, "NAME")
    assert strip(wrong, "same.example") == strip(unknown, "unknown.example")
    assert min(t_wrong, t_unknown) >= FAIL_DELAY - 0.2
    assert not wrong.all("Set-Cookie") or all(SESSION_COOKIE not in c for c in wrong.all("Set-Cookie"))

    logs = env.site.logs()
    assert 'authentication failure for domain "same.example" from 127.0.0.1' in logs
    assert 'authentication failure for domain "unknown.example" from 127.0.0.1' in logs

    # The right password works through the same path (the failures above were not an accident).
    ok, _ = signin_by_http(env, "same.example", "same-domain-pw")
    assert ok.status == 303 and any(c.startswith(SESSION_COOKIE + "=") for c in ok.all("Set-Cookie"))


def test_sign_in_throttle_per_domain_and_per_client_address(tmp_path_factory, browser):
    """Attempts per domain and failures per client address are counted in the database; the
    delay grows, a locked-out sign-in is refused even with the right password, and the right
    password works again once the window has ended."""
    window, limit = 60, 2  # VMAILSQL_SIGNIN_WINDOW, VMAILSQL_SIGNIN_LIMIT (client limit 3 * 2)
    tmp = tmp_path_factory.mktemp("throttle")
    e = Env()
    e.db = tmp / "vmail.db"
    e.config = tmp / "vmailsql.conf"
    e.config.write_text(f"database = sqlite://{e.db}\n")
    e.config.chmod(0o640)
    e.lib = Library(e.config)
    e.lib("create_schema")
    add_domain(e, "throttle.example", "throttle-domain-pw")
    add_domain(e, "bystander.example", "bystander-domain-pw")
    e.site = Site(tmp, e.config, {"VMAILSQL_SIGNIN_WINDOW": str(window),
                                  "VMAILSQL_SIGNIN_LIMIT": str(limit)})

    def failures(subject):
        with sqlite3.connect(e.db) as con:
            row = con.execute("SELECT failures FROM signin_failure WHERE subject = ?", (subject,)).fetchone()
        return row[0] if row else 0

    try:
        b = browser()
        started = time.monotonic()
        # Per domain: the delay doubles (2 s, 4 s), and the attempt after the limit is refused
        # without looking at the password, the right one included.
        for n in (1, 2):
            t = time.monotonic()
            sign_in(b, e, "throttle.example", pw(f"wrong-throttle-pw-{n}"))
            assert notices(b) == ["Unknown domain or wrong password."]
            assert time.monotonic() - t >= FAIL_DELAY * 2 ** (n - 1) - 0.2
        assert failures("domain:throttle.example") == 2
        assert failures("client:127.0.0.1") == 2
        sign_in(b, e, "THROTTLE.example", "throttle-domain-pw")
        locked = ["Too many failed sign-ins for this domain or from your address. Sign-in is "
                  "locked for up to 1 minute; please try again later."]
        assert heading(b) == "Sign in" and notices(b) == locked
        assert session_cookie(b) is None
        # Every CGI process sees the same count: a plain HTTP client is refused too (429).
        answer, _ = signin_by_http(e, "throttle.example", "throttle-domain-pw")
        assert answer.status == 429 and "Too many failed sign-ins" in answer.body

        # Per client address: failures on any domains add up (the limit is 3 * 2 = 6); then even
        # a domain that never failed cannot be signed in to from this address.
        for n in range(4):
            answer, _ = signin_by_http(e, f"nosuch{n}.example", "whatever-pw")
            assert answer.status == 403
        assert failures("client:127.0.0.1") == 6
        sign_in(b, e, "bystander.example", "bystander-domain-pw")
        assert notices(b) == locked
        assert time.monotonic() - started < window, "the test was too slow for its window"
        assert "sign-in refused (too many attempts) for domain \"bystander.example\"" in e.site.logs()

        # After the window the right password works, and clears the domain's count.
        time.sleep(max(0.0, started + window + 2 - time.monotonic()))
        sign_in(b, e, "throttle.example", "throttle-domain-pw")
        assert heading(b) == "Overview"
        assert failures("domain:throttle.example") == 0
    finally:
        e.site.close()


def test_forged_cross_site_posts_are_rejected(env, browser):
    add_domain(env, "csrf.example", "csrf-domain-pw")
    b = browser()
    sign_in(b, env, "csrf.example", "csrf-domain-pw")
    nav(b, "Forwarders")
    cookie = session_cookie(b)["value"]
    token = csrf_of(b)
    attack = {"action": "add_forwarder", "local_part": "evil", "remote_name": "attacker@evil.example"}

    no_token = forged(env, attack, cookie)
    bad_token = forged(env, dict(attack, csrf="0" * 64), cookie)
    other_origin = forged(env, dict(attack, csrf=token), cookie, Origin="http://evil.example")
    other_referer = forged(env, dict(attack, csrf=token), cookie, Referer="http://evil.example/page")
    null_origin = forged(env, dict(attack, csrf=token), cookie, Origin="null")
    for answer in (no_token, bad_token, other_origin, other_referer, null_origin):
        assert answer.status == 403
        assert "did not come from a form of this control panel" in answer.body
        assert "Nothing was changed." in answer.body
    assert env.lib.list("forwarders", "csrf.example") == []
    forged_password = forged(env, {"action": "domain_password", "current": "csrf-domain-pw",
                                   "password": pw("hijacked-pw-1"), "password2": "hijacked-pw-1"}, cookie)
    assert forged_password.status == 403
    assert env.lib("authenticate_domain", "csrf.example", "csrf-domain-pw") == 1
    assert "refused a POST without a valid CSRF token" in env.site.logs()

    # GET never changes anything, whatever it carries.
    as_get = request(env.site.url(LOGIN) + "?" + urllib.parse.urlencode(dict(attack, csrf=token)),
                     headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert as_get.status == 200 and "<h1>Overview</h1>" in as_get.body
    assert env.lib.list("forwarders", "csrf.example") == []

    # A real browser on another site, even one that knows the token: the SameSite=Strict cookie
    # stays home, so the control panel sees no session at all.
    (env.site.docroot / "evil.html").write_text(f"""<!DOCTYPE html><title>Win a prize</title>
<form method="post" action="{env.site.url(LOGIN)}">
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="action" value="add_forwarder">
<input type="hidden" name="local_part" value="evil">
<input type="hidden" name="remote_name" value="attacker@evil.example">
<button type="submit" id="go">Claim</button></form>""")
    b.get(f"http://localhost:{env.site.port}/evil.html")
    b.submit("#go")
    assert heading(b) == "Sign in"
    assert notices(b) == ["Please sign in first. Nothing was changed."]
    assert env.lib.list("forwarders", "csrf.example") == []

    # The session itself survived, and the same request from the page itself works.
    b.get(env.site.url(f"{LOGIN}?page=forwarders"))
    assert heading(b) == "Forwarders"
    ok = forged(env, dict(attack, csrf=token), cookie, Origin=env.site.base)
    assert ok.status == 303
    assert env.lib("forwarder", "csrf.example", "evil")["remote_name"] == "attacker@evil.example"


def test_markup_in_forwarders_is_shown_escaped(env, browser):
    add_domain(env, "xss.example", "xss-domain-pw")
    b = browser()
    sign_in(b, env, "xss.example", "xss-domain-pw")
    nav(b, "Forwarders")
    target = "<script>alert(1)</script>@evil.example"
    b.submit(button("add_forwarder"), {"#local_part": "xss", "#remote_name": target})
    stored = env.lib.list("forwarders", "xss.example")
    if stored:  # the library accepted it as an address: the list must show it as text
        assert notices(b) == ["Forwarder xss@xss.example added."]
        assert any(target in row for row in row_texts(b))
    else:  # refused: the message quotes it, as text
        assert target in notices(b)[0]
    assert b.find_all("script") == []
    assert "<script>" not in b.source and "&lt;script&gt;alert(1)&lt;/script&gt;" in b.source

    # A local part with markup is refused, and the refusal quotes it as text.
    b.submit(button("add_forwarder"), {"#local_part": "<b>bold</b>", "#remote_name": "a@b.example"})
    assert "<b>bold</b>" in notices(b)[0]
    assert b.find_all("main b") == [] and b.find_all("script") == []

    # Rows written by other tools are not trusted either.
    with sqlite3.connect(env.db) as con:
        con.execute("INSERT INTO forwarder (domain_name, local_part, remote_name) VALUES (?, ?, ?)",
                    ("xss.example", "img", '"><img src=x onerror=alert(2)>@evil.example'))
    b.get(env.site.url(f"{LOGIN}?page=forwarders"))
    assert b.find_all("img") == [] and b.find_all("script") == []
    assert any('"><img src=x onerror=alert(2)>@evil.example' in row for row in row_texts(b))
    b.get(env.site.url(f"{LOGIN}?page=forwarder&local=img"))
    assert b.attr("#remote_name", "value") == '"><img src=x onerror=alert(2)>@evil.example'
    assert b.find_all("img") == []


def test_expired_session_is_sent_back_to_sign_in(env, browser):
    add_domain(env, "expire.example", "expire-domain-pw")
    b = browser()
    sign_in(b, env, "expire.example", "expire-domain-pw")
    nav(b, "Popboxes")
    cookie = session_cookie(b)["value"]
    token = csrf_of(b)
    with sqlite3.connect(env.db) as con:
        changed = con.execute("UPDATE web_session SET expires = 1 WHERE domain_name = ?", ("expire.example",)).rowcount
    assert changed == 1

    b.get(env.site.url(f"{LOGIN}?page=popboxes"))
    assert heading(b) == "Sign in"
    assert notices(b)[0].startswith("Your session has ended")
    assert session_cookie(b) is None  # the dead cookie was deleted

    answer = forged(env, {"action": "add_popbox", "csrf": token, "local_part": "late",
                          "password": pw("late-pass-123"), "password2": "late-pass-123"},
                    cookie, Origin=env.site.base)
    assert answer.status == 403 and "Your session has ended" in answer.body
    assert env.lib.list("popboxes", "expire.example") == []

    sign_in(b, env, "expire.example", "expire-domain-pw")
    assert heading(b) == "Overview"


def test_sign_out_ends_the_session(env, browser):
    add_domain(env, "bye.example", "bye-domain-pw")
    b = browser()
    sign_in(b, env, "bye.example", "bye-domain-pw")
    cookie = session_cookie(b)["value"]
    assert session_count(env, "bye.example") == 1
    b.submit(button("signout"))
    assert heading(b) == "Sign in"
    assert notices(b) == ["You have signed out."]
    assert session_count(env, "bye.example") == 0
    assert session_cookie(b) is None
    answer = request(env.site.url(f"{LOGIN}?page=overview"), headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert "<h1>Sign in</h1>" in answer.body


def test_headers_cookies_and_passwords_only_in_post_bodies(env, browser):
    add_domain(env, "hdr.example", "hdr-domain-pw")
    page = request(env.site.url(LOGIN))
    assert page.status == 200
    csp = page.header("Content-Security-Policy")
    for part in ("default-src 'none'", "style-src 'self'", "form-action 'self'",
                 "frame-ancestors 'none'", "base-uri 'none'"):
        assert part in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp  # no script of any kind
    assert page.header("X-Frame-Options") == "DENY"
    assert page.header("X-Content-Type-Options") == "nosniff"
    assert page.header("Referrer-Policy") == "same-origin"
    assert page.header("Cache-Control") == "no-store"
    form_cookie = page.header("Set-Cookie")
    assert form_cookie.startswith("vmailsql_form=")
    assert "; HttpOnly" in form_cookie and "; SameSite=Strict" in form_cookie and "Secure" not in form_cookie

    ok, _ = signin_by_http(env, "hdr.example", "hdr-domain-pw")
    assert ok.status == 303 and ok.header("Location") == f"{LOGIN}?page=overview"
    session = [c for c in ok.all("Set-Cookie") if c.startswith(SESSION_COOKIE + "=")][0]
    assert "; HttpOnly" in session and "; SameSite=Strict" in session and "; Path=/vmail/" in session

    # A password in the URL is never accepted: GET does not sign in. (This request puts one in
    # the access log on purpose; that domain's password is left out of PASSWORDS.)
    add_domain(env, "url.example", "url-domain-pw", secret=False)
    in_url, _ = signin_by_http(env, "url.example", "url-domain-pw", url_password=True)
    assert in_url.status == 200 and "<h1>Sign in</h1>" in in_url.body
    assert all(SESSION_COOKIE not in c for c in in_url.all("Set-Cookie"))

    # The browser sees the same flags.
    b = browser()
    sign_in(b, env, "hdr.example", "hdr-domain-pw")
    cookie = session_cookie(b)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["secure"] is False
    for path in (LOGIN, PASSWD):
        b.get(env.site.url(path))
        for form in b.find_all("form"):
            assert b.attr(form, "method") == "post"

    # Under HTTPS the cookies are Secure and __Host- prefixed (run as the web server would).
    https = run_cgi("login", env.config, HTTPS="on", SERVER_PORT="443")
    assert https.status == 200
    cookie_line = https.header("Set-Cookie")
    assert cookie_line.startswith("__Host-vmailsql_form=")
    assert "; Path=/;" in cookie_line and cookie_line.endswith("; Secure")

    # The sign-in form itself is protected: no token, or another origin, and nobody signs in.
    first = request(env.site.url(LOGIN))
    form_cookie = first.header("Set-Cookie").split(";")[0]
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', first.body).group(1)
    fields = {"action": "signin", "domain": "hdr.example", "password": "hdr-domain-pw"}
    for extra, hdrs in (({}, {"Cookie": form_cookie}),
                        ({"form_token": token}, {}),
                        ({"form_token": token}, {"Cookie": form_cookie, "Origin": "http://evil.example"})):
        refused = request(env.site.url(LOGIN), "POST", dict(fields, **extra), hdrs)
        assert refused.status == 403 and "The sign-in form had expired" in refused.body
        assert all(SESSION_COOKIE not in c for c in refused.all("Set-Cookie"))
    no_cookie = request(env.site.url(LOGIN), "POST", dict(fields, form_token=token))
    assert "This control panel needs cookies" in no_cookie.body

    # The shared module is not served.
    assert request(env.site.url("/vmail/lib/VmailCGI.pm")).status == 403


def test_every_page_reads_well_on_desktop_and_phone(env, browser, shots):
    """Screenshots of each page at two widths; no overflow, every field labelled, no script."""
    add_domain(env, "example.org", "example-domain-pw", max_popbox=10, aliases=["example.net", "example.com"])
    for name in ("alice", "bob", "postmaster"):
        env.lib("add_popbox", "example.org", name, pw(f"{name}-pass-123"), None)
    env.lib("add_forwarder", "example.org", "sales", "alice@example.org, bob@example.org")
    env.lib("add_forwarder", "example.org", "info", "alice@example.org")
    env.lib("set_catch_all", "example.org", "postmaster@example.org")

    def check(b, name, width):
        assert b.find_all("script") == [] and b.find_all("[style]") == [] and b.find_all("style") == []
        metrics = b.script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                           " getComputedStyle(document.body).backgroundColor];")
        assert metrics[0] <= metrics[1], f"{name} scrolls sideways at {width}px: {metrics}"
        assert metrics[2] == "rgb(243, 245, 247)", "style.css not applied"
        for field in b.find_all("input:not([type=hidden]), select, textarea"):
            field_id = b.attr(field, "id")
            assert field_id and b.find_all(f'label[for="{field_id}"]'), f"unlabelled field on {name}"
        b.screenshot(shots / f"{name}-{'phone' if width < 600 else 'desktop'}.png")

    for size in (DESKTOP, PHONE):
        b = browser(size)
        width = b.script("return window.innerWidth;")
        assert abs(width - size[0]) < 20
        b.get(env.site.url(LOGIN))
        check(b, "01-sign-in", width)
        b.submit("main button[type=submit]", {"#domain": "example.org", "#password": pw("wrong-password")})
        check(b, "08-error-sign-in", width)
        b.submit("main button[type=submit]", {"#domain": "example.org", "#password": "example-domain-pw"})
        check(b, "02-overview", width)
        for page, name in (("popboxes", "03-popboxes"), ("forwarders", "04-forwarders"),
                           ("password", "05-domain-password"),
                           ("popbox_password&local=alice", "03b-popbox-password"),
                           ("delete_popbox&local=bob", "03c-delete-popbox"),
                           ("forwarder&local=sales", "04b-change-forwarder"),
                           ("activity", "09-activity")):
            b.get(env.site.url(f"{LOGIN}?page={page}"))
            assert heading(b) != "Something went wrong"
            check(b, name, width)
        b.get(env.site.url(f"{LOGIN}?page=nonsense"))
        assert heading(b) == "Something went wrong"
        check(b, "07-error-page", width)
        b.get(env.site.url(PASSWD))
        check(b, "06-passwd-popbox", width)


def test_missing_configuration_and_database_outage_are_shown(env, tmp_path):
    """Run as the web server would; the visitor gets a page saying so, the log the details."""
    missing = run_cgi("login", tmp_path / "no-such.conf")
    assert missing.status == 503
    assert "cannot reach its configuration or database" in missing.body
    assert "cannot open the vmailsql library: cannot read config file" in missing.stderr

    down = tmp_path / "down.conf"
    down.write_text(f"database = sqlite://{tmp_path}/no-such-dir/vmail.db\n")
    form = run_cgi("login", down)
    assert form.status == 200  # the sign-in form needs no database
    cookie = form.header("Set-Cookie").split(";")[0]
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', form.body).group(1)
    answer = run_cgi("login", down, "POST", cookie=cookie,
                     fields={"action": "signin", "form_token": token, "domain": "example.org",
                             "password": pw("down-domain-pw")})
    assert answer.status == 503
    assert "The mail database is temporarily unavailable. Nothing was changed" in answer.body
    assert "database temporarily unavailable: cannot open SQLite database" in answer.stderr
    assert "down-domain-pw" not in answer.stderr

    form = run_cgi("passwd_popbox", down)
    cookie = form.header("Set-Cookie").split(";")[0]
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', form.body).group(1)
    answer = run_cgi("passwd_popbox", down, "POST", cookie=cookie,
                     fields={"form_token": token, "address": "a@example.org", "current": "down-old-pw1",
                             "password": "down-new-pw1", "password2": "down-new-pw1"})
    assert answer.status == 503 and "temporarily unavailable" in answer.body


def test_the_minimum_password_length_is_the_librarys(env, tmp_path):
    """The pages ask the library for password_min_length: its hint and its check follow the
    configuration (no database needed: the check comes before any query)."""
    conf = tmp_path / "strict.conf"
    conf.write_text(f"database = sqlite://{tmp_path}/none/vmail.db\npassword_min_length = 12\n")
    form = run_cgi("passwd_popbox", conf)
    assert form.status == 200
    assert "At least 12 characters." in form.body
    cookie = form.header("Set-Cookie").split(";")[0]
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', form.body).group(1)
    answer = run_cgi("passwd_popbox", conf, "POST", cookie=cookie,
                     fields={"form_token": token, "address": "a@example.org", "current": "old-pw-123",
                             "password": "eleven-char", "password2": "eleven-char"})
    assert answer.status == 400
    assert "The new password must have at least 12 characters." in answer.body


def test_no_password_in_urls_or_logs(env):
    """Runs last: everything the server and the scripts logged during this module."""
    logs = env.site.logs()
    assert "POST /vmail/login" in logs and "authentication failure" in logs
    leaked = sorted(p for p in PASSWORDS if p in logs)
    assert leaked == [], f"passwords in the web server's logs: {leaked}"
    # The scripts log only their own lines: no Perl warnings, no stray output.
    stray = [line for line in env.site.cgi_stderr().splitlines() if not line.startswith("vmailsql-cgi[")]
    assert stray == []


def test_activity_page_shows_the_domains_own_records_only(env, browser):
    add_domain(env, "audited.example", "audited-domain-pw")
    add_domain(env, "neighbour.example", "neighbour-domain-pw")
    env.lib("add_popbox", "neighbour.example", "secretive", pw("neighbour-pop-pw"), None)
    b = browser()
    sign_in(b, env, "audited.example", pw("audited-wrong-pw"))
    assert notices(b) == ["Unknown domain or wrong password."]
    sign_in(b, env, "audited.example", "audited-domain-pw")
    nav(b, "Popboxes")
    b.submit(button("add_popbox"), {"#local_part": "dora", "#password": pw("dora-pass-123"),
                                    "#password2": "dora-pass-123"})
    nav(b, "Activity")
    assert heading(b) == "Activity"
    rows = row_texts(b)
    # newest first: the popbox, the sign-in, the refused sign-in, the domain's creation
    assert "popbox dora@audited.example" in rows[0] and "created" in rows[0], rows
    assert "signed-in" in rows[1] and "sign-in-failed" in rows[2] and "failed" in rows[2], rows
    assert all("domain:audited.example" in r and "from 127.0.0.1" in r for r in rows[:3]), rows
    assert "domain audited.example" in rows[3] and "unix:" in rows[3], rows
    page = b.source
    assert "neighbour" not in page and "secretive" not in page
    for secret in PASSWORDS:
        assert secret not in page
    # the library agrees: the panel's changes carry the signed-in domain and the client address
    records = env.lib.list("audit_log", "domain", "audited.example")
    assert [(r["actor"], r["origin"]) for r in records[1:]] == [("domain:audited.example", "127.0.0.1")] * 3
    neighbour = env.lib.list("audit_log", "domain", "neighbour.example")
    assert [r["action"] for r in neighbour] == ["created", "created"]
