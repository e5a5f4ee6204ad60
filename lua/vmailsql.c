/*
 * vmailsql.c: the Lua 5.4 module `vmailsql`, over libvmailsql's C ABI (include/vmailsql.h)
 * and nothing else, so that a Lua host (Dovecot's Lua passdb and userdb, see
 * dovecot/vmailsql.lua) authenticates users in-process with the same library as everything
 * else. `make install` puts it where Debian's Lua 5.4 looks for C modules.
 *
 *   local vmailsql = require "vmailsql"
 *   local h, message, kind = vmailsql.open(path)     -- nil: $VMAILSQL_CONFIG, /etc/vmailsql.conf
 *   local box, kind, message = h:authenticate(login, password)
 *   local box, kind, message = h:lookup(login)                     -- no password (userdb)
 *   local box, cleartext_or_kind, message = h:plaintext_credentials(login)   -- APOP
 *   local users, kind, message = h:popboxes()        -- { "alice@example.org", ... }
 *   h:close()                                        -- also on garbage collection
 *
 * A mailbox is a table: user ("local@domain", the canonical login), local_part, domain,
 * domain_path, mbox_path, unix_user, and uid and gid (numbers: unix_user resolved with the
 * system's user database here, where the library cannot; a unix_user that does not resolve
 * or resolves to uid 0 is unsafe stored data, reported as kind "internal").
 *
 * On failure a function returns nil, a kind and a message (open returns nil, message, kind).
 * Kinds are the C result codes in lower case without the prefix: "not_found", "auth_failed",
 * "invalid_input", "conflict", "limit_exceeded", "temporary", "internal", "panic",
 * "null_argument"; a code this module does not know (later library versions may add codes)
 * is "internal", as the C API asks. Only "not_found", "auth_failed" and "invalid_input" mean
 * "no"; every other kind means "try again later". vmailsql.rejected(kind) says which.
 * Messages never hold a password. Wrong argument types raise Lua errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <lauxlib.h>
#include <lua.h>

#include "vmailsql.h"

#define HANDLE "vmailsql.handle"

typedef struct {
    vmailsql *h;
} handle_box;

/* The kind of a failure; unknown codes are "internal" (the header's rule). */
static const char *kind_name(vmailsql_result code) {
    switch (code) {
    case VMAILSQL_OK: return "ok";
    case VMAILSQL_NOT_FOUND: return "not_found";
    case VMAILSQL_AUTH_FAILED: return "auth_failed";
    case VMAILSQL_INVALID_INPUT: return "invalid_input";
    case VMAILSQL_CONFLICT: return "conflict";
    case VMAILSQL_LIMIT_EXCEEDED: return "limit_exceeded";
    case VMAILSQL_TEMPORARY: return "temporary";
    case VMAILSQL_INTERNAL: return "internal";
    case VMAILSQL_PANIC: return "panic";
    case VMAILSQL_NULL_ARGUMENT: return "null_argument";
    default: return "internal";
    }
}

/* nil, kind, message: the message is the thread's last error, or the code's description. */
static int push_failure(lua_State *L, vmailsql_result code) {
    const char *message = vmailsql_last_error();
    lua_pushnil(L);
    lua_pushstring(L, kind_name(code));
    lua_pushstring(L, message != NULL && *message ? message : vmailsql_result_str((int)code));
    return 3;
}

static int push_unsafe(lua_State *L, const char *what, const vmailsql_mailbox *m) {
    lua_pushnil(L);
    lua_pushliteral(L, "internal");
    lua_pushfstring(L, "%s (unix_user \"%s\" of %s@%s)", what, m->unix_user, m->local_part,
                    m->domain);
    return 3;
}

static vmailsql *check_handle(lua_State *L) {
    handle_box *box = luaL_checkudata(L, 1, HANDLE);
    if (box->h == NULL)
        luaL_error(L, "vmailsql: handle is closed");
    return box->h;
}

/* A string argument that must not hold a NUL (the C ABI takes NUL-terminated strings). */
static const char *check_cstring(lua_State *L, int arg, int *has_nul) {
    size_t len;
    const char *s = luaL_checklstring(L, arg, &len);
    *has_nul = strlen(s) != len;
    return s;
}

/* uid and gid of unix_user: a name from the user database, or a decimal uid (whose group is
 * that of its passwd entry, or the same number without one). 0 on success. */
