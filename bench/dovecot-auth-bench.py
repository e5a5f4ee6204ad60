#!/usr/bin/env python3
"""What one Dovecot login costs through each route to the vmail-sql database: the Lua module
(dovecot/vmailsql.lua), Dovecot's own SQL passdb on the same table, and the checkpassword
program (examples/checkpassword.c), with Dovecot's auth cache off and on.

Debian 12's Dovecot 2.3, one private instance per route, a throw-away MariaDB holding 1000
popboxes stored as legacy {md5} hex (cheap to verify, so the route is what is measured; the
SQL passdb reads them as {PLAIN-MD5}). The client speaks Dovecot's auth-client protocol on the
auth socket: AUTH PLAIN, one request at a time, cycling over 200 users; per route a warm-up,
then --logins timed requests. Prints a Markdown table with median and p90 per login, logins
per second, and the ratio to the SQL passdb measured in the same run, and the load average.
Asserts nothing but that every login succeeded.

    python3 bench/dovecot-auth-bench.py [--logins 2000] [--with-2.4]
                                        (as root; needs dovecot-mysql too)

--with-2.4 adds the Lua route on Dovecot 2.4 in the tests' trixie root (built when missing),
against the same database (then kept inside the root); its ratio is to 2.3's SQL passdb.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import dovecotlib as dl  # noqa: E402
import dovecotlua as dv  # noqa: E402

USERS = 1000
DOMAINS = 10
CYCLE = 200
PASSWORD = "secret"
MD5_HEX = "5ebe2294ecd0e0f08eab7690d2a6ee69"  # md5("secret")

SQL_CONF = """\
driver = mysql
connect = host={socket} dbname=vmail user=root
password_query = SELECT CONCAT(local_part, '@', domain_name) AS user, \\
  CONCAT('{{PLAIN-MD5}}', SUBSTRING(password_hash, 6)) AS password \\
  FROM popbox WHERE local_part = '%n' AND domain_name = '%d'
"""

ROUTES = {
    "sql": """\
passdb {{
  driver = sql
  args = {sql_conf}
}}
userdb {{
  driver = prefetch
}}
""",
    "checkpassword": """\
passdb {{
  driver = checkpassword
  args = {checkpassword}
}}
userdb {{
  driver = prefetch
}}
import_environment = TZ VMAILSQL_CONFIG={config}
""",
}


class AuthClient:
    """Dovecot's auth-client protocol (VERSION 1.2) on base_dir/auth-client."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb", buffering=0)
        self.sock.sendall(f"VERSION\t1\t2\nCPID\t{os.getpid()}\n".encode())
        while self.file.readline() not in (b"DONE\n", b""):
            pass
        self.next_id = 1

    def plain(self, user: str) -> bool:
        resp = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(f"AUTH\t{rid}\tPLAIN\tservice=pop3\tlip=127.0.0.1\trip=127.0.0.2"
                          f"\tresp={resp}\n".encode())
        line = self.file.readline().decode()
        return line.startswith(f"OK\t{rid}\t")

    def close(self) -> None:
        self.sock.close()


