//! Customers' right to erasure (use case 2, GDPR): a record of each erasure, holding who asked,
//! when and how many orders it touched, never the data it removed.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerErasure::Table)
                    .col(uuid(CustomerErasure::Id).primary_key())
                    .col(string_null(CustomerErasure::CustomerId))
                    .col(string_null(CustomerErasure::TraderEnterpriseId))
                    .col(string(CustomerErasure::Reason))
                    .col(string(CustomerErasure::RequestedBy))
                    .col(big_integer(CustomerErasure::Orders))
                    .col(timestamp_with_time_zone(CustomerErasure::ErasedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_order_by_customer")
                    .table(CustomerOrder::Table)
                    .col(CustomerOrder::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("customer_order_by_customer").table(CustomerOrder::Table).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(CustomerErasure::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum CustomerErasure {
    Table,
    Id,
    CustomerId,
    TraderEnterpriseId,
    Reason,
    RequestedBy,
    Orders,
    ErasedAt,
}

#[derive(DeriveIden)]
enum CustomerOrder {
    Table,
    CustomerId,
}
