//! MySQL and MariaDB through the pure-Rust `mysql` crate.
//!
//! One held connection per handle, no pool: the crate's pool resets a connection on every
//! return (an extra round trip per lookup). Statements are prepared once and cached by the
//! driver. `prefer_socket` is off and `max_allowed_packet` is preset so that connecting costs one
//! handshake and nothing more: every Exim process connects afresh.

use mysql::consts::CapabilityFlags;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Params};

use super::servers::ReplicaState;
use super::{Backend, Packing, Row, StoreKind, Value};
use crate::config::{redact_url, Config};
use crate::error::{Error, Result};

/// The recommended schema for new MySQL/MariaDB sites.
pub(crate) const SCHEMA: &str = include_str!("../../sql/mysql/schema.sql");
/// The audit table (`store::audit`), beside either schema.
pub(crate) const AUDIT_SCHEMA: &str = include_str!("../../sql/mysql/audit.sql");
/// The seed's schema, for sites that want it unchanged, and the one table vmailsql adds
/// (`signin_failure`, the control panel's sign-in throttle).
pub(crate) const LEGACY_SCHEMA: &str = concat!(
    include_str!("../../sql/legacy/init-db.sql"),
    include_str!("../../sql/legacy/init-session-db.sql"),
    include_str!("../../sql/legacy/signin-failure.sql")
);

pub(crate) struct MysqlBackend {
    conn: Conn,
    /// The last failure showed that the server ended the connection.
    ended: bool,
    /// The last failure was ER_LOCK_DEADLOCK: the server rolled the transaction back.
    deadlocked: bool,
    /// [`Backend::non_transactional`], once asked on this connection.
    non_transactional: Option<Vec<String>>,
}

impl MysqlBackend {
    pub(crate) fn connect(url: &str, config: &Config) -> Result<MysqlBackend> {
        let shown = redact_url(url);
        let opts = Opts::from_url(url)
            .map_err(|_| Error::invalid(format!("malformed MySQL URL {shown}")))?;
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            // "Rows matched", not "rows changed", as SQLite counts: an UPDATE that writes the
            // value a row already has still found its row (not "no such forwarder").
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            .max_allowed_packet(Some(16 << 20))
            .tcp_connect_timeout(Some(config.connect_timeout))
            .read_timeout(Some(config.read_timeout))
            .write_timeout(Some(config.read_timeout));
        let conn = handshake(&opts)
            .or_else(|| handshake(&opts))
            .ok_or_else(|| {
                Error::temporary(format!(
                    "cannot connect to {shown}: the MySQL driver failed in its handshake"
                ))
            })?
            .map_err(|e| {
                Error::temporary(format!("cannot connect to {shown}: {}", describe(&e)))
            })?;
        Ok(MysqlBackend {
            conn,
            ended: false,
            deadlocked: false,
            non_transactional: None,
        })
    }
}

/// One connection attempt; `None` when the driver panicked in it. `mysql` 28.0.4 does so in
/// MariaDB's parsec handshake when the server's random nonce ends in a zero byte (it strips
/// the byte as a terminator, then unwraps the response it cannot compute from 31 bytes): one
/// connection in 256 for a uniformly random nonce; seen in `tests/e2e/test_mariadb_trixie.py`.
/// The caller tries once more, which draws a new nonce.
fn handshake(opts: &OptsBuilder) -> Option<mysql::Result<Conn>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Conn::new(opts.clone()))).ok()
}

/// Reads `SHOW SLAVE STATUS`: the lag, or why it is unknown. With the SQL thread stopped
/// nothing is applied; with the I/O thread down (its primary unreachable, or stopped) the
/// server reports no lag, so how far behind it is cannot be known.
fn replica_state_of(row: &mysql::Row) -> ReplicaState {
    let text = |name: &str| {
        row.get_opt::<Option<String>, _>(name)
            .and_then(|v| v.ok())
            .flatten()
    };
    if text("Slave_SQL_Running").as_deref() != Some("Yes") {
        return ReplicaState::Unknown("its replication is stopped (SQL thread not running)".into());
    }
    match text("Seconds_Behind_Master").and_then(|s| s.parse().ok()) {
        Some(seconds) => ReplicaState::Behind(seconds),
        None => ReplicaState::Unknown(format!(
            "it is not receiving from its primary (I/O thread: {})",
            text("Slave_IO_Running").unwrap_or_default()
        )),
    }
}

fn to_mysql(v: &Value) -> mysql::Value {
    match v {
        Value::Null => mysql::Value::NULL,
        Value::Int(i) => mysql::Value::Int(*i),
        Value::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
    }
}

