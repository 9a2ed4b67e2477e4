//! Live order status: the database itself says which customer and producer orders changed, so
//! that every write (whatever code path made it, on whichever replica) reaches subscribers.
//!
//! PostgreSQL: triggers `NOTIFY orderhub_changes` with `<kind> <id> <session>`, delivered to every
//! replica's listener when the writing transaction commits (and never when it rolls back).
//! SQLite: triggers append `(kind, id, session)` to `change_feed`, which the process follows;
//! the feed keeps its last 4,096 rows (a follower that falls further behind re-reads everything).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What each trigger reports: the table, its kind in the feed, the id and session of a row.
const WATCHED: [(&str, &str, &str, &str); 3] = [
    ("customer_order", "order", "id", "sales_session_id"),
    ("order_part", "order", "order_id", "NULL"),
    ("producer_order", "producer_order", "id", "sales_session_id"),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                for (table, kind, id, session) in WATCHED {
                    let (new_session, old_session) = if session == "NULL" {
                        ("''".to_owned(), "''".to_owned())
                    } else {
                        (format!("NEW.{session}::text"), format!("OLD.{session}::text"))
                    };
                    db.execute_unprepared(&format!(
                        "CREATE OR REPLACE FUNCTION orderhub_{table}_changed() RETURNS trigger AS $$
                         BEGIN
                           IF TG_OP = 'DELETE' THEN
                             PERFORM pg_notify('orderhub_changes', '{kind} ' || OLD.{id}::text || ' ' || {old_session});
                           ELSE
                             PERFORM pg_notify('orderhub_changes', '{kind} ' || NEW.{id}::text || ' ' || {new_session});
                           END IF;
                           RETURN NULL;
                         END $$ LANGUAGE plpgsql"
                    ))
                    .await?;
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table}
                         FOR EACH ROW EXECUTE FUNCTION orderhub_{table}_changed()"
                    ))
                    .await?;
                }
            }
            _ => {
                db.execute_unprepared(
                    "CREATE TABLE change_feed (
                       seq INTEGER PRIMARY KEY,
                       kind TEXT NOT NULL,
                       entity_id BLOB NOT NULL,
                       sales_session_id BLOB
                     )",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER change_feed_kept AFTER INSERT ON change_feed
                     BEGIN DELETE FROM change_feed WHERE seq <= NEW.seq - 4096; END",
                )
                .await?;
                for (table, kind, id, session) in WATCHED {
                    for (event, row) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
                        let session = if session == "NULL" { "NULL".to_owned() } else { format!("{row}.{session}") };
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_{event}_changed AFTER {event} ON {table}
                             BEGIN INSERT INTO change_feed (kind, entity_id, sales_session_id)
                               VALUES ('{kind}', {row}.{id}, {session}); END",
                            event = event.to_ascii_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Postgres => {
                for (table, ..) in WATCHED {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {table}_changed ON {table}")).await?;
                    db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS orderhub_{table}_changed()")).await?;
                }
            }
            _ => {
                for (table, ..) in WATCHED {
                    for event in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {table}_{event}_changed")).await?;
                    }
                }
                db.execute_unprepared("DROP TABLE IF EXISTS change_feed").await?;
            }
        }
        Ok(())
    }
}
