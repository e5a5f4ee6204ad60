/*
 * tpop3d-auth-other.c: an auth-other helper for tpop3d, linked against libvmailsql, so that an
 * existing tpop3d binary (built with --enable-auth-other) logs POP3 users in with the one
 * implementation of vmail-sql's login rules. `make install` puts it in
 * $(LIBEXECDIR)/vmailsql/tpop3d-auth-other.
 *
 *   cc -O2 -o tpop3d-auth-other examples/tpop3d-auth-other.c \
 *      $(pkg-config --cflags --libs vmailsql)
 *
 * tpop3d.conf (docs/tpop3d.md has the whole story):
 *
 *   auth-other-enable: true
 *   auth-other-program: /usr/local/libexec/vmailsql/tpop3d-auth-other --config /etc/vmailsql.conf
 *   auth-other-user: vmailsql
 *   auth-other-group: vmailsql
 *   auth-other-timeout: 20
 *
 * Usage: tpop3d-auth-other [--config FILE]. Without --config the library's default applies
 * ($VMAILSQL_CONFIG, else /etc/vmailsql.conf). The file is read once, at start; one handle
 * (one database connection, reopened after failures) serves every request.
 *
 * Protocol (tpop3d's auth-other): a request on stdin and a reply on stdout are each a sequence
 * of key\0value\0 pairs ended by one more \0, at most 4096 bytes. Requests carry method (PASS,
 * APOP, ONLOGIN), user, local_part and domain (when tpop3d split the login), pass, timestamp,
 * digest, clienthost, serverhost. Replies carry result (YES or NO), for YES uid, gid, mailbox,
 * mboxtype and domain, and a logmsg for tpop3d's log when there is something to say.
 *
 * Every request gets exactly one reply, whatever it holds: an over-long request, a missing key,
 * an unknown method or a login that is not UTF-8 is answered result=NO with a logmsg, and the
 * next request is served. End of input ends the program (exit 0), also inside a request.
 *
 * tpop3d has no "try again later" answer: when the database is down, or a popbox's stored data
 * is unsafe, the reply is result=NO and the logmsg says so; the client sees
 * "-ERR Authentication failed." Passwords never appear in any message.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "vmailsql.h"

#define MAX_MESSAGE 4096 /* tpop3d's limit for a request and for a reply, final \0 included */
#define MAX_LOGMSG 600

struct request {
    char buf[MAX_MESSAGE];
    size_t len;       /* bytes stored in buf */
    int overlong;     /* more than MAX_MESSAGE bytes arrived: refused, then skipped */
    int in_value;     /* the current field is a value (else a key) */
    size_t field_len; /* bytes of the current field so far */
};

struct fields {
    const char *method, *user, *local_part, *domain, *pass, *timestamp, *digest;
};

struct reply {
    char buf[MAX_MESSAGE];
    size_t len;
    int overflow;
};

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

/* ---- reading requests ---- */

static unsigned char input[MAX_MESSAGE];
static size_t input_len, input_pos;

/* The next byte of stdin: 0..255, or -1 at end of input (or a read error). */
static int next_byte(void) {
    ssize_t n;
    if (input_pos == input_len) {
        wipe(input, input_len);
        do
            n = read(STDIN_FILENO, input, sizeof input);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return -1;
        input_len = (size_t)n;
        input_pos = 0;
    }
    return input[input_pos++];
}

/* Reads one request, however it was split across writes. Returns 1 when one is complete,
 * 0 at end of input. The terminator is an empty key: a \0 where a key would start. */
static int read_request(struct request *rq) {
    int c;
    memset(rq, 0, sizeof *rq);
    while ((c = next_byte()) >= 0) {
        if (rq->len < sizeof rq->buf)
            rq->buf[rq->len++] = (char)c;
        else
            rq->overlong = 1;
        if (c != 0) {
            rq->field_len++;
        } else if (!rq->in_value && rq->field_len == 0) {
            return 1;
        } else {
            rq->in_value = !rq->in_value;
            rq->field_len = 0;
        }
    }
    return 0;
}

