/*
 * checkpassword.c: a checkpassword program for Dovecot 2.3, linked against libvmailsql, so that
 * Dovecot authenticates POP3 and IMAP users from the vmail-sql database exactly as tpop3d did.
 *
 *   cc -O2 -o vmailsql-checkpassword examples/checkpassword.c \
 *      $(pkg-config --cflags --libs vmailsql)
 *
 * Dovecot configuration (`make install` puts the program in $(PREFIX)/libexec/vmailsql/):
 *
 *   passdb {
 *     driver = checkpassword
 *     args = /usr/local/libexec/vmailsql/checkpassword
 *   }
 *   userdb {
 *     driver = prefetch
 *   }
 *   mbox_write_locks = fcntl
 *   import_environment = $import_environment VMAILSQL_CONFIG=/etc/vmailsql.conf
 *
 * The configuration file is the first of: an argument before checkpassword-reply (`args =
 * /path/checkpassword /etc/vmailsql.conf`), $VMAILSQL_CONFIG, the compiled default
 * VMAILSQL_CHECKPASSWORD_CONFIG (-D at build time; "/etc/vmailsql.conf" unless set). The
 * program runs as Dovecot's auth user: it must be able to read that file (and, with
 * upgrade_on_login, write the database). It never changes its uid: it returns the mailbox
 * owner's uid and gid for Dovecot to use.
 *
 * Protocol (Dovecot's db-checkpassword.c): fd 3 carries "user\0password\0timestamp\0" (at most
 * 512 bytes). The last argument is checkpassword-reply, executed on success after exporting
 *   USER          the canonical login, local@domain, lower-case
 *   HOME          the domain path
 *   userdb_uid, userdb_gid   the owner of the mailbox, from domain.unix_user
 *   userdb_mail   mbox:<domain path>:INBOX=<mbox path>:INDEX=MEMORY (":" doubled in paths)
 *   EXTRA         the names of the extra variables
 * Exit status: 1 wrong password or unknown user; 111 temporary failure (database down) or
 * misconfiguration. With AUTHORIZED=1 (a lookup without password) the answer is AUTHORIZED=2
 * through checkpassword-reply (which then exits 2), or exit 3 for an unknown user; with
 * CREDENTIALS_LOOKUP=1 as well (APOP and other challenge mechanisms) the reply adds
 * password={PLAIN}<cleartext>, which only {plaintext} popboxes have, as with tpop3d.
 *
 * Messages go to stderr, which Dovecot writes to its log. Passwords never appear in them.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "vmailsql.h"

#ifndef VMAILSQL_CHECKPASSWORD_CONFIG
#define VMAILSQL_CHECKPASSWORD_CONFIG "/etc/vmailsql.conf"
#endif

#define EXIT_REJECT 1     /* wrong password or unknown user */
#define EXIT_NO_USER 3    /* unknown user in a lookup (AUTHORIZED=1) */
#define EXIT_TEMPFAIL 111 /* try again later; Dovecot reports an internal failure */
#define MAX_INPUT 512

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

static void logmsg(const char *what, const char *user) {
    fprintf(stderr, "vmailsql-checkpassword: %s%s%s: %s\n", what, user ? " for " : "",
            user ? user : "", vmailsql_last_error());
}

