//! Enterprises, calling platforms and products with their stock.

use std::str::FromStr;

use chrono::Utc;
use entity::{enterprise, platform, product};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TryIntoModel};

use super::{Store, StoreError, corrupt};
use crate::domain::{Currency, Price, Unit};

/// Whether and how much of a product is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stock {
    /// The producer does not count it: any quantity may be ordered.
    NotManaged,
    Managed {
        on_hand: i64,
        reserved: i64,
    },
}

impl Stock {
    /// Units that can still be promised; None when unlimited.
    pub fn available(&self) -> Option<i64> {
        match self {
            Stock::NotManaged => None,
            Stock::Managed { on_hand, reserved } => Some(on_hand - reserved),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: i64,
    pub enterprise_id: String,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub unit_value: Decimal,
    pub unit: Unit,
    pub price: Price,
    pub stock: Stock,
    /// `(retail product id, units per pack)` when this product is a wholesale pack.
    pub pack_of: Option<(i64, i64)>,
}

impl TryFrom<product::Model> for Product {
    type Error = StoreError;

    fn try_from(m: product::Model) -> Result<Self, Self::Error> {
        let decimal = |text: &str, what: &str| {
            Decimal::from_str(text).map_err(|e| corrupt(format!("product {} {what} `{text}`: {e}", m.id)))
        };
        let currency = Currency::from_name(&m.currency).ok_or_else(|| corrupt(format!("product {} currency", m.id)))?;
        let price = Price::new(decimal(&m.price, "price")?, currency, decimal(&m.vat_rate, "VAT rate")?)
            .map_err(|e| corrupt(format!("product {}: {e}", m.id)))?;
        Ok(Product {
            id: m.id,
            unit_value: decimal(&m.unit_value, "unit value")?,
            unit: Unit::from_name(&m.unit_code),
            price,
            stock: if m.stock_managed {
                Stock::Managed { on_hand: m.on_hand, reserved: m.reserved }
            } else {
                Stock::NotManaged
            },
            pack_of: m.pack_of_product_id.zip(m.units_per_pack),
            enterprise_id: m.enterprise_id,
            sku: m.sku,
            name: m.name,
            description: m.description,
        })
    }
}

/// A product as a seed file or an admin describes it.
#[derive(Clone, Debug)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub unit_value: Decimal,
    pub unit: Unit,
    pub price: Price,
    /// Units on hand; None when the producer does not manage this product's stock.
    pub on_hand: Option<i64>,
    /// `(retail product id, units per pack)` for a wholesale pack.
    pub pack_of: Option<(i64, i64)>,
}

impl Store {
    pub async fn upsert_platform(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let existing = platform::Entity::find_by_id(id.to_owned()).one(&self.db).await?;
        match existing {
            Some(p) if p.name == name => {}
            Some(p) => {
                let mut active: platform::ActiveModel = p.into();
                active.name = Set(name.to_owned());
                active.update(&self.db).await?;
            }
            None => {
                platform::ActiveModel {
                    id: Set(id.to_owned()),
                    name: Set(name.to_owned()),
                    created_at: Set(Utc::now()),
                }
                .insert(&self.db)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn upsert_enterprise(&self, id: &str, name: &str, description: Option<&str>) -> Result<(), StoreError> {
        match enterprise::Entity::find_by_id(id.to_owned()).one(&self.db).await? {
            Some(e) => {
                let mut active: enterprise::ActiveModel = e.into();
                active.name = Set(name.to_owned());
                active.description = Set(description.map(str::to_owned));
                active.update(&self.db).await?;
            }
            None => {
                enterprise::ActiveModel {
                    id: Set(id.to_owned()),
                    name: Set(name.to_owned()),
                    description: Set(description.map(str::to_owned)),
                    created_at: Set(Utc::now()),
                }
                .insert(&self.db)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn enterprise(&self, id: &str) -> Result<Option<enterprise::Model>, StoreError> {
        Ok(enterprise::Entity::find_by_id(id.to_owned()).one(&self.db).await?)
    }

    pub async fn enterprises(&self) -> Result<Vec<enterprise::Model>, StoreError> {
        Ok(enterprise::Entity::find().order_by_asc(enterprise::Column::Id).all(&self.db).await?)
    }

    /// Creates the product, or updates what describes it (name, unit, price) when its sku exists.
    /// Existing stock is left alone: reservations may be counting on it.
    pub async fn upsert_product(&self, enterprise_id: &str, new: NewProduct) -> Result<Product, StoreError> {
        let now = Utc::now();
        let existing = product::Entity::find()
            .filter(product::Column::EnterpriseId.eq(enterprise_id))
            .filter(product::Column::Sku.eq(new.sku.as_str()))
            .one(&self.db)
            .await?;
        let mut active = match existing {
            Some(model) => model.into(),
            None => product::ActiveModel {
                enterprise_id: Set(enterprise_id.to_owned()),
                sku: Set(new.sku.clone()),
                stock_managed: Set(new.on_hand.is_some()),
                on_hand: Set(new.on_hand.unwrap_or(0)),
                reserved: Set(0),
                created_at: Set(now),
                ..Default::default()
            },
        };
        active.name = Set(new.name);
        active.description = Set(new.description);
        active.unit_value = Set(new.unit_value.to_string());
        active.unit_code = Set(new.unit.dfc_name().to_owned());
        active.price = Set(new.price.amount.to_string());
        active.currency = Set(new.price.currency.iso_code().to_owned());
        active.vat_rate = Set(new.price.vat_rate.to_string());
        active.pack_of_product_id = Set(new.pack_of.map(|(id, _)| id));
        active.units_per_pack = Set(new.pack_of.map(|(_, n)| n));
        active.updated_at = Set(now);
        let model = active.save(&self.db).await?.try_into_model()?;
        Product::try_from(model)
    }

    pub async fn products(&self, enterprise_id: &str) -> Result<Vec<Product>, StoreError> {
        product::Entity::find()
            .filter(product::Column::EnterpriseId.eq(enterprise_id))
            .order_by_asc(product::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Product::try_from)
            .collect()
    }

    pub async fn product(&self, enterprise_id: &str, id: i64) -> Result<Option<Product>, StoreError> {
        product::Entity::find_by_id(id)
            .filter(product::Column::EnterpriseId.eq(enterprise_id))
            .one(&self.db)
            .await?
            .map(Product::try_from)
            .transpose()
    }

    pub async fn product_by_sku(&self, enterprise_id: &str, sku: &str) -> Result<Option<Product>, StoreError> {
        product::Entity::find()
            .filter(product::Column::EnterpriseId.eq(enterprise_id))
            .filter(product::Column::Sku.eq(sku))
            .one(&self.db)
            .await?
            .map(Product::try_from)
            .transpose()
    }

    /// Products by id, in one query (for data loaders).
    pub async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<Product>, StoreError> {
        product::Entity::find()
            .filter(product::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(Product::try_from)
            .collect()
    }
}
