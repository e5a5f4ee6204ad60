/* Perl bindings for libvmailsql (include/vmailsql.h): one object per handle, every failure a
 * Vmailsql::Error built from the library's last error, library results copied into Perl
 * values and freed at once. Text goes to the library as the UTF-8 encoding of its characters,
 * whatever Perl's internal representation; the *_bytes methods pass a password's octets as they
 * are. Strings come back as Perl character strings. */

#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <string.h>
#include <vmailsql.h>

typedef vmailsql *Vmailsql;

/* The kind names of docs/perl-api.md, by result code. */
static const char *
vm_kind(int code)
{
    switch (code) {
    case VMAILSQL_NOT_FOUND:       return "not_found";
    case VMAILSQL_AUTH_FAILED:     return "auth_failed";
    case VMAILSQL_INVALID_INPUT:   return "invalid_input";
    case VMAILSQL_CONFLICT:        return "conflict";
    case VMAILSQL_LIMIT_EXCEEDED:  return "limit_exceeded";
    case VMAILSQL_TEMPORARY:       return "temporary";
    case VMAILSQL_PANIC:           return "panic";
    case VMAILSQL_UNSAFE_DATA:     return "unsafe_data";
    /* Only an undef where a string is required, or a closed handle, gets here. */
    case VMAILSQL_NULL_ARGUMENT:   return "invalid_input";
    default:                       return "internal";  /* VMAILSQL_INTERNAL and unknown codes */
    }
}

/* A Perl string from a library string: undef for NULL, characters when it is UTF-8. */
static SV *
vm_sv(pTHX_ const char *s)
{
    SV *sv;
    STRLEN len;
    if (s == NULL)
        return newSV(0);
    len = strlen(s);
    sv = newSVpvn(s, len);
    if (!is_ascii_string((const U8 *)s, len) && is_utf8_string((const U8 *)s, len))
        SvUTF8_on(sv);
    return sv;
}

/* Dies with a Vmailsql::Error {kind, message, code}. */
static void
vm_die(pTHX_ int code, SV *message)
{
    HV *hv = newHV();
    SV *err;
    hv_stores(hv, "kind", newSVpv(vm_kind(code), 0));
    hv_stores(hv, "message", message);
    hv_stores(hv, "code", newSViv(code));
    err = sv_bless(newRV_noinc((SV *)hv), gv_stashpvs("Vmailsql::Error", GV_ADD));
    croak_sv(sv_2mortal(err));
}

/* The croak helper: the failed call's code and this thread's vmailsql_last_error(), copied
 * before anything else can call into the library. Callers free their library results first. */
static void
vm_croak(pTHX_ vmailsql_result code)
{
    const char *message = vmailsql_last_error();
    if (message == NULL || *message == '\0')
        message = vmailsql_result_str((int)code);
    vm_die(aTHX_ (int)code, vm_sv(aTHX_ message));
}

#define VM_CHECK(call) do { vmailsql_result vm_r_ = (call); \
    if (vm_r_ != VMAILSQL_OK) vm_croak(aTHX_ vm_r_); } while (0)

/* The string value of an argument in a mortal copy: overloading and magic applied once, and
 * the copy's UTF8 flag telling how its buffer is to be read. */
static SV *
vm_copy(pTHX_ SV *sv)
{
    SV *copy = sv_newmortal();
    sv_copypv_nomg(copy, sv);
    return copy;
}

static void
vm_no_nul(pTHX_ const char *p, STRLEN len, const char *what)
{
    /* A NUL byte would silently cut the string short. */
    if (memchr(p, '\0', len) != NULL)
        vm_die(aTHX_ VMAILSQL_INVALID_INPUT, newSVpvf("%s contains a NUL byte", what));
}

/* A text argument: NULL for undef, else its characters encoded as UTF-8, whatever Perl's
 * internal representation (a string without the UTF8 flag is characters U+0000-U+00FF, one
 * per byte), so two strings that are eq give the library the same bytes. */
static const char *
vm_str(pTHX_ SV *sv, const char *what)
{
    const char *p;
    STRLEN len;
    SvGETMAGIC(sv);
    if (!SvOK(sv))
        return NULL;
    p = SvPVutf8(vm_copy(aTHX_ sv), len);
    vm_no_nul(aTHX_ p, len, what);
    return p;
}

/* A byte-string argument (the *_bytes methods, for passwords that are not UTF-8 text): the
 * octets unchanged. A character above U+00FF is not a byte: refused. */
static const char *
vm_bytes(pTHX_ SV *sv, const char *what)
{
    SV *copy;
    const char *p;
    STRLEN len;
    SvGETMAGIC(sv);
    if (!SvOK(sv))
        return NULL;
    copy = vm_copy(aTHX_ sv);
    if (!sv_utf8_downgrade(copy, TRUE))
        vm_die(aTHX_ VMAILSQL_INVALID_INPUT,
               newSVpvf("%s is not a byte string (a character above U+00FF)", what));
    p = SvPV_nomg(copy, len);
    vm_no_nul(aTHX_ p, len, what);
    return p;
}

