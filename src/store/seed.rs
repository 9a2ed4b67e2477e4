//! Seed files: a producer's catalogue in a small JSON format, so a new installation shows a real
//! catalogue. Loading is idempotent: products are matched by sku, and existing stock is kept.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{NewProduct, Store};
use crate::domain::{Currency, Price, Unit};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub enterprises: Vec<SeedEnterprise>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedEnterprise {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub products: Vec<SeedProduct>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Size or weight of one unit, e.g. "0.4".
    pub unit_value: String,
    /// A DFC measure, e.g. "Kilogram", "Litre", "Piece".
    pub unit: String,
    /// Price of one unit, VAT excluded, e.g. "3.20".
    pub price: String,
    /// ISO code or DFC name: EUR, GBP, USD, CAD, AUD.
    pub currency: String,
    #[serde(default = "zero")]
    pub vat_rate: String,
    /// Units on hand; leave out when the producer does not count this product's stock.
    #[serde(default)]
    pub stock: Option<i64>,
    /// For a wholesale pack: the sku of the retail product it holds, and how many.
    #[serde(default)]
    pub pack_of: Option<SeedPack>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPack {
    pub sku: String,
    pub units: i64,
}

fn zero() -> String {
    "0".to_owned()
}

fn decimal(text: &str, what: &str, sku: &str) -> anyhow::Result<Decimal> {
    Decimal::from_str(text.trim()).map_err(|e| anyhow::anyhow!("product {sku}: {what} `{text}` is not a decimal: {e}"))
}

/// Loads a seed file into the store; returns how many products it holds.
pub async fn load_file(store: &Store, path: &Path) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading seed file {}: {e}", path.display()))?;
    let seed: SeedFile =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("seed file {} is not valid: {e}", path.display()))?;
    load(store, seed).await
}

pub async fn load(store: &Store, seed: SeedFile) -> anyhow::Result<usize> {
    let mut count = 0;
    for enterprise in seed.enterprises {
        store.upsert_enterprise(&enterprise.id, &enterprise.name, enterprise.description.as_deref()).await?;
        // Retail products first, so that packs can refer to them.
        let (packs, retail): (Vec<_>, Vec<_>) = enterprise.products.into_iter().partition(|p| p.pack_of.is_some());
        for product in retail.into_iter().chain(packs) {
            let sku = product.sku.clone();
            let currency = Currency::from_str(&product.currency).map_err(|e| anyhow::anyhow!("product {sku}: {e}"))?;
            let price = Price::new(
                decimal(&product.price, "price", &sku)?,
                currency,
                decimal(&product.vat_rate, "VAT rate", &sku)?,
            )
            .map_err(|e| anyhow::anyhow!("product {sku}: {e}"))?;
            if product.stock.is_some_and(|s| s < 0) {
                anyhow::bail!("product {sku}: stock cannot be negative");
            }
            let pack_of = match &product.pack_of {
                None => None,
                Some(pack) => {
                    let retail = store
                        .product_by_sku(&enterprise.id, &pack.sku)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("product {sku}: pack of unknown sku {}", pack.sku))?;
                    if pack.units < 1 {
                        anyhow::bail!("product {sku}: a pack holds at least one unit");
                    }
                    Some((retail.id, pack.units))
                }
            };
            store
                .upsert_product(
                    &enterprise.id,
                    NewProduct {
                        sku: product.sku,
                        name: product.name,
                        description: product.description,
                        unit_value: decimal(&product.unit_value, "unit value", &sku)?,
                        unit: Unit::from_name(&product.unit),
                        price,
                        on_hand: product.stock,
                        pack_of,
                    },
                )
                .await?;
            count += 1;
        }
    }
    Ok(count)
}
