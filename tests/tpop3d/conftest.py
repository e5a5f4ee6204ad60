"""Fixtures for the tpop3d tests: one build, one SQLite and one MariaDB site per session, and
long-lived helpers (as tpop3d keeps its auth-other program and its Perl interpreter)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tpop3dlib import (MariaDB, auth_other, auth_perl, build_all, mariadb_site, sqlite_site,
                       target_dir, write_config)

ROUTES = ("auth-other", "auth-perl")
BACKENDS = ("sqlite", "mariadb")


@pytest.fixture(scope="session")
def work():
    with tempfile.TemporaryDirectory(prefix="vmailsql-tpop3d-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def build(work):
    return build_all(work)


@pytest.fixture(scope="session")
def mariadb(work):
    # A short path: Unix socket paths are limited to about 100 bytes.
    base = Path(tempfile.mkdtemp(prefix="vmt-", dir="/tmp"))
    # mariadb-install-db and mariadbd put temporary tables in $TMPDIR; a private one keeps
    # them from colliding with other servers started at the same time.
    (base / "tmp").mkdir()
    os.environ["TMPDIR"] = str(base / "tmp")
    db = MariaDB(base / "db")
    db.start()
    yield db
    db.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def configs(work, build, mariadb):
    """A configuration file per backend, each naming a freshly planted site."""
    sqlite_url = sqlite_site(work / "site.db", target_dir() / "release" / "libvmailsql.so")
    return {
        "sqlite": write_config(work / "sqlite.conf", sqlite_url),
        "mariadb": write_config(work / "mariadb.conf", mariadb_site(mariadb, "tpop3d_site")),
    }


@pytest.fixture(scope="session")
def peers(build, configs):
    """One long-lived helper per (route, backend), started on first use."""
    started = {}

    def get(route: str, backend: str):
        key = (route, backend)
        if key not in started:
            start = auth_other if route == "auth-other" else auth_perl
            started[key] = start(build, configs[backend])
        return started[key]

    yield get
    for peer in started.values():
        peer.kill()