/* Handles are recognised by this magic on the object's referent, attached by vm_object() and
 * holding the C pointer: a scalar blessed into Vmailsql by anyone else has none, so a forged
 * object is refused instead of its number being taken for a pointer. */
static MGVTBL vm_handle_vtbl;

static MAGIC *
vm_handle_magic(pTHX_ SV *sv)
{
    if (!(SvROK(sv) && sv_derived_from(sv, "Vmailsql")))
        return NULL;
    return mg_findext(SvRV(sv), PERL_MAGIC_ext, &vm_handle_vtbl);
}

/* The handle of an object, checking its class and that the module made it (the O_OBJECT
 * typemap). */
static vmailsql *
vm_handle(pTHX_ SV *sv, const char *func)
{
    MAGIC *mg = vm_handle_magic(aTHX_ sv);
    if (mg == NULL)
        vm_die(aTHX_ VMAILSQL_INVALID_INPUT,
               newSVpvf("Vmailsql::%s: not called on a Vmailsql handle", func));
    if (mg->mg_ptr == NULL)
        vm_die(aTHX_ VMAILSQL_NULL_ARGUMENT,
               newSVpvf("Vmailsql::%s: the handle is closed", func));
    return (vmailsql *)mg->mg_ptr;
}

/* The handle of the invocant when it is an object, NULL when called on the class. */
static vmailsql *
vm_maybe_handle(pTHX_ SV *self, const char *func)
{
    return SvROK(self) ? vm_handle(aTHX_ self, func) : NULL;
}

/* Takes a library string out-parameter into Perl and frees (wipes) the library's copy. */
static SV *
vm_take(pTHX_ char *s)
{
    SV *sv = vm_sv(aTHX_ s);
    vmailsql_string_free(s);
    return sv;
}

static SV *
vm_mailbox_sv(pTHX_ const vmailsql_mailbox *m)
{
    HV *hv = newHV();
    hv_stores(hv, "domain", vm_sv(aTHX_ m->domain));
    hv_stores(hv, "local_part", vm_sv(aTHX_ m->local_part));
    hv_stores(hv, "path", vm_sv(aTHX_ m->mbox_path));
    hv_stores(hv, "domain_path", vm_sv(aTHX_ m->domain_path));
    hv_stores(hv, "unix_user", vm_sv(aTHX_ m->unix_user));
    return newRV_noinc((SV *)hv);
}

static SV *
vm_resolution_sv(pTHX_ const vmailsql_resolution *r)
{
    HV *hv = newHV();
    switch (r->rule) {
    case VMAILSQL_RULE_FORWARDER: hv_stores(hv, "rule", newSVpvs("forwarder")); break;
    case VMAILSQL_RULE_POPBOX:    hv_stores(hv, "rule", newSVpvs("popbox")); break;
    case VMAILSQL_RULE_CATCH_ALL: hv_stores(hv, "rule", newSVpvs("catch-all")); break;
    default:                      hv_stores(hv, "rule", newSViv((IV)r->rule)); break;
    }
    hv_stores(hv, "domain", vm_sv(aTHX_ r->domain));
    hv_stores(hv, "local_part", vm_sv(aTHX_ r->local_part));
    if (r->rule == VMAILSQL_RULE_POPBOX) {
        hv_stores(hv, "path", vm_sv(aTHX_ r->mbox_path));
        hv_stores(hv, "domain_path", vm_sv(aTHX_ r->domain_path));
        hv_stores(hv, "unix_user", vm_sv(aTHX_ r->unix_user));
    } else {
        AV *targets = newAV();
        size_t i;
        for (i = 0; i < r->target_count; i++)
            av_push(targets, vm_sv(aTHX_ r->targets[i]));
        hv_stores(hv, "targets", newRV_noinc((SV *)targets));
    }
    return newRV_noinc((SV *)hv);
}

static SV *
vm_domain_sv(pTHX_ const vmailsql_domain *d)
{
    HV *hv = newHV();
    hv_stores(hv, "name", vm_sv(aTHX_ d->name));
    hv_stores(hv, "unix_user", vm_sv(aTHX_ d->unix_user));
    hv_stores(hv, "password_hash", vm_sv(aTHX_ d->password_hash));
    hv_stores(hv, "path", vm_sv(aTHX_ d->path));
    hv_stores(hv, "max_popbox", d->has_max_popbox ? newSViv((IV)d->max_popbox) : newSV(0));
    return newRV_noinc((SV *)hv);
}

static SV *
vm_popbox_sv(pTHX_ const vmailsql_popbox *p)
{
    HV *hv = newHV();
    hv_stores(hv, "domain", vm_sv(aTHX_ p->domain));
    hv_stores(hv, "local_part", vm_sv(aTHX_ p->local_part));
    hv_stores(hv, "password_hash", vm_sv(aTHX_ p->password_hash));
    hv_stores(hv, "mbox_name", vm_sv(aTHX_ p->mbox_name));
    return newRV_noinc((SV *)hv);
}

