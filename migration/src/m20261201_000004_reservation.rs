//! The reservation engine: each customer order's part at each producer with its own state
//! (pending, reserved, refused, unconfirmed), what a producer order's delivery needs to coalesce
//! sends and reconcile unknown outcomes, the producer side's `Idempotency-Key`, and a trader's
//! choice of what to do with parts not confirmed in time.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderPart::Table)
                    .col(uuid(OrderPart::OrderId))
                    .col(string(OrderPart::PeerId))
                    .col(string(OrderPart::State))
                    .col(big_integer(OrderPart::QueuedVersion))
                    .col(text_null(OrderPart::Shortages))
                    .col(text_null(OrderPart::FallbackLines))
                    .col(text_null(OrderPart::Reason))
                    .col(timestamp_with_time_zone(OrderPart::UpdatedAt))
                    .primary_key(Index::create().col(OrderPart::OrderId).col(OrderPart::PeerId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderPart::Table, OrderPart::OrderId)
                            .to(CustomerOrder::Table, CustomerOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            big_integer(ProducerOrder::AttemptedVersion).default(0).to_owned(),
            timestamp_with_time_zone_null(ProducerOrder::PostStartedAt).to_owned(),
            timestamp_with_time_zone_null(ProducerOrder::FailingSince).to_owned(),
        ] {
            manager.alter_table(Table::alter().table(ProducerOrder::Table).add_column(column).to_owned()).await?;
        }
        for column in [
            string_null(IncomingOrder::IdempotencyKey).to_owned(),
            string_null(IncomingOrder::RequestDigest).to_owned(),
        ] {
            manager.alter_table(Table::alter().table(IncomingOrder::Table).add_column(column).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(TraderSetting::Table)
                    .add_column(string_null(TraderSetting::UnconfirmedOrders))
                    .to_owned(),
            )
            .await?;
        // NULL keys are distinct on both backends: orders placed without a key never collide.
        manager
            .create_index(
                Index::create()
                    .name("incoming_order_idempotency_key")
                    .table(IncomingOrder::Table)
                    .col(IncomingOrder::EnterpriseId)
                    .col(IncomingOrder::ClientPlatformId)
                    .col(IncomingOrder::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("incoming_order_idempotency_key").table(IncomingOrder::Table).to_owned())
            .await?;
        for (table, column) in [
            (IncomingOrder::Table.into_iden(), IncomingOrder::RequestDigest.into_iden()),
            (IncomingOrder::Table.into_iden(), IncomingOrder::IdempotencyKey.into_iden()),
            (ProducerOrder::Table.into_iden(), ProducerOrder::FailingSince.into_iden()),
            (ProducerOrder::Table.into_iden(), ProducerOrder::PostStartedAt.into_iden()),
            (ProducerOrder::Table.into_iden(), ProducerOrder::AttemptedVersion.into_iden()),
            (TraderSetting::Table.into_iden(), TraderSetting::UnconfirmedOrders.into_iden()),
        ] {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(OrderPart::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum OrderPart {
    Table,
    OrderId,
    PeerId,
    State,
    QueuedVersion,
    Shortages,
    FallbackLines,
    Reason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TraderSetting {
    Table,
    UnconfirmedOrders,
}

#[derive(DeriveIden)]
enum CustomerOrder {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ProducerOrder {
    Table,
    AttemptedVersion,
    PostStartedAt,
    FailingSince,
}

#[derive(DeriveIden)]
enum IncomingOrder {
    Table,
    EnterpriseId,
    ClientPlatformId,
    IdempotencyKey,
    RequestDigest,
}
