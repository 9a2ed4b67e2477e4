//! The trader side: producer platforms (peers) and their last catalogues, the producers a sales
//! session lists, customer orders, and the producer orders derived from them. A producer order's
//! delivery columns are the outbox: they change in the same transaction as the customer orders.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Peer::Table)
                    .col(string(Peer::Id).primary_key())
                    .col(string(Peer::TraderEnterpriseId))
                    .col(string(Peer::Name))
                    .col(string(Peer::BaseUrl))
                    .col(string(Peer::Enterprise))
                    .col(big_integer(Peer::TimeoutMs))
                    .col(timestamp_with_time_zone(Peer::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PeerOffer::Table)
                    .col(string(PeerOffer::PeerId))
                    .col(string(PeerOffer::ProductIri))
                    .col(string(PeerOffer::OfferIri))
                    .col(string(PeerOffer::Name))
                    .col(string_null(PeerOffer::Sku))
                    .col(string(PeerOffer::Price))
                    .col(string(PeerOffer::Currency))
                    .col(string(PeerOffer::VatRate))
                    .col(string_null(PeerOffer::UnitValue))
                    .col(string_null(PeerOffer::UnitCode))
                    .col(string_null(PeerOffer::Available))
                    .col(timestamp_with_time_zone(PeerOffer::FetchedAt))
                    .primary_key(Index::create().col(PeerOffer::PeerId).col(PeerOffer::ProductIri))
                    .foreign_key(
                        ForeignKey::create().from(PeerOffer::Table, PeerOffer::PeerId).to(Peer::Table, Peer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SalesSessionPeer::Table)
                    .col(uuid(SalesSessionPeer::SalesSessionId))
                    .col(string(SalesSessionPeer::PeerId))
                    .primary_key(Index::create().col(SalesSessionPeer::SalesSessionId).col(SalesSessionPeer::PeerId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SalesSessionPeer::Table, SalesSessionPeer::SalesSessionId)
                            .to(SalesSession::Table, SalesSession::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SalesSessionPeer::Table, SalesSessionPeer::PeerId)
                            .to(Peer::Table, Peer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerOrder::Table)
                    .col(uuid(CustomerOrder::Id).primary_key())
                    .col(string(CustomerOrder::TraderEnterpriseId))
                    .col(uuid(CustomerOrder::SalesSessionId))
                    .col(string(CustomerOrder::CustomerId))
                    .col(string(CustomerOrder::IdempotencyKey))
                    .col(string(CustomerOrder::RequestDigest))
                    .col(string_null(CustomerOrder::ContactName))
                    .col(string_null(CustomerOrder::ContactEmail))
                    .col(text_null(CustomerOrder::DeliveryAddress))
                    .col(string(CustomerOrder::Status))
                    .col(string(CustomerOrder::PaymentStatus))
                    .col(string(CustomerOrder::Total))
                    .col(string(CustomerOrder::Currency))
                    .col(timestamp_with_time_zone(CustomerOrder::CreatedAt))
                    .col(timestamp_with_time_zone(CustomerOrder::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerOrder::Table, CustomerOrder::SalesSessionId)
                            .to(SalesSession::Table, SalesSession::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_order_idempotency")
                    .table(CustomerOrder::Table)
                    .col(CustomerOrder::TraderEnterpriseId)
                    .col(CustomerOrder::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_order_session")
                    .table(CustomerOrder::Table)
                    .col(CustomerOrder::SalesSessionId)
                    .col(CustomerOrder::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerOrderLine::Table)
                    .col(big_pk_auto(CustomerOrderLine::Id))
                    .col(uuid(CustomerOrderLine::OrderId))
                    .col(string(CustomerOrderLine::PeerId))
                    .col(string(CustomerOrderLine::ProductIri))
                    .col(string(CustomerOrderLine::OfferIri))
                    .col(string(CustomerOrderLine::Name))
                    .col(big_integer(CustomerOrderLine::Quantity))
                    .col(string(CustomerOrderLine::UnitPrice))
                    .col(string(CustomerOrderLine::Currency))
                    .col(string(CustomerOrderLine::VatRate))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerOrderLine::Table, CustomerOrderLine::OrderId)
                            .to(CustomerOrder::Table, CustomerOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(Expr::col(CustomerOrderLine::Quantity).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_order_line_order")
                    .table(CustomerOrderLine::Table)
                    .col(CustomerOrderLine::OrderId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProducerOrder::Table)
                    .col(uuid(ProducerOrder::Id).primary_key())
                    .col(string(ProducerOrder::TraderEnterpriseId))
                    .col(uuid(ProducerOrder::SalesSessionId))
                    .col(string(ProducerOrder::PeerId))
                    .col(text_null(ProducerOrder::RemoteIri))
                    .col(string(ProducerOrder::Status))
                    .col(big_integer(ProducerOrder::Version))
                    .col(big_integer(ProducerOrder::DeliveredVersion))
                    .col(string(ProducerOrder::DeliveryState))
                    .col(integer(ProducerOrder::Attempts))
                    .col(text_null(ProducerOrder::LastError))
                    .col(timestamp_with_time_zone_null(ProducerOrder::NextAttemptAt))
                    .col(timestamp_with_time_zone(ProducerOrder::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProducerOrder::Table, ProducerOrder::SalesSessionId)
                            .to(SalesSession::Table, SalesSession::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProducerOrder::Table, ProducerOrder::PeerId)
                            .to(Peer::Table, Peer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("producer_order_one_per_session_producer")
                    .table(ProducerOrder::Table)
                    .col(ProducerOrder::TraderEnterpriseId)
                    .col(ProducerOrder::SalesSessionId)
                    .col(ProducerOrder::PeerId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("producer_order_due")
                    .table(ProducerOrder::Table)
                    .col(ProducerOrder::DeliveryState)
                    .col(ProducerOrder::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProducerOrder::Table.into_iden(),
            CustomerOrderLine::Table.into_iden(),
            CustomerOrder::Table.into_iden(),
            SalesSessionPeer::Table.into_iden(),
            PeerOffer::Table.into_iden(),
            Peer::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SalesSession {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Peer {
    Table,
    Id,
    TraderEnterpriseId,
    Name,
    BaseUrl,
    Enterprise,
    TimeoutMs,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PeerOffer {
    Table,
    PeerId,
    ProductIri,
    OfferIri,
    Name,
    Sku,
    Price,
    Currency,
    VatRate,
    UnitValue,
    UnitCode,
    Available,
    FetchedAt,
}

#[derive(DeriveIden)]
enum SalesSessionPeer {
    Table,
    SalesSessionId,
    PeerId,
}

#[derive(DeriveIden)]
enum CustomerOrder {
    Table,
    Id,
    TraderEnterpriseId,
    SalesSessionId,
    CustomerId,
    IdempotencyKey,
    RequestDigest,
    ContactName,
    ContactEmail,
    DeliveryAddress,
    Status,
    PaymentStatus,
    Total,
    Currency,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerOrderLine {
    Table,
    Id,
    OrderId,
    PeerId,
    ProductIri,
    OfferIri,
    Name,
    Quantity,
    UnitPrice,
    Currency,
    VatRate,
}

#[derive(DeriveIden)]
enum ProducerOrder {
    Table,
    Id,
    TraderEnterpriseId,
    SalesSessionId,
    PeerId,
    RemoteIri,
    Status,
    Version,
    DeliveredVersion,
    DeliveryState,
    Attempts,
    LastError,
    NextAttemptAt,
    UpdatedAt,
}
