-- vmailsql.lua: Dovecot's passdb and userdb for a vmail-sql database, in-process through the
-- `vmailsql` Lua module (libvmailsql's C ABI). Works with Dovecot 2.3 (Debian 12, package
-- dovecot-auth-lua) and 2.4 (Debian 13); configurations in dovecot/2.3 and dovecot/2.4.
--
-- The library verifies the password, so every stored scheme of vmail-sql works ({md5},
-- {crypt}, {plaintext}, bare hex MD5, Dovecot's names...) without Dovecot's
-- auth_allow_weak_schemes, and upgrade_on_login rewrites weak hashes on a successful login.
-- The login is split at any of the configured separators (@%!: by default) and the canonical
-- user name (local@domain, lower-case) is handed back to Dovecot as `user`.
--
-- Configuration file of the library (a path):
--   2.4: lua_settings { vmailsql_config = /etc/vmailsql.conf } in the passdb and userdb blocks;
--   2.3: Dovecot passes no settings to the script: $VMAILSQL_CONFIG (set it with
--        import_environment) or else the library's default, /etc/vmailsql.conf.
-- The auth worker (root by default) must be able to read it.
--
-- Answers: wrong password -> PASSWORD_MISMATCH, unknown user -> USER_UNKNOWN (the client sees
-- the same "[AUTH] Authentication failed"); database down, an unreadable configuration and
-- unsafe stored data (a path escaping domain.path, a root, empty or unknown unix_user) ->
-- INTERNAL_FAILURE, which Dovecot reports as a temporary failure ("[SYS/TEMP]", IMAP
-- "[UNAVAILABLE]"), never as "unknown user". A success returns a table of fields (2.4 accepts
-- nothing else), a failure a message (2.4 accepts only a string or nil there).

local vmailsql = require "vmailsql"

local config_path = nil -- nil: $VMAILSQL_CONFIG, else /etc/vmailsql.conf
local layout_24 = false -- Dovecot 2.4 names the mail location in separate settings
local handle = nil

local function log_error(req, text)
  if req ~= nil and req.log_error ~= nil then
    req:log_error("vmailsql: " .. text)
  else
    dovecot.i_error("vmailsql: " .. text)
  end
end

-- 2.3 calls script_init() without arguments; 2.4 with the table of lua_settings.
function script_init(settings)
  if type(settings) == "table" then
    layout_24 = true
    if settings.vmailsql_config ~= nil and settings.vmailsql_config ~= "" then
      config_path = settings.vmailsql_config
    end
  end
  return 0
end

function script_deinit()
  if handle ~= nil then
    handle:close()
    handle = nil
  end
end

-- The handle, opened on first use (not in script_init, so a configuration that cannot be read
-- becomes a temporary failure with a log line, retried on the next login, instead of an auth
-- process that refuses to start).
local function open(req)
  if handle == nil then
    local h, message = vmailsql.open(config_path)
    if h == nil then
      log_error(req, "cannot open " .. (config_path or "the default configuration") .. ": "
        .. message)
      return nil
    end
    handle = h
  end
  return handle
end

-- Dovecot's mail location separates options with ':'; a ':' inside a path is doubled.
local function location_path(path)
  return (string.gsub(path, ":", "::"))
end

-- The userdb fields: the popbox's mbox as INBOX, indexes in memory, as tpop3d served it.
local function userdb_fields(box)
  local fields = { uid = tostring(box.uid), gid = tostring(box.gid), home = box.domain_path }
  if layout_24 then
    fields.mail_driver = "mbox"
    fields.mail_path = box.domain_path
    fields.mail_inbox_path = box.mbox_path
    fields.mail_index_path = "MEMORY"
  else
    fields.mail = "mbox:" .. location_path(box.domain_path) .. ":INBOX="
      .. location_path(box.mbox_path) .. ":INDEX=MEMORY"
  end
  return fields
end

-- A failure of the library: "no" for a rejection, otherwise a logged temporary failure.
local function failure(req, kind, message, rejected_result, temporary_result)
  if vmailsql.rejected(kind) then
    return rejected_result, "vmailsql: " .. kind
  end
  log_error(req, "temporary failure for " .. tostring(req.user) .. " (" .. kind .. "): "
    .. message)
  return temporary_result, "vmailsql: temporary failure (" .. kind .. ")"
end

local P = dovecot.auth

function auth_password_verify(req, password)
  local h = open(req)
  if h == nil then
    return P.PASSDB_RESULT_INTERNAL_FAILURE, "vmailsql: configuration unreadable"
  end
  local box, kind, message = h:authenticate(req.user, password)
  if box ~= nil then
    return P.PASSDB_RESULT_OK, { user = box.user }
  end
  -- Unknown users and wrong passwords are one answer of the library (AUTH_FAILED).
  return failure(req, kind, message, P.PASSDB_RESULT_PASSWORD_MISMATCH,
    P.PASSDB_RESULT_INTERNAL_FAILURE)
end

-- Credentials for mechanisms that need the cleartext (APOP): only {plaintext} popboxes have
-- it, as with tpop3d; any other popbox is unknown to such a mechanism.
function auth_passdb_lookup(req)
  local h = open(req)
  if h == nil then
    return P.PASSDB_RESULT_INTERNAL_FAILURE, "vmailsql: configuration unreadable"
  end
  local box, cleartext, message = h:plaintext_credentials(req.user)
  if box ~= nil then
    return P.PASSDB_RESULT_OK, { user = box.user, password = "{PLAIN}" .. cleartext }
  end
  return failure(req, cleartext, message, P.PASSDB_RESULT_USER_UNKNOWN,
    P.PASSDB_RESULT_INTERNAL_FAILURE)
end

function auth_userdb_lookup(req)
  local h = open(req)
  if h == nil then
    return P.USERDB_RESULT_INTERNAL_FAILURE, "vmailsql: configuration unreadable"
  end
  local box, kind, message = h:lookup(req.user)
  if box ~= nil then
    return P.USERDB_RESULT_OK, userdb_fields(box)
  end
  return failure(req, kind, message, P.USERDB_RESULT_USER_UNKNOWN,
    P.USERDB_RESULT_INTERNAL_FAILURE)
end

-- doveadm -A and doveadm user '*': every popbox, as local@domain.
function auth_userdb_iterate()
  local h = open(nil)
  if h == nil then
    error("vmailsql: cannot open the configuration")
  end
  local users, kind, message = h:popboxes()
  if users == nil then
    error("vmailsql: cannot list popboxes (" .. kind .. "): " .. message)
  end
  return users
end

-- Dovecot 2.4's auth cache: a login's answer depends on the user name only (2.3 takes
-- cache_key= in the passdb and userdb args instead).
function auth_passdb_get_cache_key()
  return "%{user}"
end

function auth_userdb_get_cache_key()
  return "%{user}"
end
