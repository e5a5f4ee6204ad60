"""Every login case of legacy-contract.md §3 (and each stored scheme of §4), through both of
tpop3d's routes into libvmailsql, on SQLite and on MariaDB with the seed's legacy schema in a
latin1 case-insensitive database. One helper per route and backend serves all cases, as tpop3d
keeps one running."""

import pytest

from conftest import BACKENDS, ROUTES
from tpop3dlib import auth_other, auth_perl, check_reply, login_cases, pass_req, write_config

CASES = login_cases()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_login(peers, route, backend, case):
    reply = peers(route, backend).ask(case.request)
    check_reply(case, reply, ordered=route == "auth-other")


@pytest.mark.parametrize("route", ROUTES)
def test_login_via_alias_is_opt_in(build, work, configs, route):
    url = configs["sqlite"].read_text().split("=", 1)[1].strip()
    config = write_config(work / f"alias-{route}.conf", url, login_via_alias="yes")
    peer = (auth_other if route == "auth-other" else auth_perl)(build, config)
    try:
        got = dict(peer.ask(pass_req("alice@example.net", "secret")))
        assert got["result"] == "YES", got
        assert (got["domain"], got["mailbox"]) == ("example.org", "/var/mail/example.org/alice")
    finally:
        peer.kill()
