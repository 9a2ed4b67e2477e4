//! A sales session's catalogue: every producer asked in parallel, each under its own deadline. A
//! producer that is down, slow or talks nonsense yields an error beside everyone else's offers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use entity::{peer, peer_offer};
use futures::future::join_all;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

use super::Trader;
use crate::dfc::Document;
use crate::peers::PeerError;
use crate::store::StoreError;

/// One producer's part of the catalogue: its offers, or why there are none.
#[derive(Clone, Debug)]
pub struct PeerCatalogue {
    pub peer: peer::Model,
    pub result: Result<Vec<peer_offer::Model>, PeerError>,
}

type Fetched = Result<Vec<peer_offer::Model>, PeerError>;

/// The catalogues one request has read: each producer's is fetched once however many times the
/// request asks (aliases, several sessions of one producer), and concurrent askers share the
/// fetch under way.
/// Clones share the memo (the operations of one batch).
#[derive(Default, Clone)]
pub struct CatalogueMemo(Arc<Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Fetched>>>>>);

impl CatalogueMemo {
    fn cell(&self, peer: &str) -> Arc<tokio::sync::OnceCell<Fetched>> {
        // A poisoned map only means another asker panicked: its entries are still sound.
        let mut cells = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.entry(peer.to_owned()).or_default().clone()
    }
}

impl Trader {
    pub async fn session_catalogue(
        &self,
        session_id: Uuid,
        memo: &CatalogueMemo,
    ) -> Result<Vec<PeerCatalogue>, StoreError> {
        let peers = self.store.session_peers(session_id).await?;
        Ok(join_all(peers.into_iter().map(|peer| async move {
            let cell = memo.cell(&peer.id);
            let result = cell.get_or_init(|| self.refresh_peer_catalogue(&peer)).await.clone();
            PeerCatalogue { peer, result }
        }))
        .await)
    }

    /// Reads a producer's catalogue and remembers it for checkout.
    pub async fn refresh_peer_catalogue(&self, model: &peer::Model) -> Result<Vec<peer_offer::Model>, PeerError> {
        let peer = self.peer(model);
        let document = self.client.catalogue(&peer).await.inspect_err(|e| {
            tracing::warn!(peer = %peer.id, code = e.code(), error = %e, "catalogue unavailable");
        })?;
        let offers = offers_of(&model.id, &document);
        if let Err(e) = self.store.replace_peer_offers(&model.id, offers.clone()).await {
            tracing::error!(peer = %peer.id, error = %e, "cannot remember a catalogue");
        }
        Ok(offers)
    }
}

/// The sellable entries of a catalogue: a product with an offer that has a price and currency.
fn offers_of(peer_id: &str, document: &Document) -> Vec<peer_offer::Model> {
    let now = Utc::now();
    let packs = pack_links(document);
    document
        .catalogue()
        .into_iter()
        .filter_map(|entry| {
            let offer = entry.offer?;
            let price = offer.price.as_ref()?;
            let (amount, currency) = (price.value?, price.currency?);
            let limitation = entry.catalog_item.and_then(|c| c.stock_limitation).or(offer.stock_limitation);
            // Absent means unlimited, negative means made to order: neither limits a checkout.
            let available = limitation.filter(|l| !l.is_sign_negative());
            let pack = entry.product.id.as_deref().and_then(|id| packs.get(id));
            Some(peer_offer::Model {
                peer_id: peer_id.to_owned(),
                product_iri: entry.product.id.clone()?,
                offer_iri: offer.id.clone().or_else(|| entry.product.id.clone())?,
                name: entry.product.name.clone().unwrap_or_default(),
                sku: entry.catalog_item.and_then(|c| c.sku.clone()),
                price: amount.to_string(),
                currency: currency.iso_code().to_owned(),
                vat_rate: price.vat_rate.unwrap_or(Decimal::ZERO).to_string(),
                unit_value: entry.product.quantity.as_ref().and_then(|q| q.value).map(|v| v.to_string()),
                unit_code: entry
                    .product
                    .quantity
                    .as_ref()
                    .and_then(|q| q.unit.as_ref())
                    .map(|u| u.dfc_name().to_owned()),
                available: available.map(|a| a.to_string()),
                pack_of: pack.map(|(of, _)| of.clone()),
                pack_units: pack.map(|(_, units)| *units),
                fetched_at: now,
            })
        })
        .collect()
}

