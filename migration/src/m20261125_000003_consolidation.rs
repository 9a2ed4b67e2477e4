//! Consolidation: how a trader groups customer orders into producer orders (a trader default and
//! per-producer overrides), the pack links of producers' catalogues, and the lines each producer
//! order last said, which also hold the stock that whole packs carry over between sessions; and
//! the fulfilment state producers answer.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TraderSetting::Table)
                    .col(string(TraderSetting::EnterpriseId).primary_key())
                    .col(string(TraderSetting::ConsolidationMode))
                    .col(timestamp_with_time_zone(TraderSetting::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(Table::alter().table(Peer::Table).add_column(string_null(Peer::ConsolidationMode)).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(PeerOffer::Table).add_column(text_null(PeerOffer::PackOf)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(PeerOffer::Table).add_column(big_integer_null(PeerOffer::PackUnits)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProducerOrder::Table)
                    .add_column(string(ProducerOrder::GroupKey).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProducerOrder::Table)
                    .add_column(timestamp_with_time_zone_null(ProducerOrder::SettledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProducerOrder::Table)
                    .add_column(string_null(ProducerOrder::FulfilmentStatus))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop().name("producer_order_one_per_session_producer").table(ProducerOrder::Table).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("producer_order_one_per_group")
                    .table(ProducerOrder::Table)
                    .col(ProducerOrder::TraderEnterpriseId)
                    .col(ProducerOrder::SalesSessionId)
                    .col(ProducerOrder::PeerId)
                    .col(ProducerOrder::GroupKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProducerOrderLine::Table)
                    .col(big_pk_auto(ProducerOrderLine::Id))
                    .col(uuid(ProducerOrderLine::ProducerOrderId))
                    .col(text(ProducerOrderLine::ProductIri))
                    .col(text(ProducerOrderLine::OrderedProductIri))
                    .col(text(ProducerOrderLine::OfferIri))
                    .col(string(ProducerOrderLine::Name))
                    .col(big_integer(ProducerOrderLine::Quantity))
                    .col(big_integer(ProducerOrderLine::NeededUnits))
                    .col(string_null(ProducerOrderLine::NeededGrams))
                    .col(string(ProducerOrderLine::CarryUsedGrams))
                    .col(string(ProducerOrderLine::CarryAddedGrams))
                    .col(string(ProducerOrderLine::Basis))
                    .col(text_null(ProducerOrderLine::Note))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProducerOrderLine::Table, ProducerOrderLine::ProducerOrderId)
                            .to(ProducerOrder::Table, ProducerOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(Expr::col(ProducerOrderLine::Quantity).gte(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("producer_order_line_order")
                    .table(ProducerOrderLine::Table)
                    .col(ProducerOrderLine::ProducerOrderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProducerOrderLine::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("producer_order_one_per_group").table(ProducerOrder::Table).to_owned())
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
        for (table, column) in [
            (ProducerOrder::Table.into_iden(), ProducerOrder::SettledAt.into_iden()),
            (ProducerOrder::Table.into_iden(), ProducerOrder::FulfilmentStatus.into_iden()),
            (ProducerOrder::Table.into_iden(), ProducerOrder::GroupKey.into_iden()),
            (PeerOffer::Table.into_iden(), PeerOffer::PackUnits.into_iden()),
            (PeerOffer::Table.into_iden(), PeerOffer::PackOf.into_iden()),
            (Peer::Table.into_iden(), Peer::ConsolidationMode.into_iden()),
        ] {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(TraderSetting::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum TraderSetting {
    Table,
    EnterpriseId,
    ConsolidationMode,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Peer {
    Table,
    ConsolidationMode,
}

#[derive(DeriveIden)]
enum PeerOffer {
    Table,
    PackOf,
    PackUnits,
}

#[derive(DeriveIden)]
enum ProducerOrder {
    Table,
    Id,
    TraderEnterpriseId,
    SalesSessionId,
    PeerId,
    GroupKey,
    SettledAt,
    FulfilmentStatus,
}

#[derive(DeriveIden)]
enum ProducerOrderLine {
    Table,
    Id,
    ProducerOrderId,
    ProductIri,
    OrderedProductIri,
    OfferIri,
    Name,
    Quantity,
    NeededUnits,
    NeededGrams,
    CarryUsedGrams,
    CarryAddedGrams,
    Basis,
    Note,
}