/* Splits a complete request into the keys this helper uses. Returns NULL, or what is wrong. */
static const char *parse_fields(const struct request *rq, struct fields *f) {
    static const char *const names[] = {"method", "user", "local_part", "domain",
                                        "pass",   "timestamp", "digest"};
    const char **slots[] = {&f->method, &f->user,      &f->local_part, &f->domain,
                            &f->pass,   &f->timestamp, &f->digest};
    size_t i = 0, k;
    memset(f, 0, sizeof *f);
    while (rq->buf[i] != '\0') {
        const char *key = rq->buf + i;
        const char *value = key + strlen(key) + 1;
        i = (size_t)(value - rq->buf) + strlen(value) + 1;
        for (k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (strcmp(key, names[k]) != 0)
                continue;
            if (*slots[k] != NULL)
                return "a key appears twice in the request";
            *slots[k] = value;
        }
    }
    return NULL;
}

/* ---- writing replies ---- */

static void put(struct reply *rp, const char *key, const char *value) {
    size_t k = strlen(key) + 1, v = strlen(value) + 1;
    if (rp->len + k + v + 1 > sizeof rp->buf) { /* + 1: the final \0 */
        rp->overflow = 1;
        return;
    }
    memcpy(rp->buf + rp->len, key, k);
    memcpy(rp->buf + rp->len + k, value, v);
    rp->len += k + v;
}

/* A line for tpop3d's log: control characters and non-ASCII bytes become '?', so that a
 * hostile login cannot forge log lines. */
static void put_logmsg(struct reply *rp, const char *fmt, const char *a, const char *b) {
    char line[MAX_LOGMSG];
    size_t i;
    snprintf(line, sizeof line, fmt, a, b);
    for (i = 0; line[i] != '\0'; i++)
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
            line[i] = '?';
    put(rp, "logmsg", line);
}

/* Replaces the reply by result=NO; with a logmsg when fmt (up to two %s: a, b) is not NULL. */
static void refuse(struct reply *rp, const char *fmt, const char *a, const char *b) {
    rp->len = 0;
    rp->overflow = 0;
    put(rp, "result", "NO");
    if (fmt != NULL)
        put_logmsg(rp, fmt, a, b);
}

static int write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_reply(struct reply *rp) {
    rp->buf[rp->len++] = '\0';
    return write_all(rp->buf, rp->len);
}

/* ---- answering ---- */

/* uid and gid of domain.unix_user (a name, or digits for a uid). Returns NULL, or what is
 * wrong. A numeric uid without a passwd entry gets the group of the same number. */
static const char *owner_ids(const char *owner, char *uid_out, char *gid_out, size_t size) {
    const struct passwd *pw;
    uid_t uid;
    gid_t gid;
    if (owner[0] != '\0' && strspn(owner, "0123456789") == strlen(owner)) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(owner, &end, 10);
        if (errno != 0 || *end != '\0' || v != (unsigned long)(uid_t)v)
            return "unix_user is not a usable uid";
        uid = (uid_t)v;
        pw = getpwuid(uid);
        gid = pw != NULL ? pw->pw_gid : (gid_t)uid;
    } else {
        pw = getpwnam(owner);
        if (pw == NULL)
            return "unix_user does not exist on this system";
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (uid == 0)
        return "unix_user has uid 0";
    snprintf(uid_out, size, "%lu", (unsigned long)uid);
    snprintf(gid_out, size, "%lu", (unsigned long)gid);
    return NULL;
}

static void accept_login(struct reply *rp, const vmailsql_mailbox *m, const char *login) {
    char uid[32], gid[32];
    const char *wrong = owner_ids(m->unix_user, uid, gid, sizeof uid);
    if (wrong != NULL) {
        refuse(rp, "vmailsql: refusing popbox %s: %s (domain.unix_user)", login, wrong);
        return;
    }
    put(rp, "result", "YES");
    put(rp, "uid", uid);
    put(rp, "gid", gid);
    put(rp, "mailbox", m->mbox_path);
    put(rp, "mboxtype", "bsd");
    put(rp, "domain", m->domain);
}

/* result=NO for a failed call; a logmsg only when the log should say more than tpop3d's own
 * "authentication failed". Codes this program does not know are treated as internal. */
static void refuse_code(struct reply *rp, vmailsql_result code, const char *login) {
    switch (code) {
    case VMAILSQL_AUTH_FAILED:
    case VMAILSQL_NOT_FOUND:
        refuse(rp, NULL, NULL, NULL);
        break;
    case VMAILSQL_INVALID_INPUT:
        refuse(rp, "vmailsql: login %s refused: %s", login, vmailsql_last_error());
        break;
    case VMAILSQL_TEMPORARY:
        refuse(rp,
               "vmailsql: temporary failure, login %s refused (the client was told "
               "Authentication failed; it may retry later): %s",
               login, vmailsql_last_error());
        break;
    default: {
        char what[300];
        snprintf(what, sizeof what, "%.200s (%s)", login, vmailsql_result_str(code));
        refuse(rp, "vmailsql: cannot log in popbox %s, fix this row: %s", what,
               vmailsql_last_error());
        break;
    }
    }
}

