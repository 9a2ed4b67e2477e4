//! Persistence on SeaORM: the connection, transactions, and the repositories the faces call.
//!
//! Writes that must not interleave (stock reservations, order replacement) run in a transaction;
//! PostgreSQL serialises them with row locks and conditional updates, SQLite (one writer at a time
//! anyway) through a gate taken before `BEGIN`, so a transaction never has to upgrade its lock and
//! fail with `SQLITE_BUSY` halfway.

mod catalogue;
mod checkouts;
pub mod consolidation;
pub mod delivery;
pub mod discounts;
pub mod held;
mod orders;
pub mod parts;
pub mod privacy;
pub mod seed;
mod sessions;
pub mod trader;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, RuntimeErr,
    TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

pub use catalogue::{NewProduct, Product, Stock};
pub use orders::{
    IncomingLine, IncomingOrder, LineRequest, Oldest, OrderError, OrderRequest, SaleSessionInfo, Shortage,
};

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Every connection is busy: the caller may retry shortly.
    #[error("the database is busy")]
    Busy,
    #[error("database error: {0}")]
    Db(#[source] DbErr),
    /// A stored value that cannot be read back: a bug or a hand-edited row.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// PostgreSQL aborted the transaction because it waited on another that waited on it
    /// (deadlock) or could not be serialised with it: it changed nothing, and may run again.
    pub fn is_conflict(&self) -> bool {
        let StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err))) = self
        else {
            return false;
        };
        err.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "40P01" || code == "40001")
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::ConnectionAcquire(_) => StoreError::Busy,
            DbErr::Conn(RuntimeErr::SqlxError(ref e)) if matches!(e.as_ref(), sea_orm::SqlxError::PoolTimedOut) => {
                StoreError::Busy
            }
            other => StoreError::Db(other),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    sqlite_write_gate: Option<Arc<Mutex<()>>>,
    /// Checkouts go to one recorder task, which commits those that arrive together at once.
    checkout_recorder: Option<tokio::sync::mpsc::Sender<checkouts::PendingCheckout>>,
    /// SQL statements run through this store's pool so far (its clones share the count).
    statements: Arc<std::sync::atomic::AtomicU64>,
    /// Where each statement is recorded as a span, once the application says (see `export_spans`).
    spans: Arc<std::sync::OnceLock<crate::otel::Spans>>,
    /// Woken after each write this process commits (the SQLite change feed's reader waits on it).
    written: Arc<tokio::sync::Notify>,
    url: Arc<str>,
}

/// A write transaction, holding the SQLite gate (if any) until it is committed or dropped.
pub struct WriteTxn<'s> {
    pub txn: DatabaseTransaction,
    _gate: Option<MutexGuard<'s, ()>>,
    written: &'s tokio::sync::Notify,
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await.map_err(StoreError::from)?;
        self.written.notify_one();
        Ok(())
    }
}

impl Store {
    /// Connects to `database_url`; a SQLite file (and its folder) is created when missing.
    pub async fn connect(database_url: &str) -> anyhow::Result<Store> {
        Store::connect_with(database_url, None).await
    }

    /// Connects with at most `max_connections` (default: 4 on SQLite, 32 on PostgreSQL).
    pub async fn connect_with(database_url: &str, max_connections: Option<u32>) -> anyhow::Result<Store> {
        let url = sqlite_url_with_create(database_url)?;
        let mut options = ConnectOptions::new(url.clone());
        let default = if url.starts_with("sqlite:") { 4 } else { 32 };
        options
            .max_connections(max_connections.unwrap_or(default))
            .acquire_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        // Erased personal data must not linger in the file's free space (GDPR erasure): SQLite
        // overwrites what it deletes with zeros on every connection.
        options.map_sqlx_sqlite_opts(|sqlite| sqlite.pragma("secure_delete", "on"));
        let mut db =
            Database::connect(options).await.map_err(|e| anyhow::anyhow!("connecting to the database: {e}"))?;
        let statements = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let spans = Arc::new(std::sync::OnceLock::<crate::otel::Spans>::new());
        let is_sqlite = db.get_database_backend() == DbBackend::Sqlite;
        let written = Arc::new(tokio::sync::Notify::new());
        db.set_metric_callback({
            let (statements, spans, written) = (statements.clone(), spans.clone(), written.clone());
            let system = if is_sqlite { "sqlite" } else { "postgresql" };
            move |info| {
                statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A write outside a transaction is committed once it ran (one inside is told at
                // its commit; being told early costs a read that finds nothing yet). Only the
                // SQLite change feed's reader waits for it.
                if is_sqlite && is_write(&info.statement.sql) {
                    written.notify_one();
                }
                if let Some(spans) = spans.get() {
                    statement_span(spans, system, info);
                }
            }
        });
        if is_sqlite {
            // Readers keep reading while one writer writes; the setting persists in the file.
            db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        }
        let recording = Store {
            db,
            sqlite_write_gate: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            checkout_recorder: None,
            statements,
            spans,
            written,
            url: Arc::from(url.as_str()),
        };
        let (recorder, pending) = tokio::sync::mpsc::channel(1024);
        // The task's own store has no recorder: the channel closes, and the task ends, with the
        // last store that can send to it.
        tokio::spawn(checkouts::run_checkout_recorder(recording.clone(), pending));
        Ok(Store { checkout_recorder: Some(recorder), ..recording })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None).await.map_err(|e| anyhow::anyhow!("applying migrations: {e}"))
    }

