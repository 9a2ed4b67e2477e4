//! Finding the parts still waiting for a send without reading a session's every order: a
//! producer order's plan reads the waiting ones line by line, and sums the held ones in the
//! database.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("order_part_by_state")
                    .table(OrderPart::Table)
                    .col(OrderPart::PeerId)
                    .col(OrderPart::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("order_part_by_state").table(OrderPart::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum OrderPart {
    Table,
    PeerId,
    State,
}
