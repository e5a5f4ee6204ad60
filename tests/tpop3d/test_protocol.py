"""The auth-other helper against tpop3d's framing, byte for byte: fragmented writes, the
4096-byte limit, hostile requests. After every bad request the same process must still
answer a good one."""

import re
import subprocess

import pytest

from tpop3dlib import MAIL, MAX_MESSAGE, Peer, auth_other, auth_perl, decode, encode, pass_req

GOOD = pass_req("alice@example.org", "secret")
YES = {"result": "YES", "uid": str(MAIL.pw_uid), "gid": str(MAIL.pw_gid),
       "mailbox": "/var/mail/example.org/alice", "mboxtype": "bsd", "domain": "example.org"}


@pytest.fixture
def helper(build, configs):
    peer = auth_other(build, configs["sqlite"])
    yield peer
    peer.kill()


def still_serves(peer):
    assert dict(peer.ask(GOOD)) == YES


def refused(pairs, pattern):
    got = dict(pairs)
    assert pairs[0] == ("result", "NO") and set(got) == {"result", "logmsg"}, pairs
    assert re.search(pattern, got["logmsg"]), got["logmsg"]
    assert all(0x20 <= ord(c) < 0x7f for c in got["logmsg"]), got["logmsg"]


def test_reply_bytes_are_exact(helper):
    helper.send(encode(GOOD))
    raw = helper.read_reply()
    ids = f"uid\0{MAIL.pw_uid}\0gid\0{MAIL.pw_gid}\0".encode()
    assert raw == (b"result\0YES\0" + ids + b"mailbox\0/var/mail/example.org/alice\0"
                   b"mboxtype\0bsd\0domain\0example.org\0\0")
    assert helper.buf == b"", "nothing after the reply"


def test_one_byte_per_write(helper):
    data = encode(GOOD)
    helper.send(data, chunks=[1] * len(data), pause=0.001)
    assert dict(decode(helper.read_reply())) == YES


def test_every_split_point(helper):
    data = encode(GOOD)
    for cut in range(1, len(data)):
        helper.send(data, chunks=[cut], pause=0.002)
        assert dict(decode(helper.read_reply())) == YES, f"split at byte {cut}"


def test_requests_in_one_write(helper):
    wrong = pass_req("alice@example.org", "nope")
    helper.send(encode(GOOD) + encode(wrong) + encode([("method", "ONLOGIN")]))
    assert dict(decode(helper.read_reply())) == YES
    assert decode(helper.read_reply()) == [("result", "NO")]
    assert decode(helper.read_reply()) == [("result", "YES")]


def padded(size):
    """GOOD padded with a clienthost value to exactly size bytes."""
    base = len(encode(GOOD))
    pairs = GOOD[:-2] + [("clienthost", "h" * (size - base + len("192.0.2.7")))] + GOOD[-1:]
    data = encode(pairs)
    assert len(data) == size
    return data


def test_request_of_exactly_4096_bytes(helper):
    helper.send(padded(MAX_MESSAGE))
    assert dict(decode(helper.read_reply())) == YES


def test_request_of_4097_bytes_is_refused(helper):
    helper.send(padded(MAX_MESSAGE + 1))
    refused(decode(helper.read_reply()), r"^vmailsql: request longer than 4096 bytes refused$")
    still_serves(helper)


def test_a_megabyte_without_terminator_then_one(helper):
    helper.send(b"x" * 1_000_000 + b"\0" + b"y" * 5000 + b"\0\0")
    refused(decode(helper.read_reply()), r"longer than 4096 bytes")
    still_serves(helper)


@pytest.mark.parametrize("pairs,pattern", [
    ([], r"^vmailsql: request without a method$"),
    ([("user", "alice@example.org"), ("pass", "secret")], r"without a method"),
    ([("method", "PASS"), ("pass", "secret")], r"^vmailsql: PASS request without user$"),
    ([("method", "PASS"), ("user", "alice@example.org")], r"^vmailsql: PASS request without pass$"),
    ([("method", "APOP"), ("user", "plain@example.org"), ("digest", "0" * 32)],
     r"^vmailsql: APOP request without timestamp$"),
    ([("method", "APOP"), ("user", "plain@example.org"), ("timestamp", "<1@x>")],
     r"^vmailsql: APOP request without digest$"),
    ([("method", "AUTH"), ("user", "alice@example.org"), ("pass", "secret")],
     r"^vmailsql: unknown method AUTH$"),
    ([("method", "pass"), ("user", "alice@example.org"), ("pass", "secret")],
     r"^vmailsql: unknown method pass$"),
    ([("method", "PASS\nFAKE: root logged in"), ("user", "a@b")],
     r"^vmailsql: unknown method PASS\?FAKE: root logged in$"),
    ([("method", b"P\xffSS"), ("user", "a@b")], r"^vmailsql: unknown method P\?SS$"),
    ([("method", "PASS"), ("user", "alice@example.org"), ("user", "bob@example.org"),
      ("pass", "secret")], r"^vmailsql: malformed request: a key appears twice"),
    ([("method", "PASS"), ("method", "ONLOGIN")], r"a key appears twice"),
], ids=["empty", "no method", "no user", "no pass", "no timestamp", "no digest",
        "unknown method", "lower-case method", "newline in a value", "not UTF-8 method",
        "duplicate user", "duplicate method"])