static SV *
vm_forwarder_sv(pTHX_ const vmailsql_forwarder *f)
{
    HV *hv = newHV();
    hv_stores(hv, "domain", vm_sv(aTHX_ f->domain));
    hv_stores(hv, "local_part", vm_sv(aTHX_ f->local_part));
    hv_stores(hv, "remote_name", vm_sv(aTHX_ f->remote_name));
    return newRV_noinc((SV *)hv);
}

static SV *
vm_alias_sv(pTHX_ const vmailsql_alias *a)
{
    HV *hv = newHV();
    hv_stores(hv, "alias", vm_sv(aTHX_ a->alias));
    hv_stores(hv, "domain", vm_sv(aTHX_ a->domain));
    return newRV_noinc((SV *)hv);
}

/* One audit record (it never holds a password or a hash). */
static SV *
vm_audit_sv(pTHX_ const vmailsql_audit_record *r)
{
    HV *hv = newHV();
    hv_stores(hv, "id", newSViv((IV)r->id));
    hv_stores(hv, "at", newSViv((IV)r->at));
    hv_stores(hv, "when", vm_sv(aTHX_ r->when));
    hv_stores(hv, "actor", vm_sv(aTHX_ r->actor));
    hv_stores(hv, "origin", vm_sv(aTHX_ r->origin));
    hv_stores(hv, "domain", vm_sv(aTHX_ r->domain));
    hv_stores(hv, "object", vm_sv(aTHX_ r->object));
    hv_stores(hv, "name", vm_sv(aTHX_ r->name));
    hv_stores(hv, "action", vm_sv(aTHX_ r->action));
    hv_stores(hv, "before", vm_sv(aTHX_ r->before));
    hv_stores(hv, "after", vm_sv(aTHX_ r->after));
    hv_stores(hv, "outcome", vm_sv(aTHX_ r->outcome));
    return newRV_noinc((SV *)hv);
}

/* A Perl object for a new handle, blessed into the invocant's class. */
static SV *
vm_object(pTHX_ SV *class, vmailsql *h)
{
    const char *name = SvROK(class) ? sv_reftype(SvRV(class), TRUE) : SvPV_nolen(class);
    SV *obj = sv_setref_pv(newSV(0), name, (void *)h);
    MAGIC *mg = sv_magicext(SvRV(obj), NULL, PERL_MAGIC_ext, &vm_handle_vtbl, NULL, 0);
    mg->mg_ptr = (char *)h;
    return obj;
}

/* Lists: the items as Perl values in list context, their number in scalar context. The
 * caller frees the list afterwards. */
#define VM_PUSH_LIST(list, conv) do {                                       \
        size_t i_, n_ = (list)->count;                                     \
        if (GIMME_V != G_LIST) {                                           \
            mXPUSHu((UV)n_);                                               \
        } else {                                                           \
            EXTEND(SP, (SSize_t)n_);                                       \
            for (i_ = 0; i_ < n_; i_++)                                    \
                mPUSHs(conv(aTHX_ &(list)->items[i_]));                    \
        }                                                                  \
    } while (0)

#ifndef G_LIST
#define G_LIST G_ARRAY
#endif

MODULE = Vmailsql       PACKAGE = Vmailsql      PREFIX = vm_

PROTOTYPES: DISABLE

BOOT:
{
    HV *stash = gv_stashpvs("Vmailsql", GV_ADD);
    newCONSTSUB(stash, "VMAILSQL_OK", newSViv(VMAILSQL_OK));
    newCONSTSUB(stash, "VMAILSQL_NOT_FOUND", newSViv(VMAILSQL_NOT_FOUND));
    newCONSTSUB(stash, "VMAILSQL_AUTH_FAILED", newSViv(VMAILSQL_AUTH_FAILED));
    newCONSTSUB(stash, "VMAILSQL_INVALID_INPUT", newSViv(VMAILSQL_INVALID_INPUT));
    newCONSTSUB(stash, "VMAILSQL_CONFLICT", newSViv(VMAILSQL_CONFLICT));
    newCONSTSUB(stash, "VMAILSQL_LIMIT_EXCEEDED", newSViv(VMAILSQL_LIMIT_EXCEEDED));
    newCONSTSUB(stash, "VMAILSQL_TEMPORARY", newSViv(VMAILSQL_TEMPORARY));
    newCONSTSUB(stash, "VMAILSQL_INTERNAL", newSViv(VMAILSQL_INTERNAL));
    newCONSTSUB(stash, "VMAILSQL_PANIC", newSViv(VMAILSQL_PANIC));
    newCONSTSUB(stash, "VMAILSQL_NULL_ARGUMENT", newSViv(VMAILSQL_NULL_ARGUMENT));
    newCONSTSUB(stash, "VMAILSQL_UNSAFE_DATA", newSViv(VMAILSQL_UNSAFE_DATA));
    newCONSTSUB(stash, "VMAILSQL_UNLIMITED", newSViv((IV)VMAILSQL_UNLIMITED));
    newCONSTSUB(stash, "VMAILSQL_KEEP", newSViv((IV)VMAILSQL_KEEP));
}

 # ---- handles ----

