//! Platform differences on the wire: a producer platform's URL scheme (`ofn` or `shopify`; none:
//! detected on first contact), and the producer's own ids for the lines of an order we keep with
//! it, so that every later PUT names each line as the producer does.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Peer::Table)
                    .add_column(ColumnDef::new(Peer::UrlScheme).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProducerOrder::Table)
                    .add_column(ColumnDef::new(ProducerOrder::RemoteLines).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(ProducerOrder::Table).drop_column(ProducerOrder::RemoteLines).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Peer::Table).drop_column(Peer::UrlScheme).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Peer {
    Table,
    UrlScheme,
}

#[derive(DeriveIden)]
enum ProducerOrder {
    Table,
    RemoteLines,
}