/// Packs by their product IRI: `(the product a pack holds, how many of it)`. A catalogue says so
/// with an AsPlannedTransformation that consumes N of the product and produces one pack. Without
/// N, a pack whose weight is a whole multiple of the product's holds that multiple; anything else
/// (several inputs, a fractional or absent count) is not a pack we can round to.
fn pack_links(document: &Document) -> HashMap<String, (String, i64)> {
    let products: HashMap<&str, _> =
        document.supplied_products.iter().filter_map(|p| Some((p.id.as_deref()?, p))).collect();
    let grams_of = |product: &str| {
        let product = products.get(product)?;
        let quantity = product.quantity.as_ref()?;
        quantity.unit.as_ref()?.grams(quantity.value?)
    };
    let mut packs = HashMap::new();
    for transformation in &document.transformations {
        let ([input], [output]) = (transformation.consumes.as_slice(), transformation.produces.as_slice()) else {
            continue;
        };
        let (Some(product), Some(pack)) = (input.product.as_deref(), output.product.as_deref()) else { continue };
        let count = |flow: &crate::dfc::model::Flow| flow.quantity.as_ref().and_then(|q| q.value);
        let units = match (count(input), count(output).unwrap_or(Decimal::ONE)) {
            (Some(consumed), produced) if produced > Decimal::ZERO => consumed.checked_div(produced),
            _ => grams_of(pack).zip(grams_of(product)).and_then(|(p, u)| (u > Decimal::ZERO).then(|| p / u)),
        };
        let Some(units) = units.filter(|u| u.fract().is_zero() && *u > Decimal::ONE) else { continue };
        if let Some(units) = units.to_i64() {
            packs.insert(pack.to_owned(), (product.to_owned(), units));
        }
    }
    packs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product(id: &str, value: &str, unit: &str) -> serde_json::Value {
        json!({"@id": id, "@type": "dfc-b:SuppliedProduct", "dfc-b:name": id,
               "dfc-b:hasQuantity": {"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": unit, "dfc-b:value": value}})
    }

    /// The Shopify app's shape: flows as nodes of their own, quantities as blank nodes, strings.
    fn transformation(pack: &str, retail: &str, consumed: Option<&str>) -> Vec<serde_json::Value> {
        let mut income =
            json!({"@id": format!("{pack}/in"), "@type": "dfc-b:AsPlannedConsumptionFlow", "dfc-b:consumes": retail});
        if consumed.is_some() {
            income["dfc-b:hasQuantity"] = json!(format!("_:{pack}-n"));
        }
        vec![
            json!({"@id": format!("{pack}/t"), "@type": "dfc-b:AsPlannedTransformation",
                   "dfc-b:hasIncome": format!("{pack}/in"), "dfc-b:hasOutcome": format!("{pack}/out")}),
            income,
            json!({"@id": format!("{pack}/out"), "@type": "dfc-b:AsPlannedProductionFlow", "dfc-b:produces": pack}),
            json!({"@id": format!("_:{pack}-n"), "@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece",
                   "dfc-b:value": consumed.unwrap_or("0")}),
        ]
    }

    fn links(graph: Vec<serde_json::Value>) -> HashMap<String, (String, i64)> {
        let body = json!({"@context": crate::dfc::vocab::CONTEXT_1_16, "@graph": graph});
        pack_links(&crate::dfc::read_document(body.to_string().as_bytes()).expect("reads"))
    }

    #[test]
    fn a_pack_holds_what_its_transformation_consumes() {
        let mut graph = vec![product("bottle", "0.04", "dfc-m:Kilogram"), product("case", "0.24", "dfc-m:Kilogram")];
        graph.extend(transformation("case", "bottle", Some("6")));
        assert_eq!(links(graph), HashMap::from([("case".to_owned(), ("bottle".to_owned(), 6))]));
    }

    #[test]
    fn without_a_count_a_whole_multiple_of_the_weight_makes_the_pack() {
        let mut graph = vec![product("bag", "500", "dfc-m:Gram"), product("sack", "25", "dfc-m:Kilogram")];
        graph.extend(transformation("sack", "bag", None));
        assert_eq!(links(graph), HashMap::from([("sack".to_owned(), ("bag".to_owned(), 50))]));
    }

    #[test]
    fn fractional_or_unweighable_packs_are_no_packs() {
        let mut graph = vec![product("bag", "400", "dfc-m:Gram"), product("sack", "1", "dfc-m:Kilogram")];
        graph.extend(transformation("sack", "bag", None));
        graph.push(product("box", "1", "dfc-m:Piece"));
        graph.push(product("crate", "1", "dfc-m:Piece"));
        graph.extend(transformation("crate", "box", None));
        graph.push(product("half", "1", "dfc-m:Piece"));
        graph.extend(transformation("half", "box", Some("2.5")));
        assert_eq!(links(graph), HashMap::new(), "1 kg / 400 g, no weight, and 2.5 units are not whole packs");
    }
}
