//! Which customer and producer orders changed, as the database reports it, for live order
//! status (GraphQL subscriptions).
//!
//! The database triggers of migration 9 report every write, whatever code path or replica made
//! it: on PostgreSQL as `NOTIFY orderhub_changes` (delivered to every replica on commit), on
//! SQLite as rows of `change_feed`, which this process reads after its own commits. A change
//! says only *what* changed; subscribers read the state itself from the store, so a change seen
//! twice or late shows the same truth. When changes may have been missed (the listener lost its
//! connection, the feed ran past a slow reader, a subscriber fell behind), a [`Change::Resync`]
//! tells every subscriber to read again what it follows.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use tokio::sync::{Semaphore, broadcast, watch};
use uuid::Uuid;

use crate::store::Store;

/// The PostgreSQL channel the triggers notify.
pub const CHANNEL: &str = "orderhub_changes";

/// How often the follower checks that its PostgreSQL connection still hears (a dead TCP
/// connection says nothing).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How often the SQLite feed is read when no commit of this process woke its reader: the writes
/// of another process on the file (a second replica, `orderhub` commands) arrive within it.
const FEED_POLL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A customer order, or one of its producers' reservations.
    Order {
        id: Uuid,
    },
    ProducerOrder {
        id: Uuid,
        session: Uuid,
    },
    /// Changes may have been missed: read again everything followed.
    Resync,
}

impl Change {
    /// A notification's payload, `<kind> <id> [<session>]`; none for what is not a change.
    fn parse(payload: &str) -> Option<Change> {
        let mut words = payload.split_whitespace();
        let kind = words.next()?;
        let id = Uuid::parse_str(words.next()?).ok()?;
        match kind {
            "order" => Some(Change::Order { id }),
            "producer_order" => Some(Change::ProducerOrder { id, session: Uuid::parse_str(words.next()?).ok()? }),
            _ => None,
        }
    }
}

/// Why a subscription could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("this replica already serves its most subscriptions")]
    Full,
    #[error("the service is shutting down")]
    Closing,
}

/// The changes of this process's database, for any number of subscribers.
#[derive(Clone)]
pub struct Changes {
    sender: broadcast::Sender<Change>,
    /// One permit per live subscription: a replica serves at most so many.
    room: Arc<Semaphore>,
    max_subscriptions: usize,
    closing: watch::Receiver<bool>,
    close: Arc<watch::Sender<bool>>,
}

/// A subscriber's view: the changes from the moment it subscribed, and its place.
pub struct Subscriber {
    pub changes: broadcast::Receiver<Change>,
    pub closing: watch::Receiver<bool>,
    _place: tokio::sync::OwnedSemaphorePermit,
}

impl Subscriber {
    /// The next change, or none once the service shuts down. A subscriber that fell so far
    /// behind that changes were dropped for it gets a resync.
    pub async fn next(&mut self) -> Option<Change> {
        if *self.closing.borrow() {
            return None;
        }
        tokio::select! {
            change = self.changes.recv() => match change {
                Ok(change) => Some(change),
                Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Resync),
                Err(broadcast::error::RecvError::Closed) => None,
            },
            _ = self.closing.changed() => None,
        }
    }

    /// The next change; with `wait`, a resync once that long passed without one (for a stream
    /// that must read again after a failure).
    pub async fn next_or_after(&mut self, wait: Option<Duration>) -> Option<Change> {
        match wait {
            None => self.next().await,
            Some(wait) => tokio::time::timeout(wait, self.next()).await.unwrap_or(Some(Change::Resync)),
        }
    }

    /// Changes already waiting, taken without waiting: a burst of writes is read once.
    pub fn waiting(&mut self) -> Vec<Change> {
        let mut waiting = Vec::new();
        loop {
            match self.changes.try_recv() {
                Ok(change) => waiting.push(change),
                Err(broadcast::error::TryRecvError::Lagged(_)) => waiting.push(Change::Resync),
                Err(_) => return waiting,
            }
        }
    }
}

