//! Pages of customer orders, newest first, by keyset: for each filter a page asks (a session, a
//! trader, a customer, or none), an index ending in `(created_at, id)`, so that any page is one
//! range of it, the last as cheap as the first, and no sort is needed.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index: its name and the column before `(created_at, id)`, if any.
const INDEXES: [(&str, Option<CustomerOrder>); 4] = [
    ("customer_order_page_by_session", Some(CustomerOrder::SalesSessionId)),
    ("customer_order_page_by_trader", Some(CustomerOrder::TraderEnterpriseId)),
    ("customer_order_page_by_customer", Some(CustomerOrder::CustomerId)),
    ("customer_order_page", None),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, first) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(CustomerOrder::Table);
            if let Some(first) = first {
                index.col(first);
            }
            manager.create_index(index.col(CustomerOrder::CreatedAt).col(CustomerOrder::Id).to_owned()).await?;
        }
        // The customer's index now leads the page index of the same column.
        manager
            .drop_index(Index::drop().name("customer_order_by_customer").table(CustomerOrder::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("customer_order_by_customer")
                    .table(CustomerOrder::Table)
                    .col(CustomerOrder::CustomerId)
                    .to_owned(),
            )
            .await?;
        for (name, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table(CustomerOrder::Table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerOrder {
    Table,
    Id,
    SalesSessionId,
    TraderEnterpriseId,
    CustomerId,
    CreatedAt,
}