    /// Records every statement from now on as a span of the trace it runs in.
    pub fn export_spans(&self, spans: crate::otel::Spans) {
        if spans.enabled() {
            let _ = self.spans.set(spans);
        }
    }

    /// How many SQL statements this store has run (for tests and `/metrics`).
    pub fn statements_run(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub async fn begin_write(&self) -> Result<WriteTxn<'_>, StoreError> {
        let gate = match &self.sqlite_write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let txn = self.db.begin().await?;
        Ok(WriteTxn { txn, _gate: gate, written: &self.written })
    }

    /// Resolves after this process's next committed write (or at once if one came since the
    /// last call).
    pub async fn written(&self) {
        self.written.notified().await;
    }

    /// The database's URL (the change listener opens a connection of its own).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection of its own for the SQLite change feed's reader: its reads neither wait for
    /// nor take one of the pool's, and are not counted as a request's statements.
    pub(crate) async fn feed_reader(&self) -> Result<DatabaseConnection, StoreError> {
        let mut options = ConnectOptions::new(self.url.to_string());
        options.max_connections(1).min_connections(1).sqlx_logging(false);
        Ok(Database::connect(options).await?)
    }

    /// Whether the database answers, for readiness probes.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}

/// `sqlite://file.db` opens a file only if it exists; a fresh machine has none, so ask SQLite to
/// create it, and create its folder.
fn sqlite_url_with_create(url: &str) -> anyhow::Result<String> {
    let Some(rest) = url.strip_prefix("sqlite:") else { return Ok(url.to_owned()) };
    let path_and_query = rest.trim_start_matches("//");
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_owned());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| anyhow::anyhow!("creating the folder of {path}: {e}"))?;
    }
    if query.split('&').any(|kv| kv.starts_with("mode=")) {
        Ok(url.to_owned())
    } else if query.is_empty() {
        Ok(format!("sqlite://{path}?mode=rwc"))
    } else {
        Ok(format!("sqlite://{path}?{query}&mode=rwc"))
    }
}

/// Whether a statement changes data (whose triggers may have reported a change).
fn is_write(sql: &str) -> bool {
    let verb = sql.split_whitespace().next().unwrap_or("");
    ["INSERT", "UPDATE", "DELETE"].iter().any(|w| verb.eq_ignore_ascii_case(w))
}

/// SHA-256 of some bytes, as lower-case hex: what idempotency keys are bound to.
pub fn digest_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A statement that ran in a trace, as a CLIENT span ending now: its SQL (placeholders, never the
/// values), the database, and whether it failed.
fn statement_span(spans: &crate::otel::Spans, system: &'static str, info: &sea_orm::metric::Info<'_>) {
    let Some(span) = spans.child_of_current() else { return };
    let sql = info.statement.sql.as_str();
    let operation = sql.split_whitespace().next().unwrap_or("SQL").to_ascii_uppercase();
    let started = std::time::SystemTime::now().checked_sub(info.elapsed).unwrap_or_else(std::time::SystemTime::now);
    spans.record(
        &span,
        started,
        crate::otel::Finished {
            name: format!("{operation} {system}"),
            kind: opentelemetry::trace::SpanKind::Client,
            attributes: vec![
                opentelemetry::KeyValue::new("db.system.name", system),
                opentelemetry::KeyValue::new("db.operation.name", operation),
                opentelemetry::KeyValue::new("db.query.text", sql.chars().take(2_000).collect::<String>()),
            ],
            error: info.failed.then(|| "the statement failed".to_owned()),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_created_on_first_start() {
        assert_eq!(sqlite_url_with_create("sqlite://orderhub.db").unwrap(), "sqlite://orderhub.db?mode=rwc");
        assert_eq!(sqlite_url_with_create("sqlite:orderhub.db?mode=ro").unwrap(), "sqlite:orderhub.db?mode=ro");
        assert_eq!(sqlite_url_with_create("postgres://x/y").unwrap(), "postgres://x/y");
    }
}