fn from_mysql(v: mysql::Value) -> Value {
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => {
            i64::try_from(u).map_or_else(|_| Value::Text(u.to_string()), Value::Int)
        }
        mysql::Value::Bytes(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
        other => Value::Text(other.as_sql(true)),
    }
}

fn params(values: &[Value]) -> Params {
    if values.is_empty() {
        Params::Empty
    } else {
        Params::Positional(values.iter().map(to_mysql).collect())
    }
}

/// The server's or driver's message, without anything from the URL and without the driver's
/// `DriverError { … }` wrapping.
fn describe(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => format!("{} (error {})", m.message, m.code),
        mysql::Error::IoError(io) => io.to_string(),
        mysql::Error::DriverError(mysql::DriverError::UnknownAuthPlugin(name)) => format!(
            "the server asks for authentication plugin {name:?}, which vmailsql does not \
             support: give the account mysql_native_password, caching_sha2_password, ed25519 \
             or parsec"
        ),
        mysql::Error::DriverError(d) => d.to_string(),
        mysql::Error::CodecError(c) => c.to_string(),
        other => other.to_string(),
    }
}

/// Server error codes that mean "try again later": the server is going away, read-only (a
/// failed-over primary, `--read-only`), out of connections or resources, or a lock could not be
/// had in time. The client-side codes 2006 ("server has gone away") and 2013 ("lost connection")
/// never arrive as server errors: the driver reports those conditions as I/O or driver errors,
/// mapped below.
const TEMPORARY_SERVER_CODES: &[u16] = &[
    1021, // ER_DISK_FULL
    1037, // ER_OUTOFMEMORY
    1038, // ER_OUT_OF_SORTMEMORY
    1040, // ER_CON_COUNT_ERROR: too many connections
    1041, // ER_OUT_OF_RESOURCES
    1053, // ER_SERVER_SHUTDOWN
    1077, // ER_NORMAL_SHUTDOWN
    1079, // ER_SHUTDOWN_COMPLETE
    1152, // ER_ABORTING_CONNECTION
    1153, // ER_NET_PACKET_TOO_LARGE (a restarted server with other limits)
    1158, // ER_NET_READ_ERROR
    1159, // ER_NET_READ_INTERRUPTED
    1160, // ER_NET_ERROR_ON_WRITE
    1161, // ER_NET_WRITE_INTERRUPTED
    1184, // ER_NEW_ABORTING_CONNECTION
    1203, // ER_TOO_MANY_USER_CONNECTIONS
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1226, // ER_USER_LIMIT_REACHED: an account's max_user_connections / max_queries_per_hour
    1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only, a demoted primary
    1317, // ER_QUERY_INTERRUPTED
    1461, // ER_MAX_PREPARED_STMT_COUNT_REACHED
    1615, // ER_NEED_REPREPARE
    1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1836, // ER_READ_ONLY_MODE
    1927, // ER_CONNECTION_KILLED (MariaDB)
    1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
    4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+: idle connection closed)
];

/// Server codes after which the connection is gone (the server ends it): the next attempt needs
/// a fresh connection, and nothing more was done on this one.
const CONNECTION_ENDED_CODES: &[u16] = &[1053, 1077, 1079, 1152, 1184, 1927, 4031];

fn map_err(e: mysql::Error) -> Error {
    match &e {
        mysql::Error::MySqlError(m) => match m.code {
            // ER_DUP_ENTRY, ER_DUP_UNIQUE
            1062 | 1169 => Error::conflict(format!("already exists: {}", m.message)),
            code if TEMPORARY_SERVER_CODES.contains(&code) => {
                Error::temporary(format!("database busy or unavailable: {}", describe(&e)))
            }
            _ => Error::internal(format!("MySQL error: {}", describe(&e))),
        },
        mysql::Error::IoError(_) | mysql::Error::DriverError(_) | mysql::Error::CodecError(_) => {
            Error::temporary(format!("database unavailable: {}", describe(&e)))
        }
        _ => Error::internal(format!("MySQL error: {}", describe(&e))),
    }
}

/// True when `e` shows the connection already ended (closed, reset, killed): a fresh
/// connection may succeed at once. A timeout is not such a failure: the server may be hung, and
/// the statement may still run.
fn connection_ended(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => CONNECTION_ENDED_CODES.contains(&m.code),
        mysql::Error::IoError(io) => io_ended(io),
        // the driver's packet codec wraps the socket's error
        mysql::Error::CodecError(c) => std::error::Error::source(c)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(io_ended),
        _ => false,
    }
}

fn io_ended(io: &std::io::Error) -> bool {
    use std::io::ErrorKind as Io;
    matches!(
        io.kind(),
        Io::UnexpectedEof
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::BrokenPipe
            | Io::NotConnected
    )
}

