"""A MariaDB replication cluster for the end-to-end tests: tests/replication/cluster.sh (the
same script the Rust replica tests use) wrapped so that each server looks like eximlib.MariaDB
to the fixtures (sql, create_database, url, socket)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import eximlib as E

SCRIPT = E.REPO / "tests/replication/cluster.sh"


class Cluster:
    """A primary and `replicas` GTID replicas under `base`; they stop when this process ends."""

    def __init__(self, base: Path, replicas: int = 1):
        E.find_program("mariadbd")
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        listing = self.ctl("up", str(replicas), str(os.getpid()))
        self.servers = {}
        for line in listing.splitlines():
            name, socket, _port = line.split()
            self.servers[name] = Server(self, name, Path(socket))

    def ctl(self, *args: str) -> str:
        proc = subprocess.run(["sh", str(SCRIPT), str(self.base), *args],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"cluster.sh {args}: {proc.stderr.strip()}")
        for server in getattr(self, "servers", {}).values():
            server.open_socket()
        return proc.stdout

    def sync(self) -> None:
        """Waits until every replica has applied what the primary wrote."""
        position = self.servers["primary"].sql("SELECT @@gtid_binlog_pos").strip()
        for name, server in self.servers.items():
            if name != "primary":
                done = server.sql(f"SELECT MASTER_GTID_WAIT('{position}', 30)").strip()
                assert done == "0", f"{name} did not catch up"

    def down(self) -> None:
        self.ctl("down")


class Server(E.MariaDB):
    """One server of a cluster, with eximlib.MariaDB's SQL helpers."""

    def __init__(self, cluster: Cluster, name: str, socket: Path):  # noqa: super() not called
        self.cluster, self.name, self.socket = cluster, name, socket
        self.client = E.find_program("mariadb")
        self.open_socket()

    def open_socket(self) -> None:
        # The Exim user reaches the socket; a restarted server makes a new one.
        if self.socket.exists():
            self.socket.chmod(0o777)

    def start(self) -> None:
        self.cluster.ctl("start", self.name)

    def stop(self) -> None:
        self.cluster.ctl("kill", self.name)
