# Builds and installs the C library of vmailsql (libvmailsql.so, vmailsql.h, vmailsql.pc) and
# the Dovecot checkpassword program and the tpop3d auth-other helper. The Rust crate itself builds with cargo alone.
#
#   make                                   cargo build --release (library and header)
#   make install PREFIX=/usr/local         install (DESTDIR=... for staging or packaging)
#   make uninstall PREFIX=/usr/local
#   make check-c                           tests/c/run.sh: C API tests, ASan, valgrind, fork
#   make header                            regenerate include/vmailsql.h after a C ABI change
#
# Installed layout ($(PREFIX) defaults to /usr/local):
#   $(LIBDIR)/libvmailsql.so.$(VERSION)    the library, SONAME libvmailsql.so.0
#   $(LIBDIR)/libvmailsql.so.0             -> libvmailsql.so.$(VERSION) (what programs load)
#   $(LIBDIR)/libvmailsql.so               -> libvmailsql.so.0 (for -lvmailsql at link time)
#   $(INCLUDEDIR)/vmailsql.h
#   $(LIBDIR)/pkgconfig/vmailsql.pc
#   $(LIBEXECDIR)/vmailsql/checkpassword   Dovecot 2.3 passdb (examples/checkpassword.c)
#   $(LIBEXECDIR)/vmailsql/tpop3d-auth-other   tpop3d auth-other-program (examples/tpop3d-auth-other.c)
#   $(LUA_CMODDIR)/vmailsql.so             the Lua 5.4 module (lua/vmailsql.c; needs liblua5.4-dev)
#   $(DATADIR)/vmailsql/dovecot/vmailsql.lua   Dovecot's Lua passdb/userdb script
# Run ldconfig after installing into a system directory.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBEXECDIR ?= $(PREFIX)/libexec
DESTDIR ?=
CARGO ?= cargo
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
INSTALL ?= install
DATADIR ?= $(PREFIX)/share
# Where Debian's Lua 5.4 looks for C modules: /usr/local/lib/lua/5.4 and /usr/lib/lua/5.4 are
# both on its package.cpath.
LUA_CMODDIR ?= $(LIBDIR)/lua/5.4
LUA_CFLAGS ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)

VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
SOVERSION := 0
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)
# The library to install; `make install LIBRARY=path/libvmailsql.so` skips the cargo build.
LIBRARY ?= $(TARGET_DIR)/release/libvmailsql.so
BUILD := $(TARGET_DIR)/c-install

.PHONY: all library install uninstall check-c header

all: library

library:
	$(CARGO) build --lib --release

# The only step that writes the committed header; `cargo test` fails while it is stale.
header:
	VMAILSQL_HEADER_OUT=$(CURDIR)/include/vmailsql.h $(CARGO) build --lib

$(BUILD)/vmailsql.pc: vmailsql.pc.in Cargo.toml
	mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/checkpassword: examples/checkpassword.c include/vmailsql.h $(LIBRARY)
	mkdir -p $(BUILD)/lib
	ln -sf $(abspath $(LIBRARY)) $(BUILD)/lib/libvmailsql.so
	$(CC) $(CFLAGS) -Iinclude -o $@ $< -L$(BUILD)/lib -lvmailsql

$(BUILD)/tpop3d-auth-other: examples/tpop3d-auth-other.c include/vmailsql.h $(LIBRARY)
	mkdir -p $(BUILD)/lib
	ln -sf $(abspath $(LIBRARY)) $(BUILD)/lib/libvmailsql.so
	$(CC) $(CFLAGS) -Iinclude -o $@ $< -L$(BUILD)/lib -lvmailsql

# No -llua: the module takes Lua's symbols from the program that loads it (Dovecot, lua5.4).
$(BUILD)/vmailsql-lua.so: lua/vmailsql.c include/vmailsql.h $(LIBRARY)
	mkdir -p $(BUILD)/lib
	ln -sf $(abspath $(LIBRARY)) $(BUILD)/lib/libvmailsql.so
	$(CC) $(CFLAGS) -fPIC -shared -Iinclude $(LUA_CFLAGS) -o $@ $< -L$(BUILD)/lib -lvmailsql

$(LIBRARY):
	$(CARGO) build --lib --release

install: $(LIBRARY) $(BUILD)/vmailsql.pc $(BUILD)/checkpassword $(BUILD)/tpop3d-auth-other \
	    $(BUILD)/vmailsql-lua.so
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(LIBEXECDIR)/vmailsql $(DESTDIR)$(LUA_CMODDIR) \
	    $(DESTDIR)$(DATADIR)/vmailsql/dovecot
	$(INSTALL) -m 0755 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libvmailsql.so.$(VERSION)
	ln -sf libvmailsql.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmailsql.so.$(SOVERSION)
	ln -sf libvmailsql.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libvmailsql.so
	$(INSTALL) -m 0644 include/vmailsql.h $(DESTDIR)$(INCLUDEDIR)/vmailsql.h
	$(INSTALL) -m 0644 $(BUILD)/vmailsql.pc $(DESTDIR)$(LIBDIR)/pkgconfig/vmailsql.pc
	$(INSTALL) -m 0755 $(BUILD)/checkpassword $(DESTDIR)$(LIBEXECDIR)/vmailsql/checkpassword
	$(INSTALL) -m 0755 $(BUILD)/tpop3d-auth-other \
	    $(DESTDIR)$(LIBEXECDIR)/vmailsql/tpop3d-auth-other
	$(INSTALL) -m 0644 $(BUILD)/vmailsql-lua.so $(DESTDIR)$(LUA_CMODDIR)/vmailsql.so
	$(INSTALL) -m 0644 dovecot/vmailsql.lua $(DESTDIR)$(DATADIR)/vmailsql/dovecot/vmailsql.lua

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libvmailsql.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/libvmailsql.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libvmailsql.so \
	    $(DESTDIR)$(INCLUDEDIR)/vmailsql.h $(DESTDIR)$(LIBDIR)/pkgconfig/vmailsql.pc \
	    $(DESTDIR)$(LIBEXECDIR)/vmailsql/checkpassword \
	    $(DESTDIR)$(LIBEXECDIR)/vmailsql/tpop3d-auth-other \
	    $(DESTDIR)$(LUA_CMODDIR)/vmailsql.so $(DESTDIR)$(DATADIR)/vmailsql/dovecot/vmailsql.lua
	-rmdir $(DESTDIR)$(LIBEXECDIR)/vmailsql $(DESTDIR)$(DATADIR)/vmailsql/dovecot \
	    $(DESTDIR)$(DATADIR)/vmailsql

check-c:
	tests/c/run.sh