impl MysqlBackend {
    /// Maps a driver result, noting whether a failure ended the connection.
    fn checked<T>(&mut self, result: std::result::Result<T, mysql::Error>) -> Result<T> {
        result.map_err(|e| {
            self.ended = connection_ended(&e);
            self.deadlocked = matches!(&e, mysql::Error::MySqlError(m) if m.code == 1213);
            map_err(e)
        })
    }
}

impl Backend for MysqlBackend {
    fn kind(&self) -> StoreKind {
        StoreKind::Mysql
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        let result = self.conn.exec(sql, params(values));
        // ER_CANT_AGGREGATE_2COLLATIONS: a name the column's character set cannot hold (`İ`
        // against a latin1 legacy table) equals no row in it.
        if matches!(&result, Err(mysql::Error::MySqlError(m)) if m.code == 1267) {
            return Ok(Vec::new());
        }
        let rows: Vec<mysql::Row> = self.checked(result)?;
        Ok(rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(from_mysql).collect())
            .collect())
    }

    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let result = self.conn.exec_drop(sql, params(values));
        self.checked(result)?;
        Ok(self.conn.affected_rows())
    }

    fn execute_script(&mut self, sql: &str) -> Result<()> {
        self.non_transactional = None;
        for statement in super::split_script(sql) {
            let result = self.conn.query_drop(statement);
            self.checked(result)?;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.ended = false;
        self.deadlocked = false;
        let result = self.conn.query_drop("START TRANSACTION");
        self.checked(result)
    }

    fn commit(&mut self) -> Result<()> {
        let result = self.conn.query_drop("COMMIT");
        self.checked(result)
    }

    fn rollback(&mut self) {
        let _ = self.conn.query_drop("ROLLBACK");
    }

    fn connection_ended(&self) -> bool {
        self.ended
    }

    fn deadlocked(&self) -> bool {
        self.deadlocked
    }

    fn table_engines(&mut self) -> Result<Vec<(String, String, bool)>> {
        let rows = self.query(
            "SELECT t.table_name, t.engine, COALESCE(e.transactions, 'NO') \
             FROM information_schema.tables t \
             LEFT JOIN information_schema.engines e ON e.engine = t.engine \
             WHERE t.table_schema = DATABASE() AND t.engine IS NOT NULL AND t.table_name IN \
             ('domain','forwarder','popbox','domain_alias','web_session') ORDER BY t.table_name",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter().map(|v| v.text().unwrap_or_default());
                let mut next = || it.next().unwrap_or_default();
                (next(), next(), next().eq_ignore_ascii_case("YES"))
            })
            .collect())
    }

    fn non_transactional(&mut self) -> Result<Vec<String>> {
        if self.non_transactional.is_none() {
            let tables = self
                .table_engines()?
                .into_iter()
                .filter(|(_, _, transactional)| !transactional)
                .map(|(table, engine, _)| format!("{table} ({engine})"))
                .collect();
            self.non_transactional = Some(tables);
        }
        Ok(self.non_transactional.clone().unwrap_or_default())
    }

    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn packing(&self) -> Packing {
        Packing::Concat
    }

    fn lazy_coalesce(&self) -> bool {
        false
    }

    fn replica_state(&mut self) -> Result<ReplicaState> {
        let result = self.conn.query::<mysql::Row, _>("SHOW SLAVE STATUS");
        // ER_SPECIFIC_ACCESS_DENIED_ERROR: the lookup account lacks the privilege.
        if matches!(&result, Err(mysql::Error::MySqlError(m)) if m.code == 1227) {
            return Ok(ReplicaState::Unknown(
                "its replication lag cannot be read: grant the lookup account SLAVE MONITOR \
                 (MariaDB) or REPLICATION CLIENT (MySQL)"
                    .into(),
            ));
        }
        let Some(row) = self.checked(result)?.into_iter().next() else {
            return Ok(ReplicaState::NotReplica);
        };
        Ok(replica_state_of(&row))
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name IN ('domain','forwarder','popbox','domain_alias','web_session','signin_failure')",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| r.remove(0).text())
            .collect())
    }

    fn explain(&mut self, sql: &str, values: &[Value]) -> Result<Vec<String>> {
        // EXPLAIN columns: id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
        let rows = self.query(&format!("EXPLAIN {sql}"), values)?;
        Ok(rows
            .into_iter()
            // A SELECT of subqueries alone reads no table itself ("No tables used").
            .filter(|r| r.get(2).is_some_and(|t| *t != Value::Null))
            .map(|r| {
                let col = |i: usize| r.get(i).cloned().and_then(Value::text).unwrap_or_default();
                format!(
                    "table={} type={} key={} extra={}",
                    col(2),
                    col(3),
                    col(5),
                    col(9)
                )
            })
            .collect())
    }
}