impl Changes {
    /// A hub without a follower: nothing reaches it but what [`Changes::publish`] sends.
    pub fn new(max_subscriptions: usize) -> Changes {
        let (sender, _) = broadcast::channel(4_096);
        let (close, closing) = watch::channel(false);
        Changes {
            sender,
            room: Arc::new(Semaphore::new(max_subscriptions)),
            max_subscriptions,
            closing,
            close: Arc::new(close),
        }
    }

    /// A hub that follows `store`'s database until [`Changes::close`].
    pub fn follow(store: &Store, max_subscriptions: usize) -> Changes {
        let changes = Changes::new(max_subscriptions);
        let follower = changes.clone();
        let store = store.clone();
        tokio::spawn(async move {
            match store.backend() {
                DbBackend::Postgres => follow_postgres(store, follower).await,
                _ => follow_sqlite(store, follower).await,
            }
        });
        changes
    }

    pub fn subscribe(&self) -> Result<Subscriber, SubscribeError> {
        if *self.closing.borrow() {
            return Err(SubscribeError::Closing);
        }
        let place = self.room.clone().try_acquire_owned().map_err(|_| SubscribeError::Full)?;
        Ok(Subscriber { changes: self.sender.subscribe(), closing: self.closing.clone(), _place: place })
    }

    pub fn publish(&self, change: Change) {
        // No subscriber: nobody to tell.
        let _ = self.sender.send(change);
    }

    /// Turns true when the service starts shutting down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.clone()
    }

    /// Ends every subscription (at shutdown: long-lived streams would hold the server open).
    pub fn close(&self) {
        let _ = self.close.send(true);
    }

    fn closed(&self) -> bool {
        *self.closing.borrow()
    }

    /// Live subscriptions on this replica.
    pub fn live(&self) -> usize {
        self.max_subscriptions.saturating_sub(self.room.available_permits())
    }
}

/// Listens on [`CHANNEL`] with a connection of its own, reconnecting when it is lost (and then
/// asking for a resync: notifications sent meanwhile are gone). A notification to itself every
/// heartbeat proves the connection still hears.
async fn follow_postgres(store: Store, changes: Changes) {
    use sea_orm::sqlx::postgres::PgListener;
    let mut closing = changes.closing.clone();
    let mut failures = 0u32;
    while !changes.closed() {
        let listening = async {
            let mut listener = PgListener::connect(store.url()).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        let mut listener = match tokio::time::timeout(Duration::from_secs(10), listening).await {
            Ok(Ok(listener)) => listener,
            failed => {
                failures += 1;
                let error = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(error = %error, "cannot listen for order changes; retrying");
                let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
                tokio::select! { () = tokio::time::sleep(wait) => continue, _ = closing.changed() => return }
            }
        };
        if failures > 0 {
            tracing::info!("listening for order changes again");
        }
        failures = 0;
        // Whatever happened while nobody listened.
        changes.publish(Change::Resync);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        let mut heard_since_ping = true;
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => {
                        heard_since_ping = true;
                        if let Some(change) = Change::parse(notification.payload()) {
                            changes.publish(change);
                        }
                    }
                    // Lost and reconnected inside: what was sent meanwhile is gone.
                    Ok(None) => changes.publish(Change::Resync),
                    Err(e) => {
                        tracing::warn!(error = %e, "the order change listener failed; reconnecting");
                        break;
                    }
                },
                _ = heartbeat.tick() => {
                    if !heard_since_ping {
                        tracing::warn!("the order change listener heard nothing for a heartbeat; reconnecting");
                        break;
                    }
                    heard_since_ping = false;
                    let ping = Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT pg_notify($1, 'ping')",
                        [CHANNEL.into()],
                    );
                    if let Err(e) = store.db().execute_raw(ping).await {
                        tracing::debug!(error = %e, "the change listener's ping was not sent");
                    }
                }
                _ = closing.changed() => return,
            }
        }
    }
}