def test_hostile_requests(helper, pairs, pattern):
    refused(helper.ask(pairs), pattern)
    still_serves(helper)


def test_unknown_keys_and_empty_values_are_fine(helper):
    pairs = [("x-new", "")] + [(k, "" if k == "clienthost" else v) for k, v in GOOD]
    assert dict(helper.ask(pairs)) == YES


def test_password_never_in_a_logmsg(helper):
    reply = dict(helper.ask(pass_req(b"\xff@example.org", "hunter2-secret")))
    assert reply["result"] == "NO" and "hunter2" not in reply["logmsg"], reply


def test_eof_inside_a_request_exits_cleanly(helper):
    helper.send(encode(GOOD)[:25])
    assert helper.close() == 0
    assert helper.buf == b"", "no reply to half a request"
    assert "end of input inside a request" in helper.stderr_text()


def test_eof_between_requests_exits_cleanly(helper):
    still_serves(helper)
    assert helper.close() == 0
    assert helper.stderr_text() == ""


def test_unreadable_configuration_is_answered_not_fatal(build, work):
    peer = auth_other(build, work / "no-such.conf")
    try:
        for _ in range(3):
            refused(peer.ask(GOOD), r"^vmailsql: cannot read the configuration: ")
    finally:
        peer.kill()


def test_bad_arguments(build):
    proc = subprocess.run([str(build.helper), "--frobnicate"], capture_output=True, text=True,
                          env={"LD_LIBRARY_PATH": str(build.libdir)})
    assert proc.returncode == 2 and "usage:" in proc.stderr and proc.stdout == ""


# ---- the same hostile requests to the auth-perl subroutines ----


@pytest.fixture
def perl(build, configs):
    peer = auth_perl(build, configs["sqlite"])
    yield peer
    peer.kill()


@pytest.mark.parametrize("pairs,pattern", [
    ([("method", "PASS")], r"^vmailsql: PASS request without user$"),
    ([("method", "PASS"), ("user", "alice@example.org")], r"^vmailsql: PASS request without pass$"),
    ([("method", "APOP"), ("user", "plain@example.org")],
     r"^vmailsql: APOP request without timestamp$"),
    ([("method", "APOP"), ("user", "plain@example.org"), ("timestamp", "<1@x>")],
     r"^vmailsql: APOP request without digest$"),
    ([("method", "PASS"), ("user", b"\xc3(@example.org\n"), ("pass", "x")],
     r"^vmailsql: login \?\(@example.org\? refused: "),
], ids=["no user", "no pass", "no timestamp", "no digest", "not UTF-8 login"])
def test_perl_subroutines_never_die(perl, pairs, pattern):
    got = dict(perl.ask(pairs))
    assert "host_error" not in got, got
    assert got["result"] == "NO" and re.search(pattern, got["logmsg"]), got
    assert dict(perl.ask(GOOD)) == YES


def test_perl_unreadable_configuration(build, work):
    peer = auth_perl(build, work / "no-such.conf")
    try:
        got = dict(peer.ask(GOOD))
        assert got["result"] == "NO", got
        assert got["logmsg"].startswith("vmailsql: cannot read the configuration: "), got
    finally:
        peer.kill()


def test_default_configuration_and_read_once(build, configs, work):
    """Without --config the library's default ($VMAILSQL_CONFIG) applies; the file is read
    once: rewriting it under a running helper changes nothing until tpop3d restarts it."""
    config = work / "default.conf"
    config.write_bytes(configs["sqlite"].read_bytes())
    config.chmod(0o600)
    peer = Peer([str(build.helper)], env={"LD_LIBRARY_PATH": str(build.libdir),
                                          "VMAILSQL_CONFIG": str(config)})
    try:
        still_serves(peer)
        config.write_text(f"database = sqlite://{work}/no-such-dir/none.db\n")
        still_serves(peer)
    finally:
        peer.kill()
    fresh = Peer([str(build.helper)], env={"LD_LIBRARY_PATH": str(build.libdir),
                                           "VMAILSQL_CONFIG": str(config)})
    try:
        assert dict(fresh.ask(GOOD))["result"] == "NO"
    finally:
        fresh.kill()