SV *
vm_open(class, config_path = &PL_sv_undef)
    SV *class
    SV *config_path
  PREINIT:
    vmailsql *h = NULL;
  CODE:
    VM_CHECK(vmailsql_open(vm_str(aTHX_ config_path, "config_path"), &h));
    RETVAL = vm_object(aTHX_ class, h);
  OUTPUT:
    RETVAL

SV *
vm_open_url(class, url)
    SV *class
    SV *url
  PREINIT:
    vmailsql *h = NULL;
  CODE:
    VM_CHECK(vmailsql_open_url(vm_str(aTHX_ url, "url"), &h));
    RETVAL = vm_object(aTHX_ class, h);
  OUTPUT:
    RETVAL

void
vm_DESTROY(self)
    SV *self
  ALIAS:
    close = 1
  PREINIT:
    vmailsql *h;
    MAGIC *mg;
  CODE:
    if (ix == 1)
        (void)vm_handle(aTHX_ self, "close");  /* checks the class; a second close dies */
    mg = vm_handle_magic(aTHX_ self);
    if (mg != NULL) {
        h = (vmailsql *)mg->mg_ptr;
        /* Clear first: nothing can reach the freed handle through this object again. */
        mg->mg_ptr = NULL;
        sv_setiv(SvRV(self), 0);
        vmailsql_free(h);
    }

bool
vm_is_open(self)
    SV *self
  PREINIT:
    MAGIC *mg;
  CODE:
    mg = vm_handle_magic(aTHX_ self);
    RETVAL = mg != NULL && mg->mg_ptr != NULL;
  OUTPUT:
    RETVAL

 # ---- static information ----

SV *
vm_version(...)
  CODE:
    RETVAL = vm_sv(aTHX_ vmailsql_version());
  OUTPUT:
    RETVAL

SV *
vm_result_str(code)
    int code
  CODE:
    RETVAL = vm_sv(aTHX_ vmailsql_result_str(code));
  OUTPUT:
    RETVAL

SV *
vm_last_error(...)
  CODE:
    RETVAL = vm_sv(aTHX_ vmailsql_last_error());
  OUTPUT:
    RETVAL

 # ---- resolution ----

SV *
vm_resolve(self, address)
    Vmailsql self
    SV *address
  PREINIT:
    vmailsql_resolution *r = NULL;
  CODE:
    VM_CHECK(vmailsql_resolve(self, vm_str(aTHX_ address, "address"), &r));
    RETVAL = vm_resolution_sv(aTHX_ r);
    vmailsql_resolution_free(r);
  OUTPUT:
    RETVAL

SV *
vm_resolve_parts(self, local_part, domain)
    Vmailsql self
    SV *local_part
    SV *domain
  PREINIT:
    vmailsql_resolution *r = NULL;
  CODE:
    VM_CHECK(vmailsql_resolve_parts(self, vm_str(aTHX_ local_part, "local_part"),
                                    vm_str(aTHX_ domain, "domain"), &r));
    RETVAL = vm_resolution_sv(aTHX_ r);
    vmailsql_resolution_free(r);
  OUTPUT:
    RETVAL

SV *
vm_local_domain(self, domain)
    Vmailsql self
    SV *domain
  PREINIT:
    char *real = NULL;
  CODE:
    VM_CHECK(vmailsql_local_domain(self, vm_str(aTHX_ domain, "domain"), &real));
    RETVAL = vm_take(aTHX_ real);
  OUTPUT:
    RETVAL

 # ---- authentication ----

SV *
vm_authenticate(self, login, password)
    Vmailsql self
    SV *login
    SV *password
  PREINIT:
    vmailsql_mailbox *m = NULL;
  CODE:
    VM_CHECK(vmailsql_authenticate(self, vm_str(aTHX_ login, "login"),
                                   vm_str(aTHX_ password, "password"), &m));
    RETVAL = vm_mailbox_sv(aTHX_ m);
    vmailsql_mailbox_free(m);
  OUTPUT:
    RETVAL

SV *
vm_authenticate_bytes(self, login, password)
    Vmailsql self
    SV *login
    SV *password
  PREINIT:
    vmailsql_mailbox *m = NULL;
  CODE:
    VM_CHECK(vmailsql_authenticate(self, vm_str(aTHX_ login, "login"),
                                   vm_bytes(aTHX_ password, "password"), &m));
    RETVAL = vm_mailbox_sv(aTHX_ m);
    vmailsql_mailbox_free(m);
  OUTPUT:
    RETVAL

