//! The producers whose offers a sales session lists.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_session_peer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sales_session_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub peer_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
