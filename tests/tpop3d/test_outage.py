"""The database stopped under running helpers: tpop3d has no "try again later" answer, so the
reply is result NO with a logmsg that says the failure is temporary, never a plain NO (which
would read as "wrong password" in the log). When the server is back, the same processes log in
again without a restart."""

import re

import pytest

from conftest import ROUTES
from tpop3dlib import APOP_DIGEST, apop_req, pass_req

GOOD = pass_req("alice@example.org", "secret")
TEMPORARY = (r"^vmailsql: temporary failure, login {} refused \(the client was told "
             r"Authentication failed; it may retry later\): .+")


def assert_temporary(pairs, login):
    got = dict(pairs)
    assert got["result"] == "NO" and set(got) == {"result", "logmsg"}, pairs
    assert re.search(TEMPORARY.format(re.escape(login)), got["logmsg"]), got["logmsg"]
    assert "secret" not in got["logmsg"] and "tanstaaf" not in got["logmsg"]


@pytest.mark.parametrize("route", ROUTES)
def test_database_stopped_and_back(peers, mariadb, route):
    peer = peers(route, "mariadb")
    assert dict(peer.ask(GOOD))["result"] == "YES"  # connected before the outage
    mariadb.stop()
    try:
        assert_temporary(peer.ask(GOOD), "alice@example.org")
        assert_temporary(peer.ask(pass_req("nobody@example.org", "x")), "nobody@example.org")
        assert_temporary(peer.ask(pass_req("alice@example.org", "wrong")), "alice@example.org")
        assert_temporary(peer.ask(apop_req("plain@example.org", APOP_DIGEST)),
                         "plain@example.org")
        assert peer.ask([("method", "ONLOGIN"), ("user", "alice@example.org")]) == [
            ("result", "YES")]
    finally:
        mariadb.start()
    assert dict(peer.ask(GOOD))["result"] == "YES"
    assert dict(peer.ask(apop_req("plain@example.org", APOP_DIGEST)))["result"] == "YES"
