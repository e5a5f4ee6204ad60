/*
 * test_fork.c: a handle survives fork(), as Exim and POP3 daemons use it.
 *
 * The parent opens a handle on MariaDB and resolves once (so it holds a live connection), then
 * forks children that resolve and authenticate with the inherited handle while the parent keeps
 * working with it. Every answer must be right, and the server's own counters must show that no
 * connection was shared or broken: exactly one new connection per child that made a call, none
 * for a child that only freed the handle, no reconnect by the parent, no aborted connection.
 *
 * Environment (tests/c/run.sh sets both):
 *   VMAILSQL_TEST_MYSQL_URL     an empty database on a throw-away server,
 *                               mysql://root@localhost/vmailtest?socket=...
 *   VMAILSQL_TEST_MYSQL_CLIENT  a command printing one query's result, e.g.
 *                               "mariadb --no-defaults -S /path/sock -uroot -N -B -e"
 */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmailsql.h"

#define CHILDREN 8
#define ROUNDS 25
#define POPBOXES 10

static int failures = 0;
static int reported = 0; /* wrong answers are described once per process */

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: [pid %ld] check failed: %s (last error: \"%s\")\n", \
                    __FILE__, __LINE__, (long)getpid(), #cond, vmailsql_last_error());   \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

/* The server's Connections and Aborted_clients counters, read in one query with the command
 * line client (itself one connection). Returns 0 on success. */
static int server_status(const char *client, long *connections, long *aborted) {
    char cmd[1024], line[256], key[128];
    long v;
    FILE *p;
    *connections = *aborted = -1;
    snprintf(cmd, sizeof cmd,
             "%s \"SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Aborted_clients')\"",
             client);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    while (fgets(line, sizeof line, p) != NULL) {
        if (sscanf(line, "%127s %ld", key, &v) != 2)
            continue;
        if (strcmp(key, "Connections") == 0)
            *connections = v;
        else if (strcmp(key, "Aborted_clients") == 0)
            *aborted = v;
    }
    if (pclose(p) != 0)
        return -1;
    return *connections >= 0 && *aborted >= 0 ? 0 : -1;
}

/* One round of work with right answers checked; returns the number of wrong answers. */
static int work(vmailsql *h, int seed) {
    int wrong = 0, i = seed % POPBOXES;
    char address[64], password[64];
    vmailsql_resolution *r = NULL;
    vmailsql_mailbox *m = NULL;
    char expected[128];

    snprintf(address, sizeof address, "user%d@example.org", i);
    snprintf(password, sizeof password, "popbox-pw-%d", i);
    snprintf(expected, sizeof expected, "/var/mail/example.org/user%d", i);

    if (vmailsql_resolve(h, address, &r) != VMAILSQL_OK || r->rule != VMAILSQL_RULE_POPBOX ||
        strcmp(r->mbox_path, expected) != 0)
        wrong++;
    vmailsql_resolution_free(r);
    r = NULL;
    if (vmailsql_resolve(h, "info@example.org", &r) != VMAILSQL_OK ||
        r->rule != VMAILSQL_RULE_FORWARDER || r->target_count != 1 ||
        strcmp(r->targets[0], "user0@example.org") != 0)
        wrong++;
    vmailsql_resolution_free(r);
    if (vmailsql_resolve(h, "nobody@example.org", &r) != VMAILSQL_NOT_FOUND)
        wrong++;
    if (vmailsql_authenticate(h, address, password, &m) != VMAILSQL_OK ||
        strcmp(m->mbox_path, expected) != 0)
        wrong++;
    vmailsql_mailbox_free(m);
    if (vmailsql_authenticate(h, address, "wrong", NULL) != VMAILSQL_AUTH_FAILED)
        wrong++;
    if (wrong && reported++ == 0)
        fprintf(stderr, "[pid %ld] wrong answer in round %d: %s\n", (long)getpid(), seed,
                vmailsql_last_error());
    return wrong;
}

int main(void) {
    const char *url = getenv("VMAILSQL_TEST_MYSQL_URL");
    const char *client = getenv("VMAILSQL_TEST_MYSQL_CLIENT");
    char local[32], password[32];
    vmailsql *h = NULL;
    pid_t pids[CHILDREN + 1];
    long connections_before, connections_after, aborted_before, aborted_after;
    int i, round, status, parent_wrong = 0;

    if (url == NULL || client == NULL) {
        fprintf(stderr, "test_fork: set VMAILSQL_TEST_MYSQL_URL and VMAILSQL_TEST_MYSQL_CLIENT "
                        "(tests/c/run.sh starts a throw-away MariaDB and does)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    CHECK(vmailsql_open_url(url, &h) == VMAILSQL_OK);
    if (h == NULL)
        return 1;
    CHECK(vmailsql_create_schema(h) == VMAILSQL_OK);
    CHECK(vmailsql_add_domain(h, "example.org", "/var/mail/example.org", "vmail", NULL,
                              VMAILSQL_UNLIMITED) == VMAILSQL_OK);
    for (i = 0; i < POPBOXES; i++) {
        snprintf(local, sizeof local, "user%d", i);
        snprintf(password, sizeof password, "popbox-pw-%d", i);
        CHECK(vmailsql_add_popbox(h, "example.org", local, password, NULL) == VMAILSQL_OK);
    }
    CHECK(vmailsql_add_forwarder(h, "example.org", "info", "user0@example.org") == VMAILSQL_OK);
    /* The parent resolves once: it now holds a live connection that children inherit. */
    parent_wrong += work(h, 0);

    CHECK(server_status(client, &connections_before, &aborted_before) == 0);

    fflush(NULL);
    for (i = 0; i < CHILDREN + 1; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            int wrong = 0;
            if (i < CHILDREN) {
                for (round = 0; round < ROUNDS; round++)
                    wrong += work(h, i * ROUNDS + round);
            }
            /* The last child only frees the inherited handle: that must not close the
             * parent's connection either. */
            vmailsql_free(h);
            fflush(NULL);
            _exit(wrong == 0 ? 0 : 1);
        }
    }
    /* The parent keeps working while the children run. */
    for (round = 0; round < ROUNDS; round++)
        parent_wrong += work(h, round + 7);
    for (i = 0; i < CHILDREN + 1; i++) {
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (round = 0; round < ROUNDS; round++)
        parent_wrong += work(h, round + 3);
    CHECK(parent_wrong == 0);

    /* Each child that made a call opened exactly one connection of its own; the idle child
     * none; the parent never had to reconnect; the status query itself is one more. */
    CHECK(server_status(client, &connections_after, &aborted_after) == 0);
    CHECK(connections_after - connections_before == CHILDREN + 1);
    CHECK(aborted_after == aborted_before);
    if (connections_after - connections_before != CHILDREN + 1 || aborted_after != aborted_before)
        fprintf(stderr, "connections %ld -> %ld (expected +%d), aborted clients %ld -> %ld\n",
                connections_before, connections_after, CHILDREN + 1, aborted_before,
                aborted_after);
    vmailsql_free(h);

    printf("fork: %d children x %d rounds, parent %d rounds\n", CHILDREN, ROUNDS, 2 * ROUNDS);
    printf("%d passed, %d failed\n", failures == 0 ? 1 : 0, failures == 0 ? 0 : 1);
    return failures == 0 ? 0 : 1;
}