def measure(dovecot: dv.Dovecot, users: list[str], logins: int) -> list[float]:
    client = AuthClient(dovecot.base / "run" / "auth-client")
    try:
        for user in users[:CYCLE]:  # warm-up: connections, workers, and the cache if on
            assert client.plain(user), f"warm-up login {user} failed\n{dovecot.log_text()[-2000:]}"
        times = []
        for i in range(logins):
            user = users[i % CYCLE]
            start = time.perf_counter()
            ok = client.plain(user)
            times.append(time.perf_counter() - start)
            assert ok, f"login {user} failed\n{dovecot.log_text()[-2000:]}"
        return times
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--with-2.4", dest="with_24", action="store_true",
                        help="also the Lua route on Dovecot 2.4 in the tests' trixie root")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("dovecot-auth-bench: run as root (starts Dovecot and mariadbd)")
    sql_driver = dl.DOVECOT_LIBEXEC / "modules" / "auth" / "libdriver_mysql.so"
    if not (dl.DOVECOT_LIBEXEC / "modules" / "libdriver_mysql.so").exists() \
            and not sql_driver.exists():
        sys.exit("dovecot-auth-bench: Dovecot's MySQL driver missing: "
                 "apt-get install dovecot-mysql")
    load_start = os.getloadavg()
    work = tempfile.TemporaryDirectory(prefix="vmailsql-dovecot-bench-")
    base = Path(work.name)
    os.chmod(base, 0o755)
    host = dv.Host23(base / "build")
    checkpassword = dl.build_checkpassword(host.libdir, base / "checkpassword")
    # With 2.4 the database lives inside the trixie root, where the chrooted Dovecot sees it.
    chroot = dv.Chroot24() if args.with_24 else None
    work24 = chroot.private_dir() if chroot else None
    db = dl.MariaDB((Path(work24.name) if work24 else base) / "mysql")
    db.start()
    try:
        db.sql("CREATE DATABASE vmail")
        api = dl.Vmailsql(host.so, db.url("vmail"))
        api.create_schema()
        uid, _gid = dl.mail_user()
        if chroot:
            chroot.mail_user()  # the domains' unix_user must resolve inside the root too
        for d in range(DOMAINS):
            api.add_domain(f"d{d}.example", f"/var/mail/d{d}.example", dl.MAIL_USER)
        api.close()
        db.sql(f"USE vmail; INSERT INTO popbox SELECT CONCAT('d', seq % {DOMAINS}, '.example'), "
               f"CONCAT('u', seq), '{{md5}}{MD5_HEX}', CONCAT('u', seq) "
               f"FROM seq_0_to_{USERS - 1}; ANALYZE TABLE popbox")
        users = [f"u{i}@d{i % DOMAINS}.example" for i in range(0, USERS, USERS // CYCLE)]
        config = base / "vmailsql.conf"
        config.write_text(f"database = {db.url('vmail')}\n")
        os.chmod(config, 0o644)
        if chroot:
            config24 = Path(work24.name) / "vmailsql.conf"
            config24.write_text("database = mysql://root@localhost/vmail?socket="
                                f"{chroot.inside(db.socket)}\n")
            os.chmod(config24, 0o644)
        sql_conf = base / "dovecot-sql.conf.ext"
        sql_conf.write_text(SQL_CONF.format(socket=db.socket))

        results = []
        routes = ["sql", "lua", "checkpassword"] + (["lua 2.4"] if chroot else [])
        for cache in ("0", "10M"):
            for route in routes:
                if route == "lua 2.4":
                    dovecot = dv.Dovecot(chroot, Path(work24.name) / f"dovecot-lua-{cache}",
                                         config24, uid, cache_size=cache)
                else:
                    dovecot = dv.Dovecot(host, base / f"dovecot-{route}-{cache}", config, uid,
                                         cache_size=cache)
                if route in ROUTES:
                    text = dovecot.conf.read_text()
                    head = text.split("# dovecot/2.3/auth-vmailsql.conf.ext")[0]
                    dovecot.conf.write_text(head + "auth_mechanisms = plain\n" + ROUTES[route]
                                            .format(sql_conf=sql_conf, config=config,
                                                    checkpassword=checkpassword))
                dovecot.start()
                try:
                    times = measure(dovecot, users, args.logins)
                finally:
                    dovecot.stop()
                results.append((route, cache, times))
                print(f"{route} cache={cache}: median {statistics.median(times) * 1e3:.3f} ms",
                      file=sys.stderr)
    finally:
        db.stop()
        work.cleanup()
        if work24:
            work24.cleanup()

    load_end = os.getloadavg()
    print(f"Dovecot auth-client AUTH PLAIN (2.3 unless named), {args.logins} logins per route "
          f"over {CYCLE} users; load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end\n")
    print("| auth cache | route | median per login (ms) | p90 (ms) | logins/s "
          "| median / SQL passdb |")
    print("|---|---|---:|---:|---:|---:|")
    for cache in ("0", "10M"):
        sql_median = next(statistics.median(t) for r, c, t in results if r == "sql" and c == cache)
        for route, c, times in results:
            if c != cache:
                continue
            median = statistics.median(times)
            p90 = statistics.quantiles(times, n=10)[-1]
            label = "off" if cache == "0" else "on (10M)"
            print(f"| {label} | {route} | {median * 1e3:.3f} | {p90 * 1e3:.3f} | "
                  f"{len(times) / sum(times):.0f} | {median / sql_median:.2f}x |")


if __name__ == "__main__":
    main()