#[derive(FromQueryResult)]
struct FeedRow {
    seq: i64,
    kind: String,
    entity_id: Uuid,
    sales_session_id: Option<Uuid>,
}

/// Reads `change_feed` after each of this process's commits (and every second, for writes of
/// other processes on the file), with a connection of its own, never writing to it: pruning is
/// the trigger's work, so the follower cannot hold a writer up.
async fn follow_sqlite(store: Store, changes: Changes) {
    let reader = match store.feed_reader().await {
        Ok(reader) => reader,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the change feed: subscriptions will not see changes");
            return;
        }
    };
    let mut closing = changes.closing.clone();
    let newest = Statement::from_string(DbBackend::Sqlite, "SELECT COALESCE(MAX(seq), 0) AS seq FROM change_feed");
    let mut last = match reader.query_one_raw(newest).await {
        Ok(row) => row.and_then(|r| r.try_get::<i64>("", "seq").ok()).unwrap_or(0),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the change feed: subscriptions will not see changes");
            return;
        }
    };
    loop {
        tokio::select! {
            () = store.written() => {}
            () = tokio::time::sleep(FEED_POLL) => {}
            _ = closing.changed() => return,
        }
        // Nobody follows anything: no read. A subscriber arriving later reads its state itself,
        // and the rows it then gets from here are old news it reads again harmlessly.
        if changes.sender.receiver_count() == 0 {
            continue;
        }
        let rows = FeedRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT seq, kind, entity_id, sales_session_id FROM change_feed WHERE seq > ? ORDER BY seq",
            [last.into()],
        ))
        .all(&reader)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading the change feed failed; reading again shortly");
                changes.publish(Change::Resync);
                continue;
            }
        };
        // The feed keeps its last rows only: a gap means changes were pruned unread.
        if rows.first().is_some_and(|first| first.seq > last + 1) && last > 0 {
            changes.publish(Change::Resync);
        }
        for row in &rows {
            let change = match (row.kind.as_str(), row.sales_session_id) {
                ("order", _) => Change::Order { id: row.entity_id },
                ("producer_order", Some(session)) => Change::ProducerOrder { id: row.entity_id, session },
                _ => continue,
            };
            changes.publish(change);
        }
        if let Some(newest) = rows.last() {
            last = newest.seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_read_leniently_and_only_as_changes() {
        let id = Uuid::new_v4();
        let session = Uuid::new_v4();
        assert_eq!(Change::parse(&format!("order {id} ")), Some(Change::Order { id }));
        assert_eq!(
            Change::parse(&format!("producer_order {id} {session}")),
            Some(Change::ProducerOrder { id, session })
        );
        assert_eq!(Change::parse("ping"), None);
        assert_eq!(Change::parse(&format!("producer_order {id}")), None);
        assert_eq!(Change::parse("order not-a-uuid"), None);
        assert_eq!(Change::parse(&format!("product {id}")), None);
    }

    #[tokio::test]
    async fn a_replica_serves_at_most_its_subscriptions_and_ends_them_at_shutdown() {
        let changes = Changes::new(2);
        let mut first = changes.subscribe().expect("room");
        let second = changes.subscribe().expect("room");
        assert!(matches!(changes.subscribe(), Err(SubscribeError::Full)));
        drop(second);
        let _third = changes.subscribe().expect("a place freed");
        let id = Uuid::new_v4();
        changes.publish(Change::Order { id });
        assert_eq!(first.next().await, Some(Change::Order { id }));
        changes.close();
        assert_eq!(first.next().await, None);
        assert!(matches!(changes.subscribe(), Err(SubscribeError::Closing)));
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_to_read_again() {
        let changes = Changes::new(1);
        let mut slow = changes.subscribe().expect("room");
        for _ in 0..5_000 {
            changes.publish(Change::Order { id: Uuid::new_v4() });
        }
        assert_eq!(slow.next().await, Some(Change::Resync));
    }
}
