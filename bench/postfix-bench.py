#!/usr/bin/env python3
"""Postfix benchmark: vmailsql-socketmap against Postfix's own proxy:mysql: maps written as
PostfixAdmin writes them (postfix/baseline/), on the same seed tables, in the same run.

    sudo bench/postfix-bench.py [SIZES...]     (default: 1000 100000 1000000 popboxes)

For each size, both configurations run as private Postfix instances (see tests/e2e/
postfixlib.py) against one throw-away MariaDB holding the seed's legacy schema:
  - RCPT: one SMTP session checks a fixed mix of addresses (popboxes, forwarders, alias-domain
    addresses, catch-all and unknown ones); cost per RCPT and database queries per RCPT;
    both configurations must give every address the same reply code;
  - messages: messages to random popboxes over SMTP, timed until virtual(8) delivered them all;
  - load (vmailsql-socketmap only): 50 concurrent socketmap connections, 100,000 lookups.
Prints figures, ratios and the load average; asserts nothing about speed.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import eximlib as E  # noqa: E402
import postfixlib as P  # noqa: E402

DB_USER, DB_PASSWORD = "pf_lookup", "bench-secret"
RCPTS, MESSAGES = 2000, 200
LOAD_CONNECTIONS, LOAD_LOOKUPS = 50, 100_000


def load_site(db: E.MariaDB, name: str, n: int, mail: Path) -> None:
    domains = max(10, n // 1000)
    db.create_database(name, "legacy", DB_USER, DB_PASSWORD)
    uid, gid = E.exim_ids()
    for i in range(domains):
        d = mail / f"d{i}.example"
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, uid, gid)
    db.sql(f"""
INSERT INTO domain SELECT CONCAT('d', seq, '.example'), '{E.EXIM_USER}', NULL,
  CONCAT('{mail}/d', seq, '.example'), NULL FROM seq_0_to_{domains - 1};
INSERT INTO popbox SELECT CONCAT('d', seq % {domains}, '.example'), CONCAT('u', seq),
  '{{crypt}}x', CONCAT('u', seq) FROM seq_0_to_{n - 1};