SV *
vm_authenticate_apop(self, login, timestamp, digest)
    Vmailsql self
    SV *login
    SV *timestamp
    SV *digest
  PREINIT:
    vmailsql_mailbox *m = NULL;
  CODE:
    VM_CHECK(vmailsql_authenticate_apop(self, vm_str(aTHX_ login, "login"),
                                        vm_str(aTHX_ timestamp, "timestamp"),
                                        vm_str(aTHX_ digest, "digest"), &m));
    RETVAL = vm_mailbox_sv(aTHX_ m);
    vmailsql_mailbox_free(m);
  OUTPUT:
    RETVAL

void
vm_plaintext_credentials(self, login)
    Vmailsql self
    SV *login
  PREINIT:
    vmailsql_mailbox *m = NULL;
    char *clear = NULL;
  PPCODE:
    VM_CHECK(vmailsql_plaintext_credentials(self, vm_str(aTHX_ login, "login"), &m, &clear));
    EXTEND(SP, 2);
    mPUSHs(vm_mailbox_sv(aTHX_ m));
    vmailsql_mailbox_free(m);
    mPUSHs(vm_take(aTHX_ clear));

SV *
vm_lookup_mailbox(self, login)
    Vmailsql self
    SV *login
  PREINIT:
    vmailsql_mailbox *m = NULL;
  CODE:
    VM_CHECK(vmailsql_lookup_mailbox(self, vm_str(aTHX_ login, "login"), &m));
    RETVAL = vm_mailbox_sv(aTHX_ m);
    vmailsql_mailbox_free(m);
  OUTPUT:
    RETVAL

