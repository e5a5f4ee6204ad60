/*
 * resolve.c: resolve addresses the way the seed's Exim routers did, through libvmailsql.
 *
 *   cc -o resolve examples/resolve.c $(pkg-config --cflags --libs vmailsql)
 *   ./resolve [-c /etc/vmailsql.conf | -u DATABASE-URL] address...
 *
 * Prints one line per address:
 *   alice@example.org: popbox /var/mail/example.org/alice (user vmail)
 *   info@example.org: forwarder -> alice@example.org, bob@elsewhere.example
 *   zed@example.org: catch-all -> postmaster@example.org
 *   x@unknown.example: not found (unknown.example is not a local domain)
 * Exit status: 0 all resolved, 1 some address not found or invalid, 75 (EX_TEMPFAIL) database
 * unavailable, 2 usage or other errors. Without -c or -u the configuration is
 * $VMAILSQL_CONFIG, else /etc/vmailsql.conf.
 */
#include <stdio.h>
#include <string.h>

#include "vmailsql.h"

#define EXIT_TEMPFAIL 75

static int usage(void) {
    fprintf(stderr, "usage: resolve [-c CONFIG | -u DATABASE-URL] address...\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *config = NULL, *url = NULL;
    vmailsql *h = NULL;
    vmailsql_result code;
    int i = 1, status = 0;
    size_t t;

    if (argc > 2 && strcmp(argv[1], "-c") == 0) {
        config = argv[2];
        i = 3;
    } else if (argc > 2 && strcmp(argv[1], "-u") == 0) {
        url = argv[2];
        i = 3;
    }
    if (i >= argc || argv[i][0] == '-')
        return usage();

    code = url != NULL ? vmailsql_open_url(url, &h) : vmailsql_open(config, &h);
    if (code != VMAILSQL_OK) {
        fprintf(stderr, "resolve: cannot open: %s\n", vmailsql_last_error());
        return 2;
    }
    for (; i < argc; i++) {
        vmailsql_resolution *r = NULL;
        code = vmailsql_resolve(h, argv[i], &r);
        if (code != VMAILSQL_OK) {
            /* The message is read before the next call replaces it. */
            printf("%s: %s (%s)\n", argv[i], vmailsql_result_str(code), vmailsql_last_error());
            if (code == VMAILSQL_TEMPORARY)
                status = EXIT_TEMPFAIL;
            else if (code == VMAILSQL_NOT_FOUND || code == VMAILSQL_INVALID_INPUT) {
                if (status == 0)
                    status = 1;
            } else if (status != EXIT_TEMPFAIL)
                status = 2;
            continue;
        }
        if (r->rule == VMAILSQL_RULE_POPBOX) {
            printf("%s: popbox %s (user %s)\n", argv[i], r->mbox_path, r->unix_user);
        } else {
            printf("%s: %s ->", argv[i],
                   r->rule == VMAILSQL_RULE_CATCH_ALL ? "catch-all" : "forwarder");
            for (t = 0; t < r->target_count; t++)
                printf("%s %s", t == 0 ? "" : ",", r->targets[t]);
            printf("\n");
        }
        vmailsql_resolution_free(r);
    }
    vmailsql_free(h);
    return status;
}
