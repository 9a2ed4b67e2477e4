//! Sales-based discounts (use case 9): a trader's rules, on each customer order what was applied
//! when it was priced (so that editing or archiving a rule never changes a placed order), and on
//! each producer order the discounts its producer says it gives.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DiscountRule::Table)
                    .col(uuid(DiscountRule::Id).primary_key())
                    .col(string(DiscountRule::TraderEnterpriseId))
                    .col(string(DiscountRule::Name))
                    .col(string(DiscountRule::Status))
                    .col(string(DiscountRule::Currency))
                    .col(integer(DiscountRule::Priority))
                    .col(text(DiscountRule::Definition))
                    .col(timestamp_with_time_zone(DiscountRule::CreatedAt))
                    .col(timestamp_with_time_zone(DiscountRule::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("discount_rule_by_trader")
                    .table(DiscountRule::Table)
                    .col(DiscountRule::TraderEnterpriseId)
                    .col(DiscountRule::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(CustomerOrder::Table).add_column(text_null(CustomerOrder::Discounts)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CustomerOrderLine::Table)
                    .add_column(string_null(CustomerOrderLine::Discount))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProducerOrder::Table)
                    .add_column(text_null(ProducerOrder::RemoteDiscounts))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(ProducerOrder::Table).drop_column(ProducerOrder::RemoteDiscounts).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(CustomerOrderLine::Table).drop_column(CustomerOrderLine::Discount).to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(CustomerOrder::Table).drop_column(CustomerOrder::Discounts).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(DiscountRule::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DiscountRule {
    Table,
    Id,
    TraderEnterpriseId,
    Name,
    Status,
    Currency,
    Priority,
    Definition,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerOrder {
    Table,
    Discounts,
}

#[derive(DeriveIden)]
enum ProducerOrder {
    Table,
    RemoteDiscounts,
}

#[derive(DeriveIden)]
enum CustomerOrderLine {
    Table,
    Discount,
}
