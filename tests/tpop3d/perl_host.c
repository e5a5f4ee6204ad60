/*
 * perl_host.c: plays tpop3d's side of auth-perl for the tests (tpop3d is not packaged in
 * Debian 12). As tpop3d does, it embeds a Perl interpreter with DynaLoader booted, runs the
 * auth-perl-start code once, and calls the named subroutine in scalar context with ONE hash
 * reference holding the request keys, reading back the hash reference it returns.
 *
 *   perl_host START_CODE PASS_SUB APOP_SUB ONLOGIN_SUB
 *
 * Requests come on stdin and replies go to stdout in auth-other's framing (key\0value\0...\0),
 * so that one harness drives both routes. The method key picks the subroutine. A subroutine
 * that dies or returns something else than a hash reference gives the reply keys
 * host_error (and no result), which the tests treat as a failure.
 */
#include <EXTERN.h>
#include <perl.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

EXTERN_C void boot_DynaLoader(pTHX_ CV *cv);

static void xs_init(pTHX) {
    newXS("DynaLoader::boot_DynaLoader", boot_DynaLoader, __FILE__);
}

static PerlInterpreter *my_perl;

/* Reads one request (up to the empty key) into buf; returns its length, or -1 at EOF. */
static long read_request(char *buf, size_t size) {
    size_t len = 0, field = 0;
    int in_value = 0;
    char c;
    for (;;) {
        ssize_t n = read(0, &c, 1);
        if (n <= 0)
            return -1;
        if (len < size)
            buf[len++] = c;
        if (c != '\0')
            field++;
        else if (!in_value && field == 0)
            return (long)len;
        else {
            in_value = !in_value;
            field = 0;
        }
    }
}

static void emit(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w <= 0)
            _exit(1);
        p += w;
        n -= (size_t)w;
    }
}

static void emit_pair(const char *k, size_t kl, const char *v, size_t vl) {
    emit(k, kl);
    emit("", 1);
    emit(v, vl);
    emit("", 1);
}

static void call(const char *sub, const char *buf, size_t len) {
    dSP;
    HV *req = newHV();
    size_t i = 0;
    int count;
    SV *ret;
    while (i < len && buf[i] != '\0') {
        const char *key = buf + i, *value = key + strlen(key) + 1;
        (void)hv_store(req, key, (I32)strlen(key), newSVpv(value, 0), 0);
        i = (size_t)(value - buf) + strlen(value) + 1;
    }
    ENTER;
    SAVETMPS;
    PUSHMARK(SP);
    XPUSHs(sv_2mortal(newRV_noinc((SV *)req)));
    PUTBACK;
    count = call_pv(sub, G_SCALAR | G_EVAL);
    SPAGAIN;
    ret = count == 1 ? POPs : &PL_sv_undef;
    if (SvTRUE(ERRSV)) {
        STRLEN n;
        const char *msg = SvPV(ERRSV, n);
        emit_pair("host_error", 10, msg, strlen(msg) < n ? strlen(msg) : n);
    } else if (!SvROK(ret) || SvTYPE(SvRV(ret)) != SVt_PVHV) {
        emit_pair("host_error", 10, "not a hash reference", 20);
    } else {
        HV *hv = (HV *)SvRV(ret);
        HE *he;
        hv_iterinit(hv);
        while ((he = hv_iternext(hv)) != NULL) {
            I32 kl;
            STRLEN vl;
            const char *k = hv_iterkey(he, &kl);
            const char *v = SvPV(hv_iterval(hv, he), vl);
            emit_pair(k, (size_t)kl, v, vl);
        }
    }
    emit("", 1);
    PUTBACK;
    FREETMPS;
    LEAVE;
}

int main(int argc, char **argv, char **env) {
    static char buf[65536];
    char *args[] = {"", "-e", "0", NULL};
    long len;
    if (argc != 5) {
        fprintf(stderr, "usage: %s START_CODE PASS_SUB APOP_SUB ONLOGIN_SUB\n", argv[0]);
        return 2;
    }
    PERL_SYS_INIT3(&argc, &argv, &env);
    my_perl = perl_alloc();
    perl_construct(my_perl);
    PL_exit_flags |= PERL_EXIT_DESTRUCT_END;
    if (perl_parse(my_perl, xs_init, 3, args, NULL) != 0 || perl_run(my_perl) != 0)
        return 1;
    eval_pv(argv[1], FALSE);
    if (SvTRUE(ERRSV)) {
        fprintf(stderr, "perl_host: auth-perl-start failed: %s\n", SvPV_nolen(ERRSV));
        return 1;
    }
    while ((len = read_request(buf, sizeof buf)) >= 0) {
        const char *method = NULL, *sub;
        size_t i = 0;
        while (i < (size_t)len && buf[i] != '\0') {
            const char *key = buf + i, *value = key + strlen(key) + 1;
            if (strcmp(key, "method") == 0)
                method = value;
            i = (size_t)(value - buf) + strlen(value) + 1;
        }
        sub = method == NULL                  ? argv[2]
              : strcmp(method, "APOP") == 0    ? argv[3]
              : strcmp(method, "ONLOGIN") == 0 ? argv[4]
                                               : argv[2];
        call(sub, buf, (size_t)len);
    }
    perl_destruct(my_perl);
    perl_free(my_perl);
    PERL_SYS_TERM();
    return 0;
}
