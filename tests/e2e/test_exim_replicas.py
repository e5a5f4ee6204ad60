"""Exim end to end with its lookups on a replica: the real exim4-daemon-heavy routes through
${dlfunc} into libvmailsql, configured with the primary as `database` and a GTID replica as
`replicas` (tests/replication/cluster.sh). With the primary killed, mail is still delivered."""

from __future__ import annotations

import pytest

import eximlib as E
import replication
from test_exim import DB_PASSWORD, DB_USER, Logs, Site, deliver, load_fixture, rcpt_code
from test_exim import base, library  # noqa: F401 (fixtures shared with test_exim.py)


@pytest.fixture(scope="module")
def cluster(base):
    c = replication.Cluster(base / "cluster", replicas=1)
    yield c
    c.down()


@pytest.fixture(scope="module")
def replica_site(base, cluster, library):
    primary, replica = cluster.servers["primary"], cluster.servers["replica1"]
    site = Site(base / "replicated", primary, "vmail_replicated", "legacy", library)
    load_fixture(site)
    # The lookup account may read the replication lag (as `sql/grants.sql` shows).
    primary.sql(f"GRANT SLAVE MONITOR ON *.* TO '{DB_USER}'@'localhost'")
    cluster.sync()
    # Marks which server answers: this popbox exists on the replica only.
    replica.sql("SET SESSION sql_log_bin = 0; INSERT INTO popbox (domain_name, local_part, "
                "password_hash, mbox_name) VALUES ('example.org', 'onreplica', NULL, "
                "'onreplica')", db="vmail_replicated")
    site.vmail_conf.write_text(
        "# written by tests/e2e/test_exim_replicas.py\n"
        f"database = {primary.url('vmail_replicated', DB_USER, DB_PASSWORD)}\n"
        f"replicas = {replica.url('vmail_replicated', DB_USER, DB_PASSWORD)}\n"
        "connect_timeout = 2\nread_timeout = 5\nreplica_recheck = 5\n"
    )
    return site


def test_lookups_go_to_the_replica(replica_site):
    r = deliver(replica_site, ["onreplica@example.org"], "replica1")
    assert rcpt_code(r, "onreplica@example.org") == 250, r["transcript"]
    assert len(replica_site.messages("example.org", "onreplica", "replica1")) == 1


def test_mail_is_delivered_from_the_replica_while_the_primary_is_down(replica_site, cluster):
    logs = Logs(replica_site.exim)
    cluster.servers["primary"].stop()
    try:
        recipients = ["alice@example.org", "team@example.org", "bob@alias.example",
                      "nobody@catch.example"]
        r = deliver(replica_site, recipients, "primarydown")
        for address in recipients:
            assert rcpt_code(r, address) == 250, (address, r["transcript"])
        assert r["data"][0] == 250, r["transcript"]
        # Unknown users are still refused as unknown, not deferred: the replica answers.
        r = deliver(replica_site, ["nobody@example.org"], "primarydown-unknown")
        assert rcpt_code(r, "nobody@example.org") == 550, r["transcript"]
        assert replica_site.exim.queue() == [], "mail left on the queue"
        for domain, name in [("example.org", "alice"), ("example.org", "bob"),
                             ("other.example", "dave"), ("example.org", "catchall")]:
            assert len(replica_site.messages(domain, name, "primarydown")) >= 1, (domain, name)
        assert logs.new("panic") == "", logs.new("panic")
        assert " == " not in logs.new(), logs.new()
    finally:
        cluster.servers["primary"].start()
