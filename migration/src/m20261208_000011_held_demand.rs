//! What producers hold of each session, kept as a sum (`held_demand`) instead of summed over the
//! session's orders on every send. Filled from the orders as they are: every line of an active
//! order gets a part first (orders placed before parts existed were all held by their producers,
//! which is what the full sum assumed of them), then the held lines are summed.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HeldDemand::Table)
                    .col(ColumnDef::new(HeldDemand::SalesSessionId).uuid().not_null())
                    .col(ColumnDef::new(HeldDemand::PeerId).string().not_null())
                    .col(ColumnDef::new(HeldDemand::ProductIri).string().not_null())
                    .col(ColumnDef::new(HeldDemand::OfferIri).string().not_null())
                    .col(ColumnDef::new(HeldDemand::Name).string().not_null())
                    .col(ColumnDef::new(HeldDemand::Quantity).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(HeldDemand::SalesSessionId)
                            .col(HeldDemand::PeerId)
                            .col(HeldDemand::ProductIri)
                            .col(HeldDemand::OfferIri),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO order_part (order_id, peer_id, state, queued_version, updated_at) \
             SELECT DISTINCT l.order_id, l.peer_id, 'RESERVED', 0, o.updated_at \
             FROM customer_order_line l JOIN customer_order o ON o.id = l.order_id \
             LEFT JOIN order_part p ON p.order_id = l.order_id AND p.peer_id = l.peer_id \
             WHERE o.status = 'ACTIVE' AND p.order_id IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO held_demand (sales_session_id, peer_id, product_iri, offer_iri, name, quantity) \
             SELECT o.sales_session_id, l.peer_id, l.product_iri, l.offer_iri, MIN(l.name), SUM(l.quantity) \
             FROM customer_order_line l JOIN customer_order o ON o.id = l.order_id \
             JOIN order_part p ON p.order_id = l.order_id AND p.peer_id = l.peer_id \
             WHERE o.status = 'ACTIVE' AND p.state = 'RESERVED' \
             GROUP BY o.sales_session_id, l.peer_id, l.product_iri, l.offer_iri",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HeldDemand::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum HeldDemand {
    Table,
    SalesSessionId,
    PeerId,
    ProductIri,
    OfferIri,
    Name,
    Quantity,
}
