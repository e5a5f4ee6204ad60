"""The helper under valgrind across 10,000 requests of every kind (logins that succeed and
fail, APOP, ONLOGIN, unsafe rows, hostile and over-long requests): no memory error, no leak,
and every reply still right."""

import re

from tpop3dlib import (APOP_DIGEST, MAX_MESSAGE, Peer, apop_req, auth_other, decode, encode,
                       find_program, pass_req, write_config)

REQUESTS = 10_000

MIX = [
    (encode(pass_req("alice@example.org", "secret")), "YES"),
    (encode(pass_req("ALICE%example.org", "wrong")), "NO"),
    (encode(apop_req("plain@example.org", APOP_DIGEST)), "YES"),
    (encode([("method", "ONLOGIN"), ("user", "alice@example.org")]), "YES"),
    (encode(pass_req("escape@example.org", "secret")), "NO"),
    (encode(pass_req("gus@ghost.example", "secret")), "NO"),
    (encode(pass_req(b"\xffalice@example.org", "secret")), "NO"),
    (encode([("method", "FOO"), ("user", "x")]), "NO"),
    (encode([("method", "PASS"), ("user", "a@b"), ("user", "c@d")]), "NO"),
    (b"x" * (MAX_MESSAGE + 10) + b"\0\0\0", "NO"),
]


def test_no_leak_across_10000_requests(build, configs, work):
    valgrind = find_program("valgrind", "apt-get install valgrind")
    log = work / "valgrind.log"
    # The site's own config with a cheap policy scheme: every check is padded to the costliest
    # verification the process has seen, and SHA-512-crypt's dummy under valgrind would make
    # each of the 10,000 requests wait for it (the padding itself is tested elsewhere).
    config = write_config(work / "valgrind.conf",
                          configs["sqlite"].read_text().split("database = ")[1].split()[0],
                          password_scheme="md5")
    peer = auth_other(build, config, wrapper=[
        valgrind, "--leak-check=full", "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
        f"--log-file={log}"])
    assert isinstance(peer, Peer)
    try:
        # An unknown user costs a dummy verification in the policy scheme: a few of them, the
        # rest from the mix.
        for _ in range(5):
            assert decode(peer.ask_raw(encode(pass_req("nobody@example.org", "x")))) == [
                ("result", "NO")]
        for i in range(REQUESTS - 5):
            data, want = MIX[i % len(MIX)]
            reply = dict(decode(peer.ask_raw(data)))
            assert reply["result"] == want, (i, reply)
        status = peer.close(timeout=300)
    finally:
        peer.kill()
    text = log.read_text()
    assert status == 0, f"exit {status}:\n{text[-4000:]}"
    assert re.search(r"ERROR SUMMARY: 0 errors", text), text[-4000:]
    leaks = re.search(r"definitely lost: ([\d,]+) bytes.*?indirectly lost: ([\d,]+) bytes", text,
                      re.S)
    assert leaks is None or leaks.groups() == ("0", "0"), text[-4000:]
    assert "All heap blocks were freed" in text or leaks, text[-4000:]
    # Nothing grows with the requests either (a cache or a list kept per request would show
    # here as "still reachable" memory): at most 64 KiB in use at exit after 10,000.
    in_use = re.search(r"in use at exit: ([\d,]+) bytes", text)
    assert in_use and int(in_use.group(1).replace(",", "")) <= 65536, text[-4000:]
