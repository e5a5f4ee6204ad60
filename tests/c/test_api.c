/*
 * test_api.c: exercises every function of the libvmailsql C API.
 *
 * One function per feature, a runner, a non-zero exit status on any failure (regex-capi's
 * ctest style). tests/c/run.sh runs it under AddressSanitizer and under valgrind, and checks
 * that every exported symbol is named in this file.
 *
 * SQLite databases live in a private temporary directory. With VMAILSQL_TEST_MYSQL_URL (an
 * empty database on a throw-away server) and VMAILSQL_TEST_MYSQL_STOP (a shell command that stops it) the
 * "stopped database" test also runs against a real MariaDB that goes away under an open handle;
 * run.sh always provides both. Without them that part FAILS unless VMAILSQL_TEST_NO_MYSQL=1.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmailsql.h"

static const char *current_test = "";
static int check_failures = 0;
static char tmpdir[] = "/tmp/vmailsql-ctest-XXXXXX";
static int db_counter = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: [%s] check failed: %s (last error: \"%s\")\n", __FILE__, \
                    __LINE__, current_test, #cond, vmailsql_last_error());                   \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECK_CODE(call, expected)                                                           \
    do {                                                                                     \
        vmailsql_result r_ = (call);                                                         \
        if (r_ != (expected)) {                                                              \
            fprintf(stderr, "%s:%d: [%s] %s\n    returned %d (%s), expected %s; last error: " \
                            "\"%s\"\n",                                                      \
                    __FILE__, __LINE__, current_test, #call, (int)r_,                        \
                    vmailsql_result_str(r_), #expected, vmailsql_last_error());              \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define CHECK_STR(actual, expected)                                                          \
    do {                                                                                     \
        const char *a_ = (actual), *e_ = (expected);                                         \
        if (a_ == NULL || e_ == NULL ? a_ != e_ : strcmp(a_, e_) != 0) {                     \
            fprintf(stderr, "%s:%d: [%s] %s is \"%s\", expected \"%s\"\n", __FILE__,          \
                    __LINE__, current_test, #actual, a_ ? a_ : "(null)", e_ ? e_ : "(null)"); \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

/* A pointer value that the library must never write (out-parameters stay untouched on error). */
#define SENTINEL ((void *)0x5e)

static const char BAD_UTF8[] = "caf\xe9@example.org";

/* ---- fixtures ---- */

static void db_url(char *buf, size_t size) {
    snprintf(buf, size, "sqlite://%s/db-%d.sqlite", tmpdir, ++db_counter);
}

/* A fresh SQLite database with the recommended schema and:
 *   example.org (path /var/mail/example.org, user vmail, admin password "admin-pw")
 *   alias example.net -> example.org
 *   popbox alice ("alice-s3cret"), popbox carol ({plaintext}tanstaaf), popbox dave ({md5} "secret")
 *   forwarder info -> alice@example.org, bob@elsewhere.example
 * A handle with upgrade_on_login comes from a config file instead. */
static void populate(vmailsql *h) {
    CHECK_CODE(vmailsql_create_schema(h), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_domain(h, "Example.ORG", "/var/mail/example.org", "vmail", "admin-pw",
                                   VMAILSQL_UNLIMITED),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_alias(h, "example.net", "example.org"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "alice", "alice-s3cret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "carol", "{plaintext}tanstaaf",
                                          "carol.mbox"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "dave",
                                          "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69", NULL),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "info",
                                      "alice@example.org, bob@elsewhere.example"),
               VMAILSQL_OK);
}

static vmailsql *fresh_db(void) {
    char url[512];
    vmailsql *h = NULL;
    db_url(url, sizeof url);
    CHECK_CODE(vmailsql_open_url(url, &h), VMAILSQL_OK);
    if (h == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", url, vmailsql_last_error());
        exit(2);
    }
    populate(h);
    return h;
}

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* ---- tests ---- */

static void test_version(void) {
    char expected[64];
    CHECK_STR(vmailsql_version(), VMAILSQL_VERSION);
    snprintf(expected, sizeof expected, "%d.%d.%d", VMAILSQL_VERSION_MAJOR,
             VMAILSQL_VERSION_MINOR, VMAILSQL_VERSION_PATCH);
    CHECK_STR(vmailsql_version(), expected);
    CHECK(VMAILSQL_VERSION_NUMBER == ((VMAILSQL_VERSION_MAJOR << 16) |
                                      (VMAILSQL_VERSION_MINOR << 8) | VMAILSQL_VERSION_PATCH));
    CHECK_STR(VMAILSQL_SONAME, "libvmailsql.so.0");
}

static void test_result_str(void) {
    int code, other;
    for (code = VMAILSQL_OK; code <= VMAILSQL_NULL_ARGUMENT; code++) {
        const char *text = vmailsql_result_str(code);
        CHECK(text != NULL && text[0] != '\0');
        CHECK(strcmp(text, "unknown result code") != 0);
        for (other = VMAILSQL_OK; other < code; other++)
            CHECK(strcmp(text, vmailsql_result_str(other)) != 0);
    }
    CHECK_STR(vmailsql_result_str(VMAILSQL_TEMPORARY), "temporarily unavailable");
    CHECK_STR(vmailsql_result_str(VMAILSQL_NOT_FOUND), "not found");
    CHECK_STR(vmailsql_result_str(VMAILSQL_AUTH_FAILED), "authentication failed");
    CHECK_STR(vmailsql_result_str(-1), "unknown result code");
    CHECK_STR(vmailsql_result_str(4242), "unknown result code");
}