static int owner_ids(const char *owner, uid_t *uid, gid_t *gid) {
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (*owner != '\0' && strspn(owner, "0123456789") == strlen(owner)) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(owner, &end, 10);
        if (errno != 0 || *end != '\0' || v != (unsigned long)(uid_t)v)
            return -1;
        *uid = (uid_t)v;
        getpwuid_r(*uid, &pw, buf, sizeof buf, &found);
        *gid = found != NULL ? found->pw_gid : (gid_t)v;
        return 0;
    }
    if (getpwnam_r(owner, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
        return -1;
    *uid = found->pw_uid;
    *gid = found->pw_gid;
    return 0;
}

static void set_field(lua_State *L, const char *key, const char *value) {
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* Pushes the mailbox table (1 value), or the failure triple for an unusable owner. */
static int push_mailbox(lua_State *L, const vmailsql_mailbox *m) {
    uid_t uid;
    gid_t gid;
    if (owner_ids(m->unix_user, &uid, &gid) != 0)
        return push_unsafe(L, "no such Unix user", m);
    if (uid == 0)
        return push_unsafe(L, "refusing uid 0", m);
    lua_createtable(L, 0, 8);
    lua_pushfstring(L, "%s@%s", m->local_part, m->domain);
    lua_setfield(L, -2, "user");
    set_field(L, "local_part", m->local_part);
    set_field(L, "domain", m->domain);
    set_field(L, "domain_path", m->domain_path);
    set_field(L, "mbox_path", m->mbox_path);
    set_field(L, "unix_user", m->unix_user);
    lua_pushinteger(L, (lua_Integer)uid);
    lua_setfield(L, -2, "uid");
    lua_pushinteger(L, (lua_Integer)gid);
    lua_setfield(L, -2, "gid");
    return 1;
}

/* vmailsql.open([path]) -> handle | nil, message, kind */
static int l_open(lua_State *L) {
    const char *path = luaL_optstring(L, 1, NULL);
    handle_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    vmailsql_result code;
    box->h = NULL;
    luaL_setmetatable(L, HANDLE);
    code = vmailsql_open(path, &box->h);
    if (code != VMAILSQL_OK) {
        int n = push_failure(L, code); /* nil, kind, message -> nil, message, kind */
        lua_rotate(L, -2, 1);
        return n;
    }
    return 1;
}

/* h:authenticate(login, password) -> mailbox | nil, kind, message */
static int l_authenticate(lua_State *L) {
    vmailsql *h = check_handle(L);
    int nul_login, nul_password;
    const char *login = check_cstring(L, 2, &nul_login);
    const char *password = check_cstring(L, 3, &nul_password);
    vmailsql_mailbox *m = NULL;
    vmailsql_result code;
    int n;
    if (nul_login || nul_password) {
        lua_pushnil(L);
        lua_pushliteral(L, "invalid_input");
        lua_pushliteral(L, "login or password holds a NUL byte");
        return 3;
    }
    code = vmailsql_authenticate(h, login, password, &m);
    if (code != VMAILSQL_OK)
        return push_failure(L, code);
    n = push_mailbox(L, m);
    vmailsql_mailbox_free(m);
    return n;
}

/* h:lookup(login) -> mailbox | nil, kind, message */
static int l_lookup(lua_State *L) {
    vmailsql *h = check_handle(L);
    int nul;
    const char *login = check_cstring(L, 2, &nul);
    vmailsql_mailbox *m = NULL;
    vmailsql_result code;
    int n;
    if (nul)
        return push_failure(L, VMAILSQL_INVALID_INPUT);
    code = vmailsql_lookup_mailbox(h, login, &m);
    if (code != VMAILSQL_OK)
        return push_failure(L, code);
    n = push_mailbox(L, m);
    vmailsql_mailbox_free(m);
    return n;
}

/* h:plaintext_credentials(login) -> mailbox, cleartext | nil, kind, message */
static int l_plaintext_credentials(lua_State *L) {
    vmailsql *h = check_handle(L);
    int nul;
    const char *login = check_cstring(L, 2, &nul);
    vmailsql_mailbox *m = NULL;
    char *clear = NULL;
    vmailsql_result code;
    int n;
    if (nul)
        return push_failure(L, VMAILSQL_INVALID_INPUT);
    code = vmailsql_plaintext_credentials(h, login, &m, &clear);
    if (code != VMAILSQL_OK)
        return push_failure(L, code);
    n = push_mailbox(L, m);
    if (n == 1) {
        lua_pushstring(L, clear);
        n = 2;
    }
    vmailsql_string_free(clear); /* wipes the library's copy */
    vmailsql_mailbox_free(m);
    return n;
}

/* h:popboxes() -> { "local@domain", ... } | nil, kind, message */
static int l_popboxes(lua_State *L) {
    vmailsql *h = check_handle(L);
    vmailsql_popbox_list *list = NULL;
    vmailsql_result code = vmailsql_list_popboxes(h, NULL, &list);
    size_t i;
    if (code != VMAILSQL_OK)
        return push_failure(L, code);
    lua_createtable(L, list->count > (size_t)INT32_MAX ? 0 : (int)list->count, 0);
    for (i = 0; i < list->count; i++) {
        lua_pushfstring(L, "%s@%s", list->items[i].local_part, list->items[i].domain);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    vmailsql_popbox_list_free(list);
    return 1;
}

/* h:close(), also __gc and __close: frees the handle once. */
static int l_close(lua_State *L) {
    handle_box *box = luaL_checkudata(L, 1, HANDLE);
    vmailsql_free(box->h);
    box->h = NULL;
    return 0;
}

/* vmailsql.rejected(kind) -> true for the kinds that mean "no" rather than "try later" */
static int l_rejected(lua_State *L) {
    const char *kind = luaL_checkstring(L, 1);
    lua_pushboolean(L, strcmp(kind, "not_found") == 0 || strcmp(kind, "auth_failed") == 0 ||
                           strcmp(kind, "invalid_input") == 0);
    return 1;
}

static int l_version(lua_State *L) {
    lua_pushstring(L, vmailsql_version());
    return 1;
}

static const luaL_Reg handle_methods[] = {
    {"authenticate", l_authenticate},
    {"lookup", l_lookup},
    {"plaintext_credentials", l_plaintext_credentials},
    {"popboxes", l_popboxes},
    {"close", l_close},
    {NULL, NULL},
};

static const luaL_Reg module_functions[] = {
    {"open", l_open},
    {"rejected", l_rejected},
    {"version", l_version},
    {NULL, NULL},
};

int luaopen_vmailsql(lua_State *L) {
    if (luaL_newmetatable(L, HANDLE)) {
        luaL_newlib(L, handle_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, module_functions);
    return 1;
}