/* Reads "user\0password\0timestamp\0" from fd 3. Returns 0 and sets the pointers into buf. */
static int read_input(char *buf, size_t size, const char **user, const char **password) {
    size_t used = 0, ulen;
    ssize_t n;
    while (used < size) {
        n = read(3, buf + used, size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(3);
    if (used == 0 || used >= size)
        return -1; /* nothing, or more than the protocol allows */
    buf[used] = '\0';
    ulen = strlen(buf);
    if (ulen + 1 >= used + 1)
        return -1;
    *user = buf;
    *password = ulen + 1 < used ? buf + ulen + 1 : "";
    return 0;
}

/* Dovecot's mail location separates options with ':'; a ':' inside a path is doubled. */
static int append_escaped(char *out, size_t size, size_t *len, const char *s) {
    for (; *s; s++) {
        if (*len + 2 >= size)
            return -1;
        if (*s == ':')
            out[(*len)++] = ':';
        out[(*len)++] = *s;
    }
    out[*len] = '\0';
    return 0;
}

static int append(char *out, size_t size, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > size)
        return -1;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return 0;
}

/* A value for the reply must not hold a TAB, CR or LF (Dovecot refuses LF in replies). */
static int clean(const char *s) {
    return strpbrk(s, "\t\r\n") == NULL;
}

/* Exports the userdb fields of a mailbox. Returns 0, or EXIT_TEMPFAIL after logging. */
static int export_mailbox(const vmailsql_mailbox *m, int with_password) {
    static char user[512], mail[4096], uidbuf[32], gidbuf[32];
    const char *owner = m->unix_user;
    const struct passwd *pw;
    size_t len = 0;
    uid_t uid;
    gid_t gid;

    if (strspn(owner, "0123456789") == strlen(owner)) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(owner, &end, 10);
        if (errno != 0 || *end != '\0' || v == 0 || v != (uid_t)v) {
            fprintf(stderr, "vmailsql-checkpassword: unusable unix_user %s for %s@%s\n", owner,
                    m->local_part, m->domain);
            return EXIT_TEMPFAIL;
        }
        uid = (uid_t)v;
        pw = getpwuid(uid);
        /* A numeric uid without a passwd entry gets the group of the same number. */
        gid = pw != NULL ? pw->pw_gid : (gid_t)uid;
    } else {
        pw = getpwnam(owner);
        if (pw == NULL) {
            fprintf(stderr, "vmailsql-checkpassword: unix_user %s of %s does not exist\n",
                    owner, m->domain);
            return EXIT_TEMPFAIL;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (uid == 0) {
        fprintf(stderr, "vmailsql-checkpassword: refusing uid 0 for %s@%s\n", m->local_part,
                m->domain);
        return EXIT_TEMPFAIL;
    }
    snprintf(uidbuf, sizeof uidbuf, "%lu", (unsigned long)uid);
    snprintf(gidbuf, sizeof gidbuf, "%lu", (unsigned long)gid);
    snprintf(user, sizeof user, "%s@%s", m->local_part, m->domain);
    if (append(mail, sizeof mail, &len, "mbox:") != 0 ||
        append_escaped(mail, sizeof mail, &len, m->domain_path) != 0 ||
        append(mail, sizeof mail, &len, ":INBOX=") != 0 ||
        append_escaped(mail, sizeof mail, &len, m->mbox_path) != 0 ||
        append(mail, sizeof mail, &len, ":INDEX=MEMORY") != 0 || !clean(mail) || !clean(user)) {
        fprintf(stderr, "vmailsql-checkpassword: unusable mailbox path for %s\n", user);
        return EXIT_TEMPFAIL;
    }
    if (setenv("USER", user, 1) != 0 || setenv("HOME", m->domain_path, 1) != 0 ||
        setenv("userdb_uid", uidbuf, 1) != 0 || setenv("userdb_gid", gidbuf, 1) != 0 ||
        setenv("userdb_mail", mail, 1) != 0 ||
        setenv("EXTRA",
               with_password ? "userdb_uid userdb_gid userdb_mail password"
                             : "userdb_uid userdb_gid userdb_mail",
               1) != 0) {
        perror("vmailsql-checkpassword: setenv");
        return EXIT_TEMPFAIL;
    }
    return 0;
}

/* The exit status for a failed call: database trouble is temporary, everything else a no. */
static int failure_status(vmailsql_result code, int reject) {
    switch (code) {
    case VMAILSQL_NOT_FOUND:
    case VMAILSQL_AUTH_FAILED:
        return reject;
    case VMAILSQL_INVALID_INPUT:
        /* A login that is not UTF-8: this user cannot log in, and the log says why. */
        return reject;
    default:
        /* Database trouble, and also a popbox whose stored path or owner is unsafe
         * (VMAILSQL_UNSAFE_DATA): the site must fix it; the user is told to try later. */
        return EXIT_TEMPFAIL;
    }
}

int main(int argc, char **argv) {
    char input[MAX_INPUT + 1];
    const char *user = NULL, *password = NULL, *config, *reply;
    const char *authorized = getenv("AUTHORIZED");
    const char *credentials = getenv("CREDENTIALS_LOOKUP");
    int lookup = authorized != NULL && strcmp(authorized, "1") == 0;
    int credentials_lookup = lookup && credentials != NULL && strcmp(credentials, "1") == 0;
    vmailsql *h = NULL;
    vmailsql_mailbox *m = NULL;
    vmailsql_result code;
    char *clear = NULL;
    int status;

    if (argc < 2) {
        fprintf(stderr, "usage: %s [CONFIG] checkpassword-reply (run by Dovecot)\n", argv[0]);
        return EXIT_TEMPFAIL;
    }
    reply = argv[argc - 1];
    config = argc >= 3 ? argv[1] : getenv("VMAILSQL_CONFIG");
    if (config == NULL || config[0] == '\0')
        config = VMAILSQL_CHECKPASSWORD_CONFIG;

    if (read_input(input, sizeof input, &user, &password) != 0) {
        fprintf(stderr, "vmailsql-checkpassword: no valid request on fd 3\n");
        wipe(input, sizeof input);
        return EXIT_TEMPFAIL;
    }
    if (vmailsql_open(config, &h) != VMAILSQL_OK) {
        logmsg("cannot read the configuration", NULL);
        wipe(input, sizeof input);
        return EXIT_TEMPFAIL;
    }

    if (credentials_lookup) {
        /* APOP and friends: Dovecot needs the cleartext, which only {plaintext} popboxes
         * have; any other popbox is unknown to this mechanism, as with tpop3d. */
        code = vmailsql_plaintext_credentials(h, user, &m, &clear);
        status = code == VMAILSQL_OK ? 0 : failure_status(code, EXIT_NO_USER);
    } else if (lookup) {
        code = vmailsql_lookup_mailbox(h, user, &m);
        status = code == VMAILSQL_OK ? 0 : failure_status(code, EXIT_NO_USER);
    } else {
        code = vmailsql_authenticate(h, user, password, &m);
        status = code == VMAILSQL_OK ? 0 : failure_status(code, EXIT_REJECT);
    }
    if (code != VMAILSQL_OK)
        logmsg(status == EXIT_TEMPFAIL ? "temporary failure" : "login refused", user);
    wipe(input, sizeof input);

    if (status == 0)
        status = export_mailbox(m, clear != NULL);
    if (status == 0 && clear != NULL) {
        static char field[MAX_INPUT + 16];
        if (!clean(clear) || strlen(clear) > MAX_INPUT) {
            fprintf(stderr, "vmailsql-checkpassword: stored cleartext unusable for APOP\n");
            status = EXIT_NO_USER;
        } else {
            snprintf(field, sizeof field, "{PLAIN}%s", clear);
            if (setenv("password", field, 1) != 0)
                status = EXIT_TEMPFAIL;
            wipe(field, sizeof field);
        }
    }
    if (status == 0 && lookup && setenv("AUTHORIZED", "2", 1) != 0)
        status = EXIT_TEMPFAIL;
    vmailsql_string_free(clear);
    vmailsql_mailbox_free(m);
    vmailsql_free(h);
    if (status != 0)
        return status;

    execl(reply, reply, (char *)NULL);
    fprintf(stderr, "vmailsql-checkpassword: cannot execute %s: %s\n", reply, strerror(errno));
    return EXIT_TEMPFAIL;
}
