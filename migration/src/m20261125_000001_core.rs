//! The core tables: platforms, enterprises, products with stock, sales sessions, and the orders
//! that trader platforms place with our producers.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Platform::Table)
                    .col(string(Platform::Id).primary_key())
                    .col(string(Platform::Name))
                    .col(timestamp_with_time_zone(Platform::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Enterprise::Table)
                    .col(string(Enterprise::Id).primary_key())
                    .col(string(Enterprise::Name))
                    .col(text_null(Enterprise::Description))
                    .col(timestamp_with_time_zone(Enterprise::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Product::Table)
                    .col(big_pk_auto(Product::Id))
                    .col(string(Product::EnterpriseId))
                    .col(string(Product::Sku))
                    .col(string(Product::Name))
                    .col(text_null(Product::Description))
                    .col(string(Product::UnitValue))
                    .col(string(Product::UnitCode))
                    .col(string(Product::Price))
                    .col(string(Product::Currency))
                    .col(string(Product::VatRate))
                    .col(boolean(Product::StockManaged))
                    .col(big_integer(Product::OnHand))
                    .col(big_integer(Product::Reserved))
                    .col(big_integer_null(Product::PackOfProductId))
                    .col(big_integer_null(Product::UnitsPerPack))
                    .col(timestamp_with_time_zone(Product::CreatedAt))
                    .col(timestamp_with_time_zone(Product::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Product::Table, Product::EnterpriseId)
                            .to(Enterprise::Table, Enterprise::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Product::Table, Product::PackOfProductId)
                            .to(Product::Table, Product::Id),
                    )
                    // Stock can never be promised twice, whatever the code above does.
                    .check(Expr::col(Product::Reserved).gte(0))
                    .check(Expr::col(Product::OnHand).gte(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("product_enterprise_sku")
                    .table(Product::Table)
                    .col(Product::EnterpriseId)
                    .col(Product::Sku)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SalesSession::Table)
                    .col(uuid(SalesSession::Id).primary_key())
                    .col(string(SalesSession::EnterpriseId))
                    .col(string(SalesSession::Name))
                    .col(timestamp_with_time_zone(SalesSession::BeginsAt))
                    .col(timestamp_with_time_zone(SalesSession::EndsAt))
                    .col(timestamp_with_time_zone_null(SalesSession::ClosedAt))
                    .col(timestamp_with_time_zone(SalesSession::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SalesSession::Table, SalesSession::EnterpriseId)
                            .to(Enterprise::Table, Enterprise::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncomingOrder::Table)
                    .col(big_pk_auto(IncomingOrder::Id))
                    .col(string(IncomingOrder::EnterpriseId))
                    .col(string(IncomingOrder::ClientPlatformId))
                    .col(text_null(IncomingOrder::Buyer))
                    .col(string_null(IncomingOrder::OrderNumber))
                    .col(text_null(IncomingOrder::SaleSessionRef))
                    .col(timestamp_with_time_zone_null(IncomingOrder::SaleSessionBegin))
                    .col(timestamp_with_time_zone_null(IncomingOrder::SaleSessionEnd))
                    .col(string(IncomingOrder::OrderStatus))
                    .col(string(IncomingOrder::FulfilmentStatus))
                    .col(string_null(IncomingOrder::Discount))
                    .col(timestamp_with_time_zone(IncomingOrder::CreatedAt))
                    .col(timestamp_with_time_zone(IncomingOrder::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingOrder::Table, IncomingOrder::EnterpriseId)
                            .to(Enterprise::Table, Enterprise::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingOrder::Table, IncomingOrder::ClientPlatformId)
                            .to(Platform::Table, Platform::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incoming_order_enterprise_client")
                    .table(IncomingOrder::Table)
                    .col(IncomingOrder::EnterpriseId)
                    .col(IncomingOrder::ClientPlatformId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncomingOrderLine::Table)
                    .col(big_pk_auto(IncomingOrderLine::Id))
                    .col(big_integer(IncomingOrderLine::OrderId))
                    .col(big_integer(IncomingOrderLine::ProductId))
                    .col(big_integer(IncomingOrderLine::Quantity))
                    .col(big_integer(IncomingOrderLine::Reserved))
                    .col(string(IncomingOrderLine::UnitPrice))
                    .col(string(IncomingOrderLine::Currency))
                    .col(string(IncomingOrderLine::VatRate))
                    .col(string_null(IncomingOrderLine::Discount))
                    .col(text_null(IncomingOrderLine::Description))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingOrderLine::Table, IncomingOrderLine::OrderId)
                            .to(IncomingOrder::Table, IncomingOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncomingOrderLine::Table, IncomingOrderLine::ProductId)
                            .to(Product::Table, Product::Id),
                    )
                    .check(Expr::col(IncomingOrderLine::Quantity).gt(0))
                    .check(Expr::col(IncomingOrderLine::Reserved).gte(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incoming_order_line_order_product")
                    .table(IncomingOrderLine::Table)
                    .col(IncomingOrderLine::OrderId)
                    .col(IncomingOrderLine::ProductId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IncomingOrderLine::Table.into_iden(),
            IncomingOrder::Table.into_iden(),
            SalesSession::Table.into_iden(),
            Product::Table.into_iden(),
            Enterprise::Table.into_iden(),
            Platform::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Platform {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Enterprise {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
    EnterpriseId,
    Sku,
    Name,
    Description,
    UnitValue,
    UnitCode,
    Price,
    Currency,
    VatRate,
    StockManaged,
    OnHand,
    Reserved,
    PackOfProductId,
    UnitsPerPack,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SalesSession {
    Table,
    Id,
    EnterpriseId,
    Name,
    BeginsAt,
    EndsAt,
    ClosedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IncomingOrder {
    Table,
    Id,
    EnterpriseId,
    ClientPlatformId,
    Buyer,
    OrderNumber,
    SaleSessionRef,
    SaleSessionBegin,
    SaleSessionEnd,
    OrderStatus,
    FulfilmentStatus,
    Discount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncomingOrderLine {
    Table,
    Id,
    OrderId,
    ProductId,
    Quantity,
    Reserved,
    UnitPrice,
    Currency,
    VatRate,
    Discount,
    Description,
}