static void test_open_url(void) {
    vmailsql *h = (vmailsql *)SENTINEL;
    CHECK_CODE(vmailsql_open_url(NULL, &h), VMAILSQL_NULL_ARGUMENT);
    CHECK(h == SENTINEL);
    CHECK(strstr(vmailsql_last_error(), "url") != NULL);
    CHECK_CODE(vmailsql_open_url("sqlite::memory:", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_open_url("postgres://localhost/vmail", &h), VMAILSQL_INVALID_INPUT);
    CHECK(h == SENTINEL);
    CHECK(strstr(vmailsql_last_error(), "postgres") != NULL);
    CHECK_CODE(vmailsql_open_url("sqlite:///tmp/\xff.db", &h), VMAILSQL_INVALID_INPUT);
    CHECK(h == SENTINEL);
    CHECK(strstr(vmailsql_last_error(), "UTF-8") != NULL);
    h = NULL;
    CHECK_CODE(vmailsql_open_url("sqlite::memory:", &h), VMAILSQL_OK);
    CHECK(h != NULL);
    CHECK_STR(vmailsql_last_error(), "");
    vmailsql_free(h);
}

static void test_open_config(void) {
    char path[512], text[1024], url[512];
    vmailsql *h = (vmailsql *)SENTINEL;
    char *real = NULL;

    db_url(url, sizeof url);
    snprintf(path, sizeof path, "%s/vmailsql.conf", tmpdir);
    snprintf(text, sizeof text, "# test\ndatabase = %s\nread_timeout = 2\n", url);
    write_file(path, text, 0644);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_OK);
    CHECK(h != SENTINEL && h != NULL);
    if (h != SENTINEL && h != NULL) {
        populate(h);
        CHECK_CODE(vmailsql_local_domain(h, "example.org", &real), VMAILSQL_OK);
        CHECK_STR(real, "example.org");
        vmailsql_string_free(real);
        vmailsql_free(h);
    }

    /* NULL path: $VMAILSQL_CONFIG. */
    h = NULL;
    setenv("VMAILSQL_CONFIG", path, 1);
    CHECK_CODE(vmailsql_open(NULL, &h), VMAILSQL_OK);
    CHECK(h != NULL);
    if (h != NULL) {
        CHECK_CODE(vmailsql_local_domain(h, "EXAMPLE.net", NULL), VMAILSQL_OK);
        vmailsql_free(h);
    }
    unsetenv("VMAILSQL_CONFIG");

    h = (vmailsql *)SENTINEL;
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_NOT_FOUND);
    CHECK(h == SENTINEL);
    CHECK(strstr(vmailsql_last_error(), "missing.conf") != NULL);

    snprintf(path, sizeof path, "%s/bad.conf", tmpdir);
    write_file(path, "database = sqlite::memory:\nfrobnicate = 1\n", 0600);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "line 2") != NULL);

    /* A password readable by others is refused, and the message never shows it. */
    snprintf(path, sizeof path, "%s/secret.conf", tmpdir);
    write_file(path, "database = mysql://vmail:hunter2@localhost/vmail\n", 0644);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "hunter2") == NULL);
    CHECK(h == SENTINEL);
    /* The same for a password given as ?password=, and a file others can write is refused. */
    write_file(path, "database = mysql://vmail@localhost/vmail?password=hunter2\n", 0644);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "hunter2") == NULL);
    CHECK(strstr(vmailsql_last_error(), "0644") != NULL);
    snprintf(path, sizeof path, "%s/writable.conf", tmpdir);
    write_file(path, "database = sqlite::memory:\n", 0666);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "0666") != NULL);
    CHECK(h == SENTINEL);
    /* A server that refuses at once: the message names it, never the query's password. */
    h = NULL;
    CHECK_CODE(vmailsql_open_url("mysql://u@127.0.0.1:1/d?password=hunter2", &h), VMAILSQL_OK);
    CHECK_CODE(vmailsql_create_schema(h), VMAILSQL_TEMPORARY);
    CHECK(strstr(vmailsql_last_error(), "hunter2") == NULL);
    CHECK(strstr(vmailsql_last_error(), "127.0.0.1") != NULL);
    vmailsql_free(h);
    h = (vmailsql *)SENTINEL;

    CHECK_CODE(vmailsql_open(BAD_UTF8, &h), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_open(NULL, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK(h == SENTINEL);
}

static void test_frees_accept_null(void) {
    vmailsql_free(NULL);
    vmailsql_string_free(NULL);
    vmailsql_resolution_free(NULL);
    vmailsql_mailbox_free(NULL);
    vmailsql_domain_free(NULL);
    vmailsql_popbox_free(NULL);
    vmailsql_forwarder_free(NULL);
    vmailsql_string_list_free(NULL);
    vmailsql_domain_list_free(NULL);
    vmailsql_popbox_list_free(NULL);
    vmailsql_forwarder_list_free(NULL);
    vmailsql_alias_list_free(NULL);
    CHECK(1); /* reaching this line without a crash is the test */
}

static void test_last_error_lifecycle(void) {
    vmailsql *h = fresh_db();
    vmailsql_resolution *r = NULL;
    const char *message;
    CHECK_STR(vmailsql_last_error(), "");
    CHECK_CODE(vmailsql_resolve(h, "nobody@nowhere.example", &r), VMAILSQL_NOT_FOUND);
    message = vmailsql_last_error();
    CHECK(strstr(message, "nowhere.example") != NULL);
    /* Functions that return no code leave the message alone. */
    vmailsql_string_free(NULL);
    (void)vmailsql_result_str(VMAILSQL_OK);
    (void)vmailsql_version();
    CHECK(strstr(vmailsql_last_error(), "nowhere.example") != NULL);
    /* Every call that returns a code clears it first. */
    CHECK_CODE(vmailsql_resolve(h, "alice@example.org", &r), VMAILSQL_OK);
    CHECK_STR(vmailsql_last_error(), "");
    vmailsql_resolution_free(r);
    vmailsql_free(h);
}

static void test_schema_and_tables(void) {
    vmailsql *h = NULL;
    vmailsql_string_list *tables = (vmailsql_string_list *)SENTINEL;
    size_t i;
    int has_domain = 0, has_popbox = 0;

    CHECK_CODE(vmailsql_open_url("sqlite::memory:", &h), VMAILSQL_OK);
    CHECK_CODE(vmailsql_create_schema_legacy(h), VMAILSQL_INVALID_INPUT); /* MySQL syntax only */
    CHECK_CODE(vmailsql_tables(h, &tables), VMAILSQL_OK);
    CHECK(tables != SENTINEL && tables->count == 0 && tables->items[0] == NULL);
    vmailsql_string_list_free(tables);

    CHECK_CODE(vmailsql_create_schema(h), VMAILSQL_OK);
    CHECK_CODE(vmailsql_create_schema(h), VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_create_schema_legacy(h), VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_tables(h, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_tables(h, &tables), VMAILSQL_OK);
    CHECK(tables->count >= 5);
    for (i = 0; i < tables->count; i++) {
        has_domain |= strcmp(tables->items[i], "domain") == 0;
        has_popbox |= strcmp(tables->items[i], "popbox") == 0;
    }
    CHECK(has_domain && has_popbox);
    CHECK(tables->items[tables->count] == NULL);
    vmailsql_string_list_free(tables);
    vmailsql_free(h);
}

static void test_domains(void) {
    vmailsql *h = fresh_db();
    vmailsql_domain *d = (vmailsql_domain *)SENTINEL;
    vmailsql_domain_list *list = (vmailsql_domain_list *)SENTINEL;

    CHECK_CODE(vmailsql_get_domain(h, "EXAMPLE.org", &d), VMAILSQL_OK);
    CHECK_STR(d->name, "example.org");
    CHECK_STR(d->path, "/var/mail/example.org");
    CHECK_STR(d->unix_user, "vmail");
    CHECK(d->password_hash != NULL && strncmp(d->password_hash, "{crypt}$6$", 10) == 0);
    CHECK(!d->has_max_popbox && d->max_popbox == VMAILSQL_UNLIMITED);
    vmailsql_domain_free(d);

    CHECK_CODE(vmailsql_add_domain(h, "example.com", "/srv/mail/example.com", "5000", NULL, 2),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_domain(h, "example.com", "/srv/x", "vmail", NULL, VMAILSQL_UNLIMITED),
               VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_domain(h, "example.net", "/srv/x", "vmail", NULL, VMAILSQL_UNLIMITED),
               VMAILSQL_CONFLICT); /* already an alias */
    CHECK_CODE(vmailsql_add_domain(h, "rel.example", "relative/path", "vmail", NULL, 1),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_domain(h, "root.example", "/srv/root", "root", NULL, 1),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_domain(h, "neg.example", "/srv/neg", "vmail", NULL, -7),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_domain(h, "bad..example", "/srv/x", "vmail", NULL, 1),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_domain(h, BAD_UTF8, "/srv/x", "vmail", NULL, 1),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_domain(h, "x.example", NULL, "vmail", NULL, 1),
               VMAILSQL_NULL_ARGUMENT);

    d = (vmailsql_domain *)SENTINEL;
    CHECK_CODE(vmailsql_get_domain(h, "example.com", &d), VMAILSQL_OK);
    CHECK(d->has_max_popbox && d->max_popbox == 2);
    CHECK(d->password_hash == NULL);
    vmailsql_domain_free(d);
    d = (vmailsql_domain *)SENTINEL;
    CHECK_CODE(vmailsql_get_domain(h, "unknown.example", &d), VMAILSQL_NOT_FOUND);
    CHECK(d == SENTINEL);
    CHECK_CODE(vmailsql_get_domain(h, "example.org", NULL), VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_list_domains(h, &list), VMAILSQL_OK);
    CHECK(list->count == 2);
    if (list->count == 2) {
        CHECK_STR(list->items[0].name, "example.com");
        CHECK_STR(list->items[1].name, "example.org");
    }
    vmailsql_domain_list_free(list);
    CHECK_CODE(vmailsql_list_domains(h, NULL), VMAILSQL_NULL_ARGUMENT);

    /* change: NULL keeps, VMAILSQL_KEEP keeps the limit, VMAILSQL_UNLIMITED removes it. */
    CHECK_CODE(vmailsql_change_domain(h, "example.com", "/srv/new", NULL, VMAILSQL_KEEP),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_domain(h, "example.com", &d), VMAILSQL_OK);
    CHECK_STR(d->path, "/srv/new");
    CHECK_STR(d->unix_user, "5000");
    CHECK(d->has_max_popbox && d->max_popbox == 2);
    vmailsql_domain_free(d);
    CHECK_CODE(vmailsql_change_domain(h, "example.com", NULL, "vmail2", VMAILSQL_UNLIMITED),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_domain(h, "example.com", &d), VMAILSQL_OK);
    CHECK_STR(d->path, "/srv/new");
    CHECK_STR(d->unix_user, "vmail2");
    CHECK(!d->has_max_popbox);
    vmailsql_domain_free(d);
    CHECK_CODE(vmailsql_change_domain(h, "example.com", NULL, NULL, -3), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_change_domain(h, "example.com", "../up", NULL, VMAILSQL_KEEP),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_change_domain(h, "nope.example", NULL, NULL, 5), VMAILSQL_NOT_FOUND);

    /* administrator password */
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.org", "admin-pw"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.org", "wrong"), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.com", "anything"), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_domain(h, "unknown.example", "admin-pw"),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.org", "\xff"), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_authenticate_domain(h, NULL, "x"), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_set_domain_password(h, "example.com", "new-admin"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.com", "new-admin"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_set_domain_password(h, "nope.example", "long-enough"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_set_domain_password(h, "example.com", ""), VMAILSQL_INVALID_INPUT);

    CHECK_CODE(vmailsql_delete_domain(h, "example.com"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_delete_domain(h, "example.com"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_delete_domain(h, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_list_domains(h, &list), VMAILSQL_OK);
    CHECK(list->count == 1);
    vmailsql_domain_list_free(list);

    /* Deleting a domain takes its popboxes, forwarders and aliases with it. */
    CHECK_CODE(vmailsql_delete_domain(h, "example.org"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_list_domains(h, &list), VMAILSQL_OK);
    CHECK(list->count == 0 && list->items == NULL);
    vmailsql_domain_list_free(list);
    CHECK_CODE(vmailsql_local_domain(h, "example.net", NULL), VMAILSQL_NOT_FOUND);
    vmailsql_free(h);
}

static void test_popboxes(void) {
    vmailsql *h = fresh_db();
    vmailsql_popbox *p = (vmailsql_popbox *)SENTINEL;
    vmailsql_popbox_list *list = (vmailsql_popbox_list *)SENTINEL;
    size_t i;

    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "ALICE", &p), VMAILSQL_OK);
    CHECK_STR(p->domain, "example.org");
    CHECK_STR(p->local_part, "alice");
    CHECK_STR(p->mbox_name, "alice");
    CHECK(p->password_hash != NULL && strncmp(p->password_hash, "{crypt}$6$", 10) == 0);
    vmailsql_popbox_free(p);
    p = (vmailsql_popbox *)SENTINEL;
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "nobody", &p), VMAILSQL_NOT_FOUND);
    CHECK(p == SENTINEL);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "alice", NULL), VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "alice", "x-password", NULL), VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "eve", "x-password", "alice"), VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_popbox(h, "unknown.example", "eve", "x-password", NULL), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "eve", "x-password", "../../etc/passwd"),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "_default_", "x-password", NULL),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "eve", "", NULL), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "eve", BAD_UTF8, NULL),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", NULL, "x-password", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "frank", NULL, NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "alice", "{md5}x", NULL),
               VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "\xc3", "{md5}x", NULL),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "frank", &p), VMAILSQL_OK);
    CHECK(p->password_hash == NULL);
    vmailsql_popbox_free(p);
    CHECK_CODE(vmailsql_authenticate(h, "frank@example.org", "", NULL), VMAILSQL_AUTH_FAILED);

    /* The popbox limit. */
    CHECK_CODE(vmailsql_add_domain(h, "small.example", "/var/mail/small", "vmail", NULL, 1),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox(h, "small.example", "one", "popbox-one", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_popbox(h, "small.example", "two", "popbox-two", NULL),
               VMAILSQL_LIMIT_EXCEEDED);
    CHECK(strstr(vmailsql_last_error(), "maximum") != NULL);

    CHECK_CODE(vmailsql_list_popboxes(h, "example.org", &list), VMAILSQL_OK);
    CHECK(list->count == 4); /* alice carol dave frank */
    for (i = 0; i < list->count; i++)
        CHECK_STR(list->items[i].domain, "example.org");
    vmailsql_popbox_list_free(list);
    CHECK_CODE(vmailsql_list_popboxes(h, NULL, &list), VMAILSQL_OK);
    CHECK(list->count == 5);
    vmailsql_popbox_list_free(list);
    CHECK_CODE(vmailsql_list_popboxes(h, "unknown.example", &list), VMAILSQL_OK);
    CHECK(list->count == 0 && list->items == NULL);
    vmailsql_popbox_list_free(list);
    CHECK_CODE(vmailsql_list_popboxes(h, NULL, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_list_popboxes(h, BAD_UTF8, &list), VMAILSQL_INVALID_INPUT);

    /* Administrator sets, user changes. */
    CHECK_CODE(vmailsql_set_popbox_password(h, "example.org", "alice", "new-s3cret"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_set_popbox_password(h, "example.org", "alice", "short"),
               VMAILSQL_INVALID_INPUT); /* password_min_length, default 8 */
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "new-s3cret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "alice-s3cret", NULL),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_set_popbox_password(h, "example.org", "nobody", "long-enough"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_change_popbox_password(h, "alice@example.org", "wrong", "other-s3cret"),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_change_popbox_password(h, "nobody@example.org", "new-s3cret", "other-s3cret"),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_change_popbox_password(h, "alice@example.org", "new-s3cret", "other-s3cret"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "other-s3cret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_change_popbox_password(h, "alice@example.org", "other-s3cret", NULL),
               VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_delete_popbox(h, "example.org", "alice"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_delete_popbox(h, "example.org", "alice"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "other-s3cret", NULL),
               VMAILSQL_AUTH_FAILED);
    vmailsql_free(h);
}

static void test_forwarders(void) {
    vmailsql *h = fresh_db();
    vmailsql_forwarder *f = (vmailsql_forwarder *)SENTINEL;
    vmailsql_forwarder_list *list = (vmailsql_forwarder_list *)SENTINEL;

    CHECK_CODE(vmailsql_get_forwarder(h, "example.org", "info", &f), VMAILSQL_OK);
    CHECK_STR(f->domain, "example.org");
    CHECK_STR(f->local_part, "info");
    CHECK_STR(f->remote_name, "alice@example.org, bob@elsewhere.example");
    vmailsql_forwarder_free(f);
    f = (vmailsql_forwarder *)SENTINEL;
    CHECK_CODE(vmailsql_get_forwarder(h, "example.org", "sales", &f), VMAILSQL_NOT_FOUND);
    CHECK(f == SENTINEL);
    CHECK_CODE(vmailsql_get_forwarder(h, "example.org", "info", NULL), VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "info", "x@y.example"),
               VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "pipe", "|/bin/sh"),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "file", "/etc/passwd"),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "loop", "loop@example.net"),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_forwarder(h, "unknown.example", "a", "x@y.example"),
               VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "sales", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "sales", "b\xffz@y.example"),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_forwarder(h, "example.org", "sales", "boss@corp.example"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_change_forwarder(h, "example.org", "sales", "team@corp.example"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_forwarder(h, "example.org", "sales", &f), VMAILSQL_OK);
    CHECK_STR(f->remote_name, "team@corp.example");
    vmailsql_forwarder_free(f);
    CHECK_CODE(vmailsql_change_forwarder(h, "example.org", "nobody", "x@y.example"),
               VMAILSQL_NOT_FOUND);

    /* The catch-all: added, then changed. */
    CHECK_CODE(vmailsql_set_catch_all(h, "example.org", "postmaster@corp.example"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_set_catch_all(h, "example.org", "hostmaster@corp.example"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_forwarder(h, "example.org", "_default_", &f), VMAILSQL_OK);
    CHECK_STR(f->remote_name, "hostmaster@corp.example");
    vmailsql_forwarder_free(f);
    CHECK_CODE(vmailsql_set_catch_all(h, "unknown.example", "x@y.example"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_set_catch_all(h, "example.org", NULL), VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_list_forwarders(h, "example.org", &list), VMAILSQL_OK);
    CHECK(list->count == 3);
    vmailsql_forwarder_list_free(list);
    CHECK_CODE(vmailsql_list_forwarders(h, NULL, &list), VMAILSQL_OK);
    CHECK(list->count == 3);
    vmailsql_forwarder_list_free(list);
    CHECK_CODE(vmailsql_list_forwarders(h, NULL, NULL), VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_delete_forwarder(h, "example.org", "_default_"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_delete_forwarder(h, "example.org", "_default_"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_delete_forwarder(h, "example.org", BAD_UTF8), VMAILSQL_INVALID_INPUT);
    vmailsql_free(h);
}

static void test_aliases(void) {
    vmailsql *h = fresh_db();
    vmailsql_alias_list *list = (vmailsql_alias_list *)SENTINEL;

    CHECK_CODE(vmailsql_list_aliases(h, NULL, &list), VMAILSQL_OK);
    CHECK(list->count == 1);
    if (list->count == 1) {
        CHECK_STR(list->items[0].alias, "example.net");
        CHECK_STR(list->items[0].domain, "example.org");
    }
    vmailsql_alias_list_free(list);
    CHECK_CODE(vmailsql_add_alias(h, "example.info", "EXAMPLE.ORG"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_add_alias(h, "example.info", "example.org"), VMAILSQL_CONFLICT);
    CHECK_CODE(vmailsql_add_alias(h, "example.org", "example.org"), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_add_alias(h, "example.biz", "unknown.example"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_add_alias(h, NULL, "example.org"), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_list_aliases(h, "example.org", &list), VMAILSQL_OK);
    CHECK(list->count == 2);
    vmailsql_alias_list_free(list);
    CHECK_CODE(vmailsql_list_aliases(h, "example.net", &list), VMAILSQL_OK);
    CHECK(list->count == 0 && list->items == NULL);
    vmailsql_alias_list_free(list);
    CHECK_CODE(vmailsql_list_aliases(h, NULL, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_delete_alias(h, "example.info"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_delete_alias(h, "example.info"), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_delete_alias(h, "\xff"), VMAILSQL_INVALID_INPUT);
    vmailsql_free(h);
}

static void test_resolve(void) {
    vmailsql *h = fresh_db();
    vmailsql_resolution *r = (vmailsql_resolution *)SENTINEL;

    /* A forwarder shadows nothing here; two targets, NULL-terminated. */
    CHECK_CODE(vmailsql_resolve(h, "Info@Example.ORG", &r), VMAILSQL_OK);
    CHECK(r->rule == VMAILSQL_RULE_FORWARDER);
    CHECK_STR(r->domain, "example.org");
    CHECK_STR(r->local_part, "info");
    CHECK(r->target_count == 2);
    if (r->target_count == 2) {
        CHECK_STR(r->targets[0], "alice@example.org");
        CHECK_STR(r->targets[1], "bob@elsewhere.example");
        CHECK(r->targets[2] == NULL);
    }
    CHECK(r->mbox_path == NULL && r->domain_path == NULL && r->unix_user == NULL);
    vmailsql_resolution_free(r);

    /* A popbox, reached through the alias domain. */
    CHECK_CODE(vmailsql_resolve(h, "carol@example.net", &r), VMAILSQL_OK);
    CHECK(r->rule == VMAILSQL_RULE_POPBOX);
    CHECK_STR(r->domain, "example.org");
    CHECK_STR(r->local_part, "carol");
    CHECK_STR(r->mbox_path, "/var/mail/example.org/carol.mbox");
    CHECK_STR(r->domain_path, "/var/mail/example.org");
    CHECK_STR(r->unix_user, "vmail");
    CHECK(r->target_count == 0 && r->targets != NULL && r->targets[0] == NULL);
    vmailsql_resolution_free(r);

    /* Unknown local part: NOT_FOUND until there is a catch-all. */
    r = (vmailsql_resolution *)SENTINEL;
    CHECK_CODE(vmailsql_resolve(h, "zed@example.org", &r), VMAILSQL_NOT_FOUND);
    CHECK(r == SENTINEL);
    CHECK_CODE(vmailsql_set_catch_all(h, "example.org", "postmaster@corp.example"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_resolve_parts(h, "ZED", "example.net", &r), VMAILSQL_OK);
    CHECK(r->rule == VMAILSQL_RULE_CATCH_ALL);
    CHECK_STR(r->local_part, "zed");
    CHECK(r->target_count == 1);
    CHECK_STR(r->targets[0], "postmaster@corp.example");
    vmailsql_resolution_free(r);
    /* The catch-all never shadows a popbox. */
    CHECK_CODE(vmailsql_resolve_parts(h, "alice", "example.org", &r), VMAILSQL_OK);
    CHECK(r->rule == VMAILSQL_RULE_POPBOX);
    CHECK_STR(r->mbox_path, "/var/mail/example.org/alice");
    vmailsql_resolution_free(r);

    r = (vmailsql_resolution *)SENTINEL;
    CHECK_CODE(vmailsql_resolve(h, "alice@not-local.example", &r), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_resolve(h, "no-at-sign", &r), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_resolve(h, BAD_UTF8, &r), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_resolve(h, NULL, &r), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_resolve(h, "alice@example.org", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_resolve_parts(h, "alice", NULL, &r), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_resolve_parts(h, "\xff", "example.org", &r), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_resolve_parts(h, "alice", "example.org", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK(r == SENTINEL);
    vmailsql_free(h);
}

static void test_local_domain(void) {
    vmailsql *h = fresh_db();
    char *real = (char *)SENTINEL;
    CHECK_CODE(vmailsql_local_domain(h, "EXAMPLE.NET", &real), VMAILSQL_OK);
    CHECK_STR(real, "example.org");
    vmailsql_string_free(real);
    real = (char *)SENTINEL;
    CHECK_CODE(vmailsql_local_domain(h, "example.org", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_local_domain(h, "elsewhere.example", &real), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_local_domain(h, "a..b", &real), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_local_domain(h, "\xfe.example", &real), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_local_domain(h, NULL, &real), VMAILSQL_NULL_ARGUMENT);
    CHECK(real == SENTINEL);
    vmailsql_free(h);
}

static void test_authenticate(void) {
    vmailsql *h = fresh_db();
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;

    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "alice-s3cret", &m), VMAILSQL_OK);
    CHECK_STR(m->domain, "example.org");
    CHECK_STR(m->local_part, "alice");
    CHECK_STR(m->mbox_path, "/var/mail/example.org/alice");
    CHECK_STR(m->domain_path, "/var/mail/example.org");
    CHECK_STR(m->unix_user, "vmail");
    vmailsql_mailbox_free(m);
    /* tpop3d's separators; the mailbox out-parameter is optional. */
    CHECK_CODE(vmailsql_authenticate(h, "alice%example.org", "alice-s3cret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "Alice@Example.Org", "alice-s3cret", NULL), VMAILSQL_OK);

    m = (vmailsql_mailbox *)SENTINEL;
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "S3CRET", &m), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "", &m), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate(h, "mallory@example.org", "alice-s3cret", &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate(h, "alice@unknown.example", "alice-s3cret", &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate(h, "alice", "alice-s3cret", &m), VMAILSQL_AUTH_FAILED);
    /* tpop3d never resolved aliases for logins (login_via_alias is off by default). */
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.net", "alice-s3cret", &m), VMAILSQL_AUTH_FAILED);
    /* Passwords are bytes, as tpop3d compared them: a Latin-1 one is just another password. */
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "s3cr\xe9t", &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate(h, BAD_UTF8, "alice-s3cret", &m), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_authenticate(h, NULL, "alice-s3cret", &m), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", NULL, &m), VMAILSQL_NULL_ARGUMENT);
    CHECK(m == SENTINEL);
    /* Legacy hashes verify ({md5} hex of "secret"). */
    CHECK_CODE(vmailsql_authenticate(h, "dave@example.org", "secret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "dave@example.org", "Secret", NULL), VMAILSQL_AUTH_FAILED);
    /* A legacy hash of a Latin-1 password ({md5} of "p\xe4ssw\xf6rd" as ISO-8859-1 bytes). */
    CHECK_CODE(vmailsql_add_popbox_record(h, "example.org", "latin", "{md5}2ca67a2dbf3a2f52ef5126a2ae8f8a2f",
                                          NULL),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "latin@example.org", "p\xe4ssw\xf6rd", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_authenticate(h, "latin@example.org", "p\xc3\xa4ssw\xc3\xb6rd", NULL),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify("{md5}2ca67a2dbf3a2f52ef5126a2ae8f8a2f", "p\xe4ssw\xf6rd"),
               VMAILSQL_OK);
    vmailsql_free(h);
}

/* RFC 1939's example: timestamp, password "tanstaaf", digest. */
#define APOP_TS "<1896.697170952@dbc.mtview.ca.us>"
#define APOP_DIGEST "c4c9334bac560ecc979e58001b3e22fb"

static void test_apop(void) {
    vmailsql *h = fresh_db();
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", APOP_TS, APOP_DIGEST, &m),
               VMAILSQL_OK);
    CHECK_STR(m->mbox_path, "/var/mail/example.org/carol.mbox");
    vmailsql_mailbox_free(m);
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", APOP_TS,
                                          "C4C9334BAC560ECC979E58001B3E22FB", NULL),
               VMAILSQL_OK);
    m = (vmailsql_mailbox *)SENTINEL;
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", APOP_TS,
                                          "c4c9334bac560ecc979e58001b3e22fc", &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", "<other@host>", APOP_DIGEST,
                                          &m),
               VMAILSQL_AUTH_FAILED);
    /* Only {plaintext} popboxes can use APOP. */
    CHECK_CODE(vmailsql_authenticate_apop(h, "alice@example.org", APOP_TS, APOP_DIGEST, &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_apop(h, "nobody@example.org", APOP_TS, APOP_DIGEST, &m),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", NULL, APOP_DIGEST, &m),
               VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", APOP_TS, "\xff", &m),
               VMAILSQL_INVALID_INPUT);
    CHECK(m == SENTINEL);
    vmailsql_free(h);
}

static void test_plaintext_credentials(void) {
    vmailsql *h = fresh_db();
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;
    char *clear = (char *)SENTINEL;

    CHECK_CODE(vmailsql_plaintext_credentials(h, "carol@example.org", &m, &clear), VMAILSQL_OK);
    CHECK_STR(clear, "tanstaaf");
    CHECK_STR(m->local_part, "carol");
    CHECK_STR(m->unix_user, "vmail");
    vmailsql_string_free(clear);
    vmailsql_mailbox_free(m);

    m = (vmailsql_mailbox *)SENTINEL;
    clear = (char *)SENTINEL;
    CHECK_CODE(vmailsql_plaintext_credentials(h, "alice@example.org", &m, &clear),
               VMAILSQL_AUTH_FAILED); /* hashed: no cleartext to give */
    CHECK_CODE(vmailsql_plaintext_credentials(h, "nobody@example.org", &m, &clear),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_plaintext_credentials(h, "carol@example.org", NULL, &clear),
               VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_plaintext_credentials(h, "carol@example.org", &m, NULL),
               VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_plaintext_credentials(h, BAD_UTF8, &m, &clear), VMAILSQL_INVALID_INPUT);
    CHECK(m == SENTINEL && clear == SENTINEL);
    vmailsql_free(h);
}

static void test_lookup_mailbox(void) {
    vmailsql *h = fresh_db();
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;
    CHECK_CODE(vmailsql_lookup_mailbox(h, "ALICE@example.org", &m), VMAILSQL_OK);
    CHECK_STR(m->mbox_path, "/var/mail/example.org/alice");
    vmailsql_mailbox_free(m);
    m = (vmailsql_mailbox *)SENTINEL;
    CHECK_CODE(vmailsql_lookup_mailbox(h, "nobody@example.org", &m), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_lookup_mailbox(h, "alice@example.org", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_lookup_mailbox(h, BAD_UTF8, &m), VMAILSQL_INVALID_INPUT);
    CHECK(m == SENTINEL);
    vmailsql_free(h);
}

static void test_password_functions(void) {
    static const char *const schemes[] = {
        "crypt", "SHA512-CRYPT", "sha256-crypt", "BLF-CRYPT", "ARGON2ID",
        "YESCRYPT", "CRYPT_MD5", "MD5", "PLAINTEXT",
    };
    static const char *const prefixes[] = {
        "{crypt}$6$", "{SHA512-CRYPT}$6$", "{SHA256-CRYPT}$5$", "{BLF-CRYPT}$2y$",
        "{ARGON2ID}$argon2id$", "{crypt}$y$", "{crypt_md5}$1$", "{md5}", "{plaintext}",
    };
    /* Test vectors from the legacy contract, "secret" unless noted. */
    static const char *const vectors[] = {
        "5ebe2294ecd0e0f08eab7690d2a6ee69",
        "{md5}Xr4ilOzQ4PCOq3aQ0qbuaQ==",
        "{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
        "{crypt}abNANd1rDfiNc",
        "{crypt_md5}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1",
        "{mysql}428567f408994404",
        "{plaintext}secret",
    };
    size_t i;
    char *hash = (char *)SENTINEL;
    const char *name = NULL;
    bool weak = false, plain = false;
    vmailsql *h = NULL;

    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        hash = NULL;
        CHECK_CODE(vmailsql_password_hash(schemes[i], "pässwörd", &hash), VMAILSQL_OK);
        CHECK(hash != NULL && strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0);
        if (hash != NULL) {
            CHECK_CODE(vmailsql_password_verify(hash, "pässwörd"), VMAILSQL_OK);
            CHECK_CODE(vmailsql_password_verify(hash, "passwoerd"), VMAILSQL_AUTH_FAILED);
        }
        vmailsql_string_free(hash);
    }
    CHECK_CODE(vmailsql_password_hash(NULL, "secret-pw", &hash), VMAILSQL_OK);
    CHECK(strncmp(hash, "{crypt}$6$", 10) == 0);
    vmailsql_string_free(hash);
    hash = (char *)SENTINEL;
    CHECK_CODE(vmailsql_password_hash("rot13", "secret-pw", &hash), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "rot13") != NULL);
    CHECK_CODE(vmailsql_password_hash(NULL, "", &hash), VMAILSQL_INVALID_INPUT);
    /* Without a handle, the default password_min_length: 8 characters. */
    CHECK_CODE(vmailsql_password_hash("MD5", "seven-c", &hash), VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "at least 8 characters") != NULL);
    CHECK_CODE(vmailsql_password_hash("\xff", "secret-pw", &hash), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_password_hash(NULL, "\xff", &hash), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_password_hash(NULL, NULL, &hash), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_password_hash(NULL, "secret-pw", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK(hash == SENTINEL);

    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        CHECK_CODE(vmailsql_password_verify(vectors[i], "secret"), VMAILSQL_OK);
        CHECK_CODE(vmailsql_password_verify(vectors[i], "secreT"), VMAILSQL_AUTH_FAILED);
    }
    CHECK_CODE(vmailsql_password_verify("", ""), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify("{rot13}frperg", "secret"), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify(NULL, "secret"), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_password_verify("{plaintext}secret", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_password_verify("{plaintext}\xff", "\xff"), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_password_verify("{plaintext}secret", "\xff"), VMAILSQL_AUTH_FAILED);

    /* DIGEST-MD5 hashes the login too (doveadm pw -s DIGEST-MD5 -u alice@example.org -p secret):
       without one it is a clear error, not a wrong password. */
    CHECK_CODE(vmailsql_password_verify("{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b2", "secret"),
               VMAILSQL_INVALID_INPUT);
    CHECK(strstr(vmailsql_last_error(), "vmailsql_password_verify_user") != NULL);
    CHECK_CODE(vmailsql_password_verify_user("{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b2",
                                             "alice@example.org", "secret"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_password_verify_user("{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b2",
                                             "bob@example.org", "secret"),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify_user("{DIGEST-MD5}543e1aec5d3614f03141652d6ada51b2",
                                             "alice@example.org", "secreT"),
               VMAILSQL_AUTH_FAILED);
    /* Other schemes ignore the user (doveadm pw -s SCRAM-SHA-1 -p secret). */
    CHECK_CODE(vmailsql_password_verify_user(
                   "{SCRAM-SHA-1}4096,YfA1sDgAX9rhxB4OfLRA3g==,HKVM+K+rnPFD1U3s1wUOZmML3aY=,"
                   "PugjxtLScHMiDJS7TWXb39shh8s=",
                   "anyone", "secret"),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_password_verify_user("{plaintext}secret", NULL, "secret"),
               VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_password_verify_apop("{plaintext}tanstaaf", APOP_TS, APOP_DIGEST),
               VMAILSQL_OK);
    CHECK_CODE(vmailsql_password_verify_apop("{md5}5ebe2294ecd0e0f08eab7690d2a6ee69", APOP_TS,
                                             APOP_DIGEST),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify_apop("{plaintext}tanstaaf", "", APOP_DIGEST),
               VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_password_verify_apop("{plaintext}tanstaaf", APOP_TS, NULL),
               VMAILSQL_NULL_ARGUMENT);

    CHECK_CODE(vmailsql_password_identify("{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
                                          &name, &weak, &plain),
               VMAILSQL_OK);
    CHECK(name != NULL && name[0] != '\0');
    CHECK(weak && !plain);
    CHECK_CODE(vmailsql_password_identify("{plaintext}secret", &name, &weak, &plain),
               VMAILSQL_OK);
    CHECK(weak && plain);
    CHECK_CODE(vmailsql_password_identify(vectors[4], &name, &weak, &plain), VMAILSQL_OK);
    CHECK(weak && !plain);
    hash = NULL;
    CHECK_CODE(vmailsql_password_hash("SHA512-CRYPT", "secret-pw", &hash), VMAILSQL_OK);
    CHECK_CODE(vmailsql_password_identify(hash, &name, &weak, &plain), VMAILSQL_OK);
    CHECK(!weak && !plain);
    CHECK(strstr(name, "512") != NULL);
    vmailsql_string_free(hash);
    CHECK_CODE(vmailsql_password_identify("{sha1}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4",
                                          NULL, NULL, NULL),
               VMAILSQL_OK);
    name = (const char *)SENTINEL;
    CHECK_CODE(vmailsql_password_identify("{rot13}x", &name, &weak, &plain),
               VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_password_identify("", &name, &weak, &plain), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_password_identify(NULL, &name, &weak, &plain), VMAILSQL_NULL_ARGUMENT);
    CHECK(name == SENTINEL);

    /* The handle's policy scheme (default crypt). */
    CHECK_CODE(vmailsql_open_url("sqlite::memory:", &h), VMAILSQL_OK);
    hash = (char *)SENTINEL;
    CHECK_CODE(vmailsql_hash_password(h, "", &hash), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_hash_password(h, "x", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_hash_password(h, "\xff", &hash), VMAILSQL_INVALID_INPUT);
    CHECK(hash == SENTINEL);
    {
        uint32_t min_length = 0;
        CHECK_CODE(vmailsql_password_min_length(h, &min_length), VMAILSQL_OK);
        CHECK(min_length == 8); /* the default password_min_length */
        CHECK_CODE(vmailsql_password_min_length(h, NULL), VMAILSQL_NULL_ARGUMENT);
        CHECK_CODE(vmailsql_password_min_length(NULL, &min_length), VMAILSQL_NULL_ARGUMENT);
    }
    CHECK_CODE(vmailsql_hash_password(h, "secret-pw", &hash), VMAILSQL_OK);
    CHECK(strncmp(hash, "{crypt}$6$", 10) == 0);
    CHECK_CODE(vmailsql_password_verify(hash, "secret-pw"), VMAILSQL_OK);
    vmailsql_string_free(hash);
    vmailsql_free(h);
}

static void test_signin_throttle(void) {
    vmailsql *h = fresh_db();
    uint32_t attempts = 4242;

    CHECK_CODE(vmailsql_signin_attempts(h, "domain:example.org", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 0);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "domain:example.org", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 1);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "domain:example.org", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 2);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "client:192.0.2.1", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 1); /* subjects are counted apart */
    CHECK_CODE(vmailsql_signin_attempts(h, "domain:example.org", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 2);
    CHECK_CODE(vmailsql_clear_signin_attempts(h, "domain:example.org"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_signin_attempts(h, "domain:example.org", 900, &attempts), VMAILSQL_OK);
    CHECK(attempts == 0);
    attempts = 4242;
    CHECK_CODE(vmailsql_count_signin_attempt(h, "", 900, &attempts), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "domain:x", 0, &attempts), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "\xff", 900, &attempts), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_count_signin_attempt(h, "domain:x", 900, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_signin_attempts(h, NULL, 900, &attempts), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_clear_signin_attempts(NULL, "domain:x"), VMAILSQL_NULL_ARGUMENT);
    CHECK(attempts == 4242); /* out-parameters untouched on failure */
    vmailsql_free(h);
}

static void test_sessions(void) {
    vmailsql *h = fresh_db();
    char *token = (char *)SENTINEL;
    uint64_t expired = 4242;
    size_t i;

    CHECK_CODE(vmailsql_create_session(h, "example.org", &token), VMAILSQL_OK);
    CHECK(token != SENTINEL && strlen(token) == 64);
    for (i = 0; token != SENTINEL && i < 64; i++)
        CHECK(strchr("0123456789abcdef", token[i]) != NULL);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", token), VMAILSQL_OK);
    CHECK_CODE(vmailsql_validate_session(h, "EXAMPLE.ORG", token), VMAILSQL_OK);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", "0000"), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_validate_session(h, "example.net", token), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", "\xff"), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_expire_sessions(h, &expired), VMAILSQL_OK);
    CHECK(expired == 0); /* the session is fresh */
    CHECK_CODE(vmailsql_expire_sessions(h, NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_destroy_session(h, "example.org"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", token), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_destroy_session(h, "example.org"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_destroy_session(h, NULL), VMAILSQL_NULL_ARGUMENT);
    vmailsql_string_free(token);

    token = (char *)SENTINEL;
    CHECK_CODE(vmailsql_create_session(h, "unknown.example", &token), VMAILSQL_NOT_FOUND);
    CHECK_CODE(vmailsql_create_session(h, "example.org", NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK(token == SENTINEL);
    /* A new admin password ends the session. */
    CHECK_CODE(vmailsql_create_session(h, "example.org", &token), VMAILSQL_OK);
    CHECK_CODE(vmailsql_set_domain_password(h, "example.org", "rotated-pw"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_validate_session(h, "example.org", token), VMAILSQL_AUTH_FAILED);
    vmailsql_string_free(token);
    vmailsql_free(h);
}

static void test_upgrade_on_login(void) {
    char path[512], text[1024], url[512];
    vmailsql *h = NULL;
    vmailsql_popbox *p = NULL;

    db_url(url, sizeof url);
    snprintf(path, sizeof path, "%s/upgrade.conf", tmpdir);
    snprintf(text, sizeof text, "database = %s\nupgrade_on_login = yes\n", url);
    write_file(path, text, 0600);
    CHECK_CODE(vmailsql_open(path, &h), VMAILSQL_OK);
    if (h == NULL)
        return;
    populate(h);
    CHECK_CODE(vmailsql_authenticate(h, "dave@example.org", "wrong", NULL), VMAILSQL_AUTH_FAILED);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "dave", &p), VMAILSQL_OK);
    CHECK_STR(p->password_hash, "{md5}5ebe2294ecd0e0f08eab7690d2a6ee69");
    vmailsql_popbox_free(p);
    CHECK_CODE(vmailsql_authenticate(h, "dave@example.org", "secret", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "dave", &p), VMAILSQL_OK);
    CHECK(strncmp(p->password_hash, "{crypt}$6$", 10) == 0);
    vmailsql_popbox_free(p);
    CHECK_CODE(vmailsql_authenticate(h, "dave@example.org", "secret", NULL), VMAILSQL_OK);
    /* {plaintext} stays (APOP needs it) unless upgrade_plaintext is set. */
    CHECK_CODE(vmailsql_authenticate(h, "carol@example.org", "tanstaaf", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "carol", &p), VMAILSQL_OK);
    CHECK_STR(p->password_hash, "{plaintext}tanstaaf");
    vmailsql_popbox_free(p);
    vmailsql_free(h);
}

/* Every call that needs the database answers TEMPORARY when it is unreachable: never
 * NOT_FOUND or AUTH_FAILED, which would bounce mail or reject a good password. */
static void expect_all_temporary(vmailsql *h) {
    vmailsql_resolution *r = (vmailsql_resolution *)SENTINEL;
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;
    vmailsql_domain_list *dl = (vmailsql_domain_list *)SENTINEL;
    vmailsql_popbox *p = (vmailsql_popbox *)SENTINEL;
    char *s = (char *)SENTINEL;

    CHECK_CODE(vmailsql_resolve(h, "alice@example.org", &r), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_resolve(h, "nobody@unknown.example", &r), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_resolve_parts(h, "info", "example.org", &r), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_local_domain(h, "example.org", &s), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "alice-s3cret", &m), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "wrong", &m), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_authenticate(h, "nobody@example.org", "x", &m), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_authenticate_apop(h, "carol@example.org", APOP_TS, APOP_DIGEST, &m),
               VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_plaintext_credentials(h, "carol@example.org", &m, &s),
               VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_lookup_mailbox(h, "alice@example.org", &m), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_authenticate_domain(h, "example.org", "admin-pw"), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_list_domains(h, &dl), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_get_popbox(h, "example.org", "alice", &p), VMAILSQL_TEMPORARY);
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "zoe", "popbox-pw", NULL), VMAILSQL_TEMPORARY);
    CHECK(r == SENTINEL && m == SENTINEL && dl == SENTINEL && p == SENTINEL && s == SENTINEL);
    CHECK(vmailsql_last_error()[0] != '\0');
}

static void test_database_down(void) {
    vmailsql *h = NULL;
    const char *url = getenv("VMAILSQL_TEST_MYSQL_URL");
    const char *stop = getenv("VMAILSQL_TEST_MYSQL_STOP");

    /* A MySQL socket that does not exist. */
    CHECK_CODE(vmailsql_open_url("mysql://root@localhost/vmail?socket=/nonexistent/mysqld.sock",
                                 &h),
               VMAILSQL_OK);
    if (h != NULL) {
        expect_all_temporary(h);
        vmailsql_free(h);
    }
    /* An SQLite file that cannot be opened. */
    h = NULL;
    CHECK_CODE(vmailsql_open_url("sqlite:///nonexistent-dir/vmail.db", &h), VMAILSQL_OK);
    if (h != NULL) {
        CHECK_CODE(vmailsql_resolve(h, "alice@example.org", NULL), VMAILSQL_NULL_ARGUMENT);
        expect_all_temporary(h);
        vmailsql_free(h);
    }

    /* A real MariaDB stopped under a handle that was connected. */
    if (url == NULL || stop == NULL) {
        if (getenv("VMAILSQL_TEST_NO_MYSQL") == NULL) {
            fprintf(stderr, "test_database_down: set VMAILSQL_TEST_MYSQL_URL and "
                            "VMAILSQL_TEST_MYSQL_STOP (tests/c/run.sh does), or "
                            "VMAILSQL_TEST_NO_MYSQL=1 to leave MariaDB out\n");
            check_failures++;
        }
        return;
    }
    h = NULL;
    CHECK_CODE(vmailsql_open_url(url, &h), VMAILSQL_OK);
    if (h == NULL)
        return;
    populate(h);
    CHECK_CODE(vmailsql_authenticate(h, "alice@example.org", "alice-s3cret", NULL), VMAILSQL_OK);
    {
        vmailsql_resolution *r = NULL;
        CHECK_CODE(vmailsql_resolve(h, "nobody@unknown.example", &r), VMAILSQL_NOT_FOUND);
        CHECK_CODE(vmailsql_resolve(h, "info@example.org", &r), VMAILSQL_OK);
        vmailsql_resolution_free(r);
    }
    if (system(stop) != 0) {
        fprintf(stderr, "test_database_down: stop command failed: %s\n", stop);
        check_failures++;
    }
    expect_all_temporary(h);
    vmailsql_free(h);
}

/* Every function that takes a handle refuses NULL with VMAILSQL_NULL_ARGUMENT. */
static void test_null_handle(void) {
    vmailsql_resolution *r = (vmailsql_resolution *)SENTINEL;
    vmailsql_mailbox *m = (vmailsql_mailbox *)SENTINEL;
    vmailsql_domain *d = (vmailsql_domain *)SENTINEL;
    vmailsql_domain_list *dl = (vmailsql_domain_list *)SENTINEL;
    vmailsql_popbox *p = (vmailsql_popbox *)SENTINEL;
    vmailsql_popbox_list *pl = (vmailsql_popbox_list *)SENTINEL;
    vmailsql_forwarder *f = (vmailsql_forwarder *)SENTINEL;
    vmailsql_forwarder_list *fl = (vmailsql_forwarder_list *)SENTINEL;
    vmailsql_alias_list *al = (vmailsql_alias_list *)SENTINEL;
    vmailsql_string_list *sl = (vmailsql_string_list *)SENTINEL;
    char *s = (char *)SENTINEL;
    uint64_t n = 7;
    const vmailsql_result e = VMAILSQL_NULL_ARGUMENT;

    CHECK_CODE(vmailsql_resolve(NULL, "a@b.example", &r), e);
    CHECK_CODE(vmailsql_resolve_parts(NULL, "a", "b.example", &r), e);
    CHECK_CODE(vmailsql_local_domain(NULL, "b.example", &s), e);
    CHECK_CODE(vmailsql_authenticate(NULL, "a@b.example", "pw", &m), e);
    CHECK_CODE(vmailsql_authenticate_apop(NULL, "a@b.example", APOP_TS, APOP_DIGEST, &m), e);
    CHECK_CODE(vmailsql_plaintext_credentials(NULL, "a@b.example", &m, &s), e);
    CHECK_CODE(vmailsql_lookup_mailbox(NULL, "a@b.example", &m), e);
    CHECK_CODE(vmailsql_authenticate_domain(NULL, "b.example", "pw"), e);
    CHECK_CODE(vmailsql_hash_password(NULL, "pw", &s), e);
    CHECK_CODE(vmailsql_create_schema(NULL), e);
    CHECK_CODE(vmailsql_create_schema_legacy(NULL), e);
    CHECK_CODE(vmailsql_tables(NULL, &sl), e);
    CHECK_CODE(vmailsql_add_domain(NULL, "b.example", "/p", "vmail", NULL, 1), e);
    CHECK_CODE(vmailsql_get_domain(NULL, "b.example", &d), e);
    CHECK_CODE(vmailsql_list_domains(NULL, &dl), e);
    CHECK_CODE(vmailsql_change_domain(NULL, "b.example", NULL, NULL, VMAILSQL_KEEP), e);
    CHECK_CODE(vmailsql_set_domain_password(NULL, "b.example", "pw"), e);
    CHECK_CODE(vmailsql_delete_domain(NULL, "b.example"), e);
    CHECK_CODE(vmailsql_add_popbox(NULL, "b.example", "a", "pw", NULL), e);
    CHECK_CODE(vmailsql_add_popbox_record(NULL, "b.example", "a", NULL, NULL), e);
    CHECK_CODE(vmailsql_get_popbox(NULL, "b.example", "a", &p), e);
    CHECK_CODE(vmailsql_list_popboxes(NULL, NULL, &pl), e);
    CHECK_CODE(vmailsql_set_popbox_password(NULL, "b.example", "a", "pw"), e);
    CHECK_CODE(vmailsql_change_popbox_password(NULL, "a@b.example", "pw", "pw2"), e);
    CHECK_CODE(vmailsql_delete_popbox(NULL, "b.example", "a"), e);
    CHECK_CODE(vmailsql_add_forwarder(NULL, "b.example", "a", "x@y.example"), e);
    CHECK_CODE(vmailsql_change_forwarder(NULL, "b.example", "a", "x@y.example"), e);
    CHECK_CODE(vmailsql_set_catch_all(NULL, "b.example", "x@y.example"), e);
    CHECK_CODE(vmailsql_get_forwarder(NULL, "b.example", "a", &f), e);
    CHECK_CODE(vmailsql_list_forwarders(NULL, NULL, &fl), e);
    CHECK_CODE(vmailsql_delete_forwarder(NULL, "b.example", "a"), e);
    CHECK_CODE(vmailsql_add_alias(NULL, "c.example", "b.example"), e);
    CHECK_CODE(vmailsql_list_aliases(NULL, NULL, &al), e);
    CHECK_CODE(vmailsql_delete_alias(NULL, "c.example"), e);
    CHECK_CODE(vmailsql_create_session(NULL, "b.example", &s), e);
    CHECK_CODE(vmailsql_validate_session(NULL, "b.example", "t"), e);
    CHECK_CODE(vmailsql_destroy_session(NULL, "b.example"), e);
    CHECK_CODE(vmailsql_expire_sessions(NULL, &n), e);
    CHECK(strstr(vmailsql_last_error(), "handle") != NULL);
    CHECK(r == SENTINEL && m == SENTINEL && d == SENTINEL && dl == SENTINEL && p == SENTINEL &&
          pl == SENTINEL && f == SENTINEL && fl == SENTINEL && al == SENTINEL && sl == SENTINEL &&
          s == SENTINEL && n == 7);
}

/* One handle, several threads: calls are serialised, answers stay right, and each thread has
 * its own last-error message. */
struct worker {
    vmailsql *h;
    int index;
    int wrong;
};

static void *worker_main(void *arg) {
    struct worker *w = (struct worker *)arg;
    int i;
    for (i = 0; i < 40; i++) {
        vmailsql_resolution *r = NULL;
        if (w->index % 2 == 0) {
            if (vmailsql_resolve(w->h, "carol@example.org", &r) != VMAILSQL_OK ||
                strcmp(r->mbox_path, "/var/mail/example.org/carol.mbox") != 0 ||
                vmailsql_last_error()[0] != '\0')
                w->wrong++;
            vmailsql_resolution_free(r);
        } else {
            if (vmailsql_resolve(w->h, "nobody@elsewhere.example", &r) != VMAILSQL_NOT_FOUND ||
                strstr(vmailsql_last_error(), "elsewhere.example") == NULL)
                w->wrong++;
        }
        if (vmailsql_authenticate(w->h, "carol@example.org", "tanstaaf", NULL) != VMAILSQL_OK)
            w->wrong++;
    }
    return NULL;
}

static void test_threads(void) {
    vmailsql *h = fresh_db();
    pthread_t threads[4];
    struct worker workers[4];
    int i;
    for (i = 0; i < 4; i++) {
        workers[i].h = h;
        workers[i].index = i;
        workers[i].wrong = 0;
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].wrong == 0);
    }
    vmailsql_free(h);
}

static void test_audit_log(void) {
    vmailsql *h = fresh_db();
    vmailsql_audit_list *log = (vmailsql_audit_list *)SENTINEL;
    size_t i;

    CHECK_CODE(vmailsql_read_from_primary(h), VMAILSQL_OK);
    CHECK_CODE(vmailsql_read_from_primary(NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_set_actor(h, "c:test_api", "203.0.113.9"), VMAILSQL_OK);
    CHECK_CODE(vmailsql_set_actor(h, "", NULL), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_set_actor(h, NULL, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_set_actor(h, "\xff", NULL), VMAILSQL_INVALID_INPUT);
    CHECK_CODE(vmailsql_create_audit_table(h), VMAILSQL_OK); /* already there: no change */
    CHECK_CODE(vmailsql_add_popbox(h, "example.org", "erin", "Erin-Secret-1", NULL), VMAILSQL_OK);
    CHECK_CODE(vmailsql_audit_log(h, "example.org", -1, -1, NULL, "c:test_api", 0, &log),
               VMAILSQL_OK);
    CHECK(log != SENTINEL && log->count == 1);
    for (i = 0; log != SENTINEL && i < log->count; i++) {
        CHECK_STR(log->items[i].object, "popbox");
        CHECK_STR(log->items[i].action, "created");
        CHECK_STR(log->items[i].name, "erin@example.org");
        CHECK_STR(log->items[i].origin, "203.0.113.9");
        CHECK_STR(log->items[i].outcome, "ok");
        CHECK(log->items[i].before == NULL);
        CHECK(log->items[i].after != NULL && strstr(log->items[i].after, "Secret") == NULL);
        CHECK(strlen(log->items[i].when) == 20 && log->items[i].at > 0);
    }
    vmailsql_audit_list_free(log);
    log = (vmailsql_audit_list *)SENTINEL;
    CHECK_CODE(vmailsql_audit_log(h, NULL, -1, -1, NULL, NULL, 0, NULL), VMAILSQL_NULL_ARGUMENT);
    CHECK_CODE(vmailsql_audit_log(h, NULL, -1, 1, NULL, NULL, 0, &log), VMAILSQL_OK);
    CHECK(log != SENTINEL && log->count == 0 && log->items == NULL);
    vmailsql_audit_list_free(log);
    vmailsql_audit_list_free(NULL);
    vmailsql_free(h);
}

/* ---- runner ---- */

struct test {
    const char *name;
    void (*run)(void);
};

static const struct test tests[] = {
    {"version", test_version},
    {"result_str", test_result_str},
    {"open_url", test_open_url},
    {"open_config", test_open_config},
    {"frees_accept_null", test_frees_accept_null},
    {"last_error_lifecycle", test_last_error_lifecycle},
    {"schema_and_tables", test_schema_and_tables},
    {"domains", test_domains},
    {"popboxes", test_popboxes},
    {"forwarders", test_forwarders},
    {"aliases", test_aliases},
    {"resolve", test_resolve},
    {"local_domain", test_local_domain},
    {"authenticate", test_authenticate},
    {"apop", test_apop},
    {"plaintext_credentials", test_plaintext_credentials},
    {"lookup_mailbox", test_lookup_mailbox},
    {"password_functions", test_password_functions},
    {"sessions", test_sessions},
    {"signin throttle", test_signin_throttle},
    {"audit_log", test_audit_log},
    {"upgrade_on_login", test_upgrade_on_login},
    {"database_down", test_database_down},
    {"null_handle", test_null_handle},
    {"threads", test_threads},
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv) {
    size_t i;
    int passed = 0, failed = 0;
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = check_failures;
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        current_test = tests[i].name;
        tests[i].run();
        if (check_failures == before) {
            passed++;
            printf("ok     %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAILED %s (%d checks)\n", tests[i].name, check_failures - before);
        }
    }
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
