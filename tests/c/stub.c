/* stub.c: the public header compiles on its own, as C99 and as C++, with every warning an
 * error (tests/c/run.sh). It also pins a few ABI facts at compile time. */
#include "vmailsql.h"

#if !defined(VMAILSQL_VERSION_MAJOR) || !defined(VMAILSQL_VERSION_MINOR) || \
    !defined(VMAILSQL_VERSION_PATCH) || !defined(VMAILSQL_VERSION) || \
    !defined(VMAILSQL_VERSION_NUMBER)
#error "version macros missing from vmailsql.h"
#endif

/* Plain C arrays instead of static_assert, which C99 lacks. */
typedef char assert_ok_is_zero[VMAILSQL_OK == 0 ? 1 : -1];
typedef char assert_codes_distinct[VMAILSQL_TEMPORARY != VMAILSQL_NOT_FOUND ? 1 : -1];
typedef char assert_handle_is_opaque_pointer[sizeof(vmailsql *) == sizeof(void *) ? 1 : -1];

int vmailsql_stub(void);

int vmailsql_stub(void) {
    vmailsql *h = 0;
    vmailsql_resolution *r = 0;
    vmailsql_result code = vmailsql_open_url("sqlite::memory:", &h);
    assert_ok_is_zero *a = 0;
    assert_codes_distinct *b = 0;
    assert_handle_is_opaque_pointer *c = 0;
    (void)a;
    (void)b;
    (void)c;
    if (code == VMAILSQL_OK)
        code = vmailsql_resolve(h, "alice@example.org", &r);
    vmailsql_resolution_free(r);
    vmailsql_free(h);
    return (int)code;
}