INSERT INTO forwarder SELECT CONCAT('d', seq % {domains}, '.example'), CONCAT('f', seq),
  CONCAT('u', seq, '@d', seq % {domains}, '.example') FROM seq_0_to_{max(0, n // 10 - 1)};
INSERT INTO forwarder SELECT CONCAT('d', seq, '.example'), '_default_',
  CONCAT('u', seq, '@d', seq, '.example') FROM seq_0_to_{domains - 1} WHERE seq % 2 = 0;
INSERT INTO domain_alias SELECT CONCAT('d', seq, '.example'), CONCAT('alias', seq, '.example')
  FROM seq_0_to_{domains - 1} WHERE seq % 5 = 0;
ANALYZE TABLE domain, popbox, forwarder, domain_alias;
""", db=name)


def address_mix(n: int, count: int, rnd: random.Random) -> list[str]:
    domains = max(10, n // 1000)
    out = []
    for _ in range(count):
        j = rnd.randrange(n)
        kind = rnd.random()
        if kind < 0.70:
            out.append(f"u{j}@d{j % domains}.example")
        elif kind < 0.80:
            k = rnd.randrange(max(1, n // 10))
            out.append(f"f{k}@d{k % domains}.example")
        elif kind < 0.90:
            d = rnd.randrange(0, domains, 5)
            j = d + domains * rnd.randrange(max(1, n // domains - 1))
            out.append(f"u{j}@alias{d}.example")
        elif kind < 0.95:
            out.append(f"nobody{j}@d{rnd.randrange(0, domains, 2)}.example")  # catch-all
        else:
            out.append(f"nobody{j}@d{rnd.randrange(1, domains, 2)}.example")  # unknown: 550
    return out


def rcpt_run(pf: P.PrivatePostfix, db: E.MariaDB, addresses: list[str]) -> tuple[float, float, list[int]]:
    before = db.status("Com_select")["Com_select"]
    s = P.Session(pf.port)
    codes = []
    t = time.perf_counter()
    for i, a in enumerate(addresses):
        if i % 500 == 0:
            s.smtp.rset()
            s.mail("bench@remote.example")
        codes.append(s.rcpt(a)[0])
    elapsed = time.perf_counter() - t
    s.quit()
    selects = db.status("Com_select")["Com_select"] - before - 1
    return elapsed / len(addresses) * 1e3, selects / len(addresses), codes


def message_run(pf: P.PrivatePostfix, addresses: list[str]) -> float:
    since = len(pf.log())
    s = P.Session(pf.port)
    t = time.perf_counter()
    for i, a in enumerate(addresses):
        s.mail("bench@remote.example")
        s.rcpt(a)
        s.data(E.message(f"bench{i}", "bench@remote.example", a))
    s.quit()
    deadline = time.monotonic() + 600
    while pf.log()[since:].count("status=sent") < len(addresses):
        if time.monotonic() > deadline:
            raise TimeoutError(pf.log()[-3000:])
        time.sleep(0.05)
    elapsed = time.perf_counter() - t
    if "status=bounced" in pf.log()[since:] or "status=deferred" in pf.log()[since:]:
        raise RuntimeError("a benchmark message was deferred or bounced:\n" + pf.log()[-3000:])
    return elapsed / len(addresses) * 1e3


def load_test(path: Path, addresses: list[str]) -> tuple[float, int, int]:
    per = LOAD_LOOKUPS // LOAD_CONNECTIONS
    errors, answered = [0], [0]
    lock = threading.Lock()
    start = threading.Barrier(LOAD_CONNECTIONS + 1)

    def client(k: int) -> None:
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(str(path))
        f = conn.makefile("rb")
        start.wait()
        bad = ok = 0
        for i in range(per):
            req = f"aliases {addresses[(k * per + i) % len(addresses)]}".encode()
            conn.sendall(b"%d:%s," % (len(req), req))
            n = int(b"".join(iter(lambda: f.read(1), b":")))
            reply = f.read(n + 1)[:-1]
            if reply.startswith((b"OK ", b"NOTFOUND")):
                ok += 1
            else:
                bad += 1
        conn.close()
        with lock:
            errors[0] += bad
            answered[0] += ok

    threads = [threading.Thread(target=client, args=(k,)) for k in range(LOAD_CONNECTIONS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, answered[0], errors[0]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 100_000, 1_000_000]
    root = P.postfix_root()
    binary = P.build_socketmap()
    base = Path(tempfile.mkdtemp(prefix="vmailsql-postfix-bench-"))
    base.chmod(0o755)
    db = E.MariaDB(base / "mariadb", buffer_pool="512M")
    db.start()
    print(f"Postfix {P.postfix_version(root)}, vmailsql-socketmap, MariaDB; legacy schema; "
          f"{RCPTS} RCPTs, {MESSAGES} messages per configuration and size, best of 2 rounds")
    print(f"{'popboxes':>9} {'config':>10} {'ms/RCPT':>8} {'SQL/RCPT':>8} {'ms/msg':>7}")
    try:
        for n in sizes:
            work = base / f"n{n}"
            work.mkdir()
            work.chmod(0o755)
            mail = work / "mail"
            name = f"pfbench_{n}"
            t = time.perf_counter()
            load_site(db, name, n, mail)
            load_s = time.perf_counter() - t
            conf = E.write_vmailsql_config(work / "vmailsql.conf", db.url(name, DB_USER, DB_PASSWORD))
            maps = work / "maps"
            P.install_virtual_maps(maps, db, name, DB_USER, DB_PASSWORD)
            P.install_baseline_maps(maps, db, name, DB_USER, DB_PASSWORD)
            sm = P.Socketmap(binary, work, conf, Path("/"), ("--max-connections", "200"))
            sm.start()
            configs = {
                "vmailsql": P.PrivatePostfix(root, work / "pf-vmailsql",
                                             P.shipped_main_cf(sm.socket, maps)),
                "baseline": P.PrivatePostfix(root, work / "pf-baseline",
                                             P.baseline_main_cf(maps)),
            }
            rnd = random.Random(n)
            rcpts = address_mix(n, RCPTS, rnd)
            msgs = [a for a in address_mix(n, MESSAGES * 2, rnd) if a.startswith("u")][:MESSAGES]
            results, codes = {}, {}
            try:
                for pf in configs.values():
                    pf.start()
                for name_, pf in configs.items():  # warm both: connections, caches
                    rcpt_run(pf, db, rcpts[:100])
                # Two rounds in alternating order, the best of each kept: the first deliveries
                # create the mbox files, and the machine is shared.
                for round_ in range(2):
                    for name_, pf in (configs.items() if round_ == 0 else
                                      reversed(list(configs.items()))):
                        ms, sql, codes[name_] = rcpt_run(pf, db, rcpts)
                        msg = message_run(pf, msgs)
                        old = results.get(name_, [ms, sql, msg])
                        results[name_] = [min(ms, old[0]), sql, min(msg, old[2])]
                assert codes["vmailsql"] == codes["baseline"], "the configurations disagree"
                for name_, (ms, sql, msg) in results.items():
                    print(f"{n:>9} {name_:>10} {ms:>8.3f} {sql:>8.2f} {msg:>7.2f}")
                v, b = results["vmailsql"], results["baseline"]
                print(f"{n:>9} {'ratio':>10} {v[0] / b[0]:>8.2f} {v[1] / b[1]:>8.2f} "
                      f"{v[2] / b[2]:>7.2f}   (vmailsql / baseline; load {load_s:.1f} s; "
                      f"codes {sorted(set(codes['vmailsql']))})")
                elapsed, answered, errors = load_test(sm.socket, rcpts)
                print(f"{n:>9} {'load':>10} {LOAD_CONNECTIONS} connections, {answered + errors} "
                      f"lookups in {elapsed:.1f} s = {(answered + errors) / elapsed:,.0f}/s, "
                      f"{errors} errors")
            finally:
                for pf in configs.values():
                    pf.stop()
                sm.stop()
            db.sql(f"DROP DATABASE {name}")
    finally:
        db.stop()
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if not os.environ.get("VMAILSQL_KEEP_TEST_DIRS"):
            import shutil
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