/* The login as tpop3d passes it: local_part and domain when it split the login (which also
 * covers tpop3d's append-domain), else user as typed, for the library to split. */
static const char *login_of(const struct fields *f, char *buf, size_t size) {
    if (f->local_part != NULL && f->domain != NULL && f->local_part[0] != '\0') {
        snprintf(buf, size, "%s@%s", f->local_part, f->domain);
        return buf;
    }
    return f->user;
}

static void answer(vmailsql *h, const struct request *rq, struct reply *rp) {
    struct fields f;
    char joined[MAX_MESSAGE];
    const char *wrong, *login;
    vmailsql_mailbox *m = NULL;
    vmailsql_result code;

    if (rq->overlong) {
        refuse(rp, "vmailsql: request longer than 4096 bytes refused%s%s", "", "");
        return;
    }
    if ((wrong = parse_fields(rq, &f)) != NULL) {
        refuse(rp, "vmailsql: malformed request: %s%s", wrong, "");
        return;
    }
    if (f.method == NULL) {
        refuse(rp, "vmailsql: request without a method%s%s", "", "");
        return;
    }
    if (strcmp(f.method, "ONLOGIN") == 0) {
        put(rp, "result", "YES"); /* nothing to do after a login */
        return;
    }
    login = login_of(&f, joined, sizeof joined);
    if (strcmp(f.method, "PASS") == 0) {
        if (login == NULL || f.pass == NULL) {
            refuse(rp, "vmailsql: PASS request without %s%s", login == NULL ? "user" : "pass",
                   "");
            return;
        }
        code = vmailsql_authenticate(h, login, f.pass, &m);
    } else if (strcmp(f.method, "APOP") == 0) {
        if (login == NULL || f.timestamp == NULL || f.digest == NULL) {
            refuse(rp, "vmailsql: APOP request without %s%s",
                   login == NULL ? "user" : f.timestamp == NULL ? "timestamp" : "digest", "");
            return;
        }
        code = vmailsql_authenticate_apop(h, login, f.timestamp, f.digest, &m);
    } else {
        refuse(rp, "vmailsql: unknown method %s%s", f.method, "");
        return;
    }
    if (code == VMAILSQL_OK) {
        accept_login(rp, m, login);
        if (rp->overflow)
            refuse(rp, "vmailsql: the reply for %s would exceed 4096 bytes; login refused%s",
                   login, "");
    } else
        refuse_code(rp, code, login);
    vmailsql_mailbox_free(m);
}

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--config FILE]  (run by tpop3d as auth-other-program)\n", argv0);
    return 2;
}

int main(int argc, char **argv) {
    static struct request rq;
    static struct reply rp;
    const char *config = NULL;
    char open_error[512] = "";
    vmailsql *h = NULL;
    int status = 0;

    if (argc == 3 && strcmp(argv[1], "--config") == 0)
        config = argv[2];
    else if (argc == 2 && strncmp(argv[1], "--config=", 9) == 0)
        config = argv[1] + 9;
    else if (argc != 1)
        return usage(argv[0]);
    /* tpop3d closing the pipe ends us through EPIPE, not a signal. */
    signal(SIGPIPE, SIG_IGN);

    if (vmailsql_open(config, &h) != VMAILSQL_OK) {
        /* Keep answering, so that tpop3d's log says why every login fails. */
        snprintf(open_error, sizeof open_error, "%s", vmailsql_last_error());
        fprintf(stderr, "tpop3d-auth-other: cannot read the configuration: %s\n", open_error);
    }
    while (read_request(&rq)) {
        rp.len = 0;
        rp.overflow = 0;
        if (h == NULL)
            refuse(&rp, "vmailsql: cannot read the configuration: %s%s", open_error, "");
        else
            answer(h, &rq, &rp);
        wipe(&rq, sizeof rq);
        if (send_reply(&rp) != 0) {
            status = 1;
            break;
        }
    }
    if (status == 0 && rq.len > 0)
        fprintf(stderr, "tpop3d-auth-other: end of input inside a request\n");
    wipe(&rq, sizeof rq);
    wipe(input, sizeof input);
    vmailsql_free(h);
    return status;
}