int
vm_authenticate_domain(self, domain, password)
    Vmailsql self
    SV *domain
    SV *password
  CODE:
    VM_CHECK(vmailsql_authenticate_domain(self, vm_str(aTHX_ domain, "domain"),
                                          vm_str(aTHX_ password, "password")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- passwords ----

SV *
vm_hash_password(self, password, scheme = &PL_sv_undef)
    SV *self
    SV *password
    SV *scheme
  PREINIT:
    vmailsql *h;
    char *hash = NULL;
  CODE:
    h = vm_maybe_handle(aTHX_ self, "hash_password");
    if (h != NULL && !SvOK(scheme))
        VM_CHECK(vmailsql_hash_password(h, vm_str(aTHX_ password, "password"), &hash));
    else
        VM_CHECK(vmailsql_password_hash(vm_str(aTHX_ scheme, "scheme"),
                                        vm_str(aTHX_ password, "password"), &hash));
    RETVAL = vm_take(aTHX_ hash);
  OUTPUT:
    RETVAL

UV
vm_password_min_length(self)
    SV *self
  PREINIT:
    uint32_t min_length = 0;
  CODE:
    VM_CHECK(vmailsql_password_min_length(vm_handle(aTHX_ self, "password_min_length"),
                                          &min_length));
    RETVAL = min_length;
  OUTPUT:
    RETVAL

bool
vm_verify_password(self, stored, password)
    SV *self
    SV *stored
    SV *password
  PREINIT:
    vmailsql_result r;
  CODE:
    PERL_UNUSED_VAR(self);
    r = vmailsql_password_verify(vm_str(aTHX_ stored, "stored"),
                                 vm_str(aTHX_ password, "password"));
    if (r != VMAILSQL_OK && r != VMAILSQL_AUTH_FAILED)
        vm_croak(aTHX_ r);
    RETVAL = r == VMAILSQL_OK;
  OUTPUT:
    RETVAL

bool
vm_verify_password_bytes(self, stored, password)
    SV *self
    SV *stored
    SV *password
  PREINIT:
    vmailsql_result r;
  CODE:
    PERL_UNUSED_VAR(self);
    r = vmailsql_password_verify(vm_str(aTHX_ stored, "stored"),
                                 vm_bytes(aTHX_ password, "password"));
    if (r != VMAILSQL_OK && r != VMAILSQL_AUTH_FAILED)
        vm_croak(aTHX_ r);
    RETVAL = r == VMAILSQL_OK;
  OUTPUT:
    RETVAL

bool
vm_verify_password_user(self, stored, user, password)
    SV *self
    SV *stored
    SV *user
    SV *password
  PREINIT:
    vmailsql_result r;
  CODE:
    PERL_UNUSED_VAR(self);
    r = vmailsql_password_verify_user(vm_str(aTHX_ stored, "stored"), vm_str(aTHX_ user, "user"),
                                      vm_str(aTHX_ password, "password"));
    if (r != VMAILSQL_OK && r != VMAILSQL_AUTH_FAILED)
        vm_croak(aTHX_ r);
    RETVAL = r == VMAILSQL_OK;
  OUTPUT:
    RETVAL

bool
vm_verify_apop(self, stored, timestamp, digest)
    SV *self
    SV *stored
    SV *timestamp
    SV *digest
  PREINIT:
    vmailsql_result r;
  CODE:
    PERL_UNUSED_VAR(self);
    r = vmailsql_password_verify_apop(vm_str(aTHX_ stored, "stored"),
                                      vm_str(aTHX_ timestamp, "timestamp"),
                                      vm_str(aTHX_ digest, "digest"));
    if (r != VMAILSQL_OK && r != VMAILSQL_AUTH_FAILED)
        vm_croak(aTHX_ r);
    RETVAL = r == VMAILSQL_OK;
  OUTPUT:
    RETVAL

SV *
vm_identify_password(self, stored)
    SV *self
    SV *stored
  PREINIT:
    const char *name = NULL;
    bool weak = false, plaintext = false;
    HV *hv;
  CODE:
    PERL_UNUSED_VAR(self);
    VM_CHECK(vmailsql_password_identify(vm_str(aTHX_ stored, "stored"), &name, &weak, &plaintext));
    hv = newHV();
    hv_stores(hv, "name", vm_sv(aTHX_ name));
    hv_stores(hv, "weak", newSVsv(weak ? &PL_sv_yes : &PL_sv_no));
    hv_stores(hv, "plaintext", newSVsv(plaintext ? &PL_sv_yes : &PL_sv_no));
    RETVAL = newRV_noinc((SV *)hv);
  OUTPUT:
    RETVAL

 # ---- schema ----

int
vm_create_schema(self)
    Vmailsql self
  ALIAS:
    create_schema_legacy = 1
  CODE:
    if (ix == 1)
        VM_CHECK(vmailsql_create_schema_legacy(self));
    else
        VM_CHECK(vmailsql_create_schema(self));
    RETVAL = 1;
  OUTPUT:
    RETVAL

void
vm_tables(self)
    Vmailsql self
  PREINIT:
    vmailsql_string_list *list = NULL;
    size_t i, n;
  PPCODE:
    VM_CHECK(vmailsql_tables(self, &list));
    n = list->count;
    if (GIMME_V != G_LIST) {
        mXPUSHu((UV)n);
    } else {
        EXTEND(SP, (SSize_t)n);
        for (i = 0; i < n; i++)
            mPUSHs(vm_sv(aTHX_ list->items[i]));
    }
    vmailsql_string_list_free(list);

 # ---- domains ----

int
vm__add_domain(self, name, path, unix_user, password, max_popbox)
    Vmailsql self
    SV *name
    SV *path
    SV *unix_user
    SV *password
    IV max_popbox
  CODE:
    VM_CHECK(vmailsql_add_domain(self, vm_str(aTHX_ name, "name"), vm_str(aTHX_ path, "path"),
                                 vm_str(aTHX_ unix_user, "unix_user"),
                                 vm_str(aTHX_ password, "password"), (int64_t)max_popbox));
    RETVAL = 1;
  OUTPUT:
    RETVAL

SV *
vm_domain(self, name)
    Vmailsql self
    SV *name
  PREINIT:
    vmailsql_domain *d = NULL;
  CODE:
    VM_CHECK(vmailsql_get_domain(self, vm_str(aTHX_ name, "name"), &d));
    RETVAL = vm_domain_sv(aTHX_ d);
    vmailsql_domain_free(d);
  OUTPUT:
    RETVAL

void
vm_domains(self)
    Vmailsql self
  PREINIT:
    vmailsql_domain_list *list = NULL;
  PPCODE:
    VM_CHECK(vmailsql_list_domains(self, &list));
    VM_PUSH_LIST(list, vm_domain_sv);
    vmailsql_domain_list_free(list);

int
vm__change_domain(self, name, path, unix_user, max_popbox)
    Vmailsql self
    SV *name
    SV *path
    SV *unix_user
    IV max_popbox
  CODE:
    VM_CHECK(vmailsql_change_domain(self, vm_str(aTHX_ name, "name"), vm_str(aTHX_ path, "path"),
                                    vm_str(aTHX_ unix_user, "unix_user"), (int64_t)max_popbox));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_set_domain_password(self, name, password)
    Vmailsql self
    SV *name
    SV *password
  CODE:
    VM_CHECK(vmailsql_set_domain_password(self, vm_str(aTHX_ name, "name"),
                                          vm_str(aTHX_ password, "password")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_delete_domain(self, name)
    Vmailsql self
    SV *name
  CODE:
    VM_CHECK(vmailsql_delete_domain(self, vm_str(aTHX_ name, "name")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- popboxes ----

int
vm_add_popbox(self, domain, local_part, password, mbox_name = &PL_sv_undef)
    Vmailsql self
    SV *domain
    SV *local_part
    SV *password
    SV *mbox_name
  CODE:
    VM_CHECK(vmailsql_add_popbox(self, vm_str(aTHX_ domain, "domain"),
                                 vm_str(aTHX_ local_part, "local_part"),
                                 vm_str(aTHX_ password, "password"),
                                 vm_str(aTHX_ mbox_name, "mbox_name")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_add_popbox_record(self, domain, local_part, password_hash, mbox_name = &PL_sv_undef)
    Vmailsql self
    SV *domain
    SV *local_part
    SV *password_hash
    SV *mbox_name
  CODE:
    VM_CHECK(vmailsql_add_popbox_record(self, vm_str(aTHX_ domain, "domain"),
                                        vm_str(aTHX_ local_part, "local_part"),
                                        vm_str(aTHX_ password_hash, "password_hash"),
                                        vm_str(aTHX_ mbox_name, "mbox_name")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

SV *
vm_popbox(self, domain, local_part)
    Vmailsql self
    SV *domain
    SV *local_part
  PREINIT:
    vmailsql_popbox *p = NULL;
  CODE:
    VM_CHECK(vmailsql_get_popbox(self, vm_str(aTHX_ domain, "domain"),
                                 vm_str(aTHX_ local_part, "local_part"), &p));
    RETVAL = vm_popbox_sv(aTHX_ p);
    vmailsql_popbox_free(p);
  OUTPUT:
    RETVAL

void
vm_popboxes(self, domain = &PL_sv_undef)
    Vmailsql self
    SV *domain
  PREINIT:
    vmailsql_popbox_list *list = NULL;
  PPCODE:
    VM_CHECK(vmailsql_list_popboxes(self, vm_str(aTHX_ domain, "domain"), &list));
    VM_PUSH_LIST(list, vm_popbox_sv);
    vmailsql_popbox_list_free(list);

int
vm_set_popbox_password(self, domain, local_part, password)
    Vmailsql self
    SV *domain
    SV *local_part
    SV *password
  CODE:
    VM_CHECK(vmailsql_set_popbox_password(self, vm_str(aTHX_ domain, "domain"),
                                          vm_str(aTHX_ local_part, "local_part"),
                                          vm_str(aTHX_ password, "password")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_change_popbox_password(self, address, old_password, new_password)
    Vmailsql self
    SV *address
    SV *old_password
    SV *new_password
  CODE:
    VM_CHECK(vmailsql_change_popbox_password(self, vm_str(aTHX_ address, "address"),
                                             vm_str(aTHX_ old_password, "old_password"),
                                             vm_str(aTHX_ new_password, "new_password")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_delete_popbox(self, domain, local_part)
    Vmailsql self
    SV *domain
    SV *local_part
  CODE:
    VM_CHECK(vmailsql_delete_popbox(self, vm_str(aTHX_ domain, "domain"),
                                    vm_str(aTHX_ local_part, "local_part")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- forwarders ----

int
vm_add_forwarder(self, domain, local_part, remote_name)
    Vmailsql self
    SV *domain
    SV *local_part
    SV *remote_name
  ALIAS:
    change_forwarder = 1
  CODE:
    if (ix == 1)
        VM_CHECK(vmailsql_change_forwarder(self, vm_str(aTHX_ domain, "domain"),
                                           vm_str(aTHX_ local_part, "local_part"),
                                           vm_str(aTHX_ remote_name, "remote_name")));
    else
        VM_CHECK(vmailsql_add_forwarder(self, vm_str(aTHX_ domain, "domain"),
                                        vm_str(aTHX_ local_part, "local_part"),
                                        vm_str(aTHX_ remote_name, "remote_name")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_set_catch_all(self, domain, remote_name)
    Vmailsql self
    SV *domain
    SV *remote_name
  CODE:
    VM_CHECK(vmailsql_set_catch_all(self, vm_str(aTHX_ domain, "domain"),
                                    vm_str(aTHX_ remote_name, "remote_name")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

SV *
vm_forwarder(self, domain, local_part)
    Vmailsql self
    SV *domain
    SV *local_part
  PREINIT:
    vmailsql_forwarder *f = NULL;
  CODE:
    VM_CHECK(vmailsql_get_forwarder(self, vm_str(aTHX_ domain, "domain"),
                                    vm_str(aTHX_ local_part, "local_part"), &f));
    RETVAL = vm_forwarder_sv(aTHX_ f);
    vmailsql_forwarder_free(f);
  OUTPUT:
    RETVAL

void
vm_forwarders(self, domain = &PL_sv_undef)
    Vmailsql self
    SV *domain
  PREINIT:
    vmailsql_forwarder_list *list = NULL;
  PPCODE:
    VM_CHECK(vmailsql_list_forwarders(self, vm_str(aTHX_ domain, "domain"), &list));
    VM_PUSH_LIST(list, vm_forwarder_sv);
    vmailsql_forwarder_list_free(list);

int
vm_delete_forwarder(self, domain, local_part)
    Vmailsql self
    SV *domain
    SV *local_part
  CODE:
    VM_CHECK(vmailsql_delete_forwarder(self, vm_str(aTHX_ domain, "domain"),
                                       vm_str(aTHX_ local_part, "local_part")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- domain aliases ----

int
vm_add_alias(self, alias, domain)
    Vmailsql self
    SV *alias
    SV *domain
  CODE:
    VM_CHECK(vmailsql_add_alias(self, vm_str(aTHX_ alias, "alias"), vm_str(aTHX_ domain, "domain")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

void
vm_aliases(self, domain = &PL_sv_undef)
    Vmailsql self
    SV *domain
  PREINIT:
    vmailsql_alias_list *list = NULL;
  PPCODE:
    VM_CHECK(vmailsql_list_aliases(self, vm_str(aTHX_ domain, "domain"), &list));
    VM_PUSH_LIST(list, vm_alias_sv);
    vmailsql_alias_list_free(list);

int
vm_delete_alias(self, alias)
    Vmailsql self
    SV *alias
  CODE:
    VM_CHECK(vmailsql_delete_alias(self, vm_str(aTHX_ alias, "alias")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- control-panel sessions ----

SV *
vm_create_session(self, domain)
    Vmailsql self
    SV *domain
  PREINIT:
    char *token = NULL;
  CODE:
    VM_CHECK(vmailsql_create_session(self, vm_str(aTHX_ domain, "domain"), &token));
    RETVAL = vm_take(aTHX_ token);
  OUTPUT:
    RETVAL

int
vm_validate_session(self, domain, token)
    Vmailsql self
    SV *domain
    SV *token
  CODE:
    VM_CHECK(vmailsql_validate_session(self, vm_str(aTHX_ domain, "domain"),
                                       vm_str(aTHX_ token, "token")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_destroy_session(self, domain)
    Vmailsql self
    SV *domain
  CODE:
    VM_CHECK(vmailsql_destroy_session(self, vm_str(aTHX_ domain, "domain")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

UV
vm_expire_sessions(self)
    Vmailsql self
  PREINIT:
    uint64_t count = 0;
  CODE:
    VM_CHECK(vmailsql_expire_sessions(self, &count));
    RETVAL = (UV)count;
  OUTPUT:
    RETVAL

 # ---- sign-in throttle ----

UV
vm_count_signin_attempt(self, subject, window_seconds)
    Vmailsql self
    SV *subject
    UV window_seconds
  PREINIT:
    uint32_t attempts = 0;
  CODE:
    if (window_seconds > UINT32_MAX)
        vm_die(aTHX_ VMAILSQL_INVALID_INPUT, newSVpvs("window_seconds is too large"));
    VM_CHECK(vmailsql_count_signin_attempt(self, vm_str(aTHX_ subject, "subject"),
                                           (uint32_t)window_seconds, &attempts));
    RETVAL = (UV)attempts;
  OUTPUT:
    RETVAL

UV
vm_signin_attempts(self, subject, window_seconds)
    Vmailsql self
    SV *subject
    UV window_seconds
  PREINIT:
    uint32_t attempts = 0;
  CODE:
    if (window_seconds > UINT32_MAX)
        vm_die(aTHX_ VMAILSQL_INVALID_INPUT, newSVpvs("window_seconds is too large"));
    VM_CHECK(vmailsql_signin_attempts(self, vm_str(aTHX_ subject, "subject"),
                                      (uint32_t)window_seconds, &attempts));
    RETVAL = (UV)attempts;
  OUTPUT:
    RETVAL

 # ---- replicas ----

int
vm_read_from_primary(self)
    Vmailsql self
  CODE:
    VM_CHECK(vmailsql_read_from_primary(self));
    RETVAL = 1;
  OUTPUT:
    RETVAL

 # ---- audit log ----

int
vm_set_actor(self, actor, origin = &PL_sv_undef)
    Vmailsql self
    SV *actor
    SV *origin
  CODE:
    VM_CHECK(vmailsql_set_actor(self, vm_str(aTHX_ actor, "actor"),
                                vm_str(aTHX_ origin, "origin")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_clear_signin_attempts(self, subject)
    Vmailsql self
    SV *subject
  CODE:
    VM_CHECK(vmailsql_clear_signin_attempts(self, vm_str(aTHX_ subject, "subject")));
    RETVAL = 1;
  OUTPUT:
    RETVAL

int
vm_create_audit_table(self)
    Vmailsql self
  CODE:
    VM_CHECK(vmailsql_create_audit_table(self));
    RETVAL = 1;
  OUTPUT:
    RETVAL

void
vm__audit_log(self, domain, since, until, action, actor, limit)
    Vmailsql self
    SV *domain
    IV since
    IV until
    SV *action
    SV *actor
    UV limit
  PREINIT:
    vmailsql_audit_list *list = NULL;
  PPCODE:
    VM_CHECK(vmailsql_audit_log(self, vm_str(aTHX_ domain, "domain"), (int64_t)since,
                                (int64_t)until, vm_str(aTHX_ action, "action"),
                                vm_str(aTHX_ actor, "actor"), (uint32_t)limit, &list));
    VM_PUSH_LIST(list, vm_audit_sv);
    vmailsql_audit_list_free(list);
