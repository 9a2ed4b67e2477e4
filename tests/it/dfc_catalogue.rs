//! The producer's catalogue as peers read it, checked by reading it back with our own reader.

use orderhub::dfc::read_document;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn catalogue_publishes_products_offers_and_stock() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let url = app.url("/api/dfc/enterprises/farm/supplied_products");
    let response = app.http.get(&url).bearer_auth(TOKEN_A).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/ld+json");
    let bytes = response.bytes().await.expect("body");
    let doc = read_document(&bytes).expect("our own catalogue reads back");
    let entries = doc.catalogue();
    assert_eq!(entries.len(), 3);
    let carrot = entries.iter().find(|e| e.product.name.as_deref() == Some("Carrots 1 kg")).expect("carrots");
    assert_eq!(carrot.catalog_item.and_then(|c| c.sku.clone()).as_deref(), Some("CARROT"));
    assert_eq!(carrot.catalog_item.and_then(|c| c.stock_limitation).map(|d| d.to_string()).as_deref(), Some("10"));
    let price = carrot.offer.and_then(|o| o.price.clone()).expect("price");
    assert_eq!(price.value.map(|d| d.to_string()).as_deref(), Some("1.8"));
    assert_eq!(price.vat_rate.map(|d| d.to_string()).as_deref(), Some("5.5"));
    assert_eq!(price.currency, Some(orderhub::domain::Currency::Euro));
    let quantity = carrot.product.quantity.clone().expect("unit size");
    assert_eq!(quantity.unit, Some(orderhub::domain::Unit::Kilogram));

    // Stock published is what is left to order.
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(4))]);
    assert_eq!(app.post(&orders, TOKEN_A, &body).await.0, 201);
    let (_, item) =
        app.get(&app.url(&format!("/api/dfc/enterprises/farm/catalog_items/{}", carrots.id)), TOKEN_B).await;
    assert_eq!(item["dfc-b:stockLimitation"], 6);
    assert_eq!(item["@context"], "https://w3id.org/dfc/ontology/context/context_1.16.0.json");
}

#[tokio::test]
async fn unmanaged_products_publish_no_stock_limitation_and_packs_their_contents() {
    let app = spawn_app().await;
    let flour = app.product("mill", "FLOUR").await;
    let sack = app.product("mill", "SACK").await;
    let (status, catalogue) = app.get(&app.url("/api/dfc/enterprises/mill/supplied_products"), TOKEN_A).await;
    assert_eq!(status, 200);
    let graph = catalogue["@graph"].as_array().expect("graph");
    for node in graph.iter().filter(|n| n["@type"] == "dfc-b:CatalogItem" || n["@type"] == "dfc-b:Offer") {
        assert!(node.get("dfc-b:stockLimitation").is_none(), "{node}");
    }
    let doc = read_document(catalogue.to_string().as_bytes()).expect("reads back");
    let transformation = doc.transformations.first().expect("the sack links to its 500 g bags");
    assert_eq!(transformation.consumes[0].product.as_deref(), Some(app.product_iri("mill", flour.id).as_str()));
    assert_eq!(
        transformation.consumes[0].quantity.as_ref().and_then(|q| q.value).map(|d| d.to_string()).as_deref(),
        Some("50")
    );
    assert_eq!(transformation.produces[0].product.as_deref(), Some(app.product_iri("mill", sack.id).as_str()));
}

#[tokio::test]
async fn single_resources_and_unknown_ones() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    for (kind, ty) in [
        ("supplied_products", "dfc-b:SuppliedProduct"),
        ("catalog_items", "dfc-b:CatalogItem"),
        ("offers", "dfc-b:Offer"),
    ] {
        let (status, body) = app.get(&app.url(&format!("/api/dfc/enterprises/farm/{kind}/{}", eggs.id)), TOKEN_A).await;
        assert_eq!(status, 200, "{kind}");
        assert_eq!(body["@type"], ty);
        assert_eq!(body["@id"], app.url(&format!("/api/dfc/enterprises/farm/{kind}/{}", eggs.id)));
        // The product exists, but not at this enterprise.
        let (status, body) = app.get(&app.url(&format!("/api/dfc/enterprises/mill/{kind}/{}", eggs.id)), TOKEN_A).await;
        assert_eq!(status, 404, "{kind}: {body}");
        let (status, _) = app.get(&app.url(&format!("/api/dfc/enterprises/farm/{kind}/banana")), TOKEN_A).await;
        assert_eq!(status, 404);
    }
    let (status, body) = app.get(&app.url("/api/dfc/enterprises/nobody/supplied_products"), TOKEN_A).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, body) = app.get(&app.url("/api/dfc/enterprises/farm"), TOKEN_A).await;
    assert_eq!(status, 200);
    assert_eq!(body["dfc-b:name"], "Test Farm");
}

#[tokio::test]
async fn amounts_are_stored_exactly_on_every_backend() {
    use std::str::FromStr;

    use orderhub::domain::{Currency, Price, Unit};
    use orderhub::store::NewProduct;
    use rust_decimal::Decimal;

    let app = spawn_app().await;
    // More significant digits than a double holds, and trailing zeros that carry the scale.
    let price = Decimal::from_str("1234567890123456.70").expect("decimal");
    let vat = Decimal::from_str("5.50").expect("decimal");
    let unit = Decimal::from_str("0.333333333333333333").expect("decimal");
    let stored = app
        .store
        .upsert_product(
            "farm",
            NewProduct {
                sku: "EXACT".into(),
                name: "Exact".into(),
                description: None,
                unit_value: unit,
                unit: Unit::Kilogram,
                price: Price::new(price, Currency::Euro, vat).expect("price"),
                on_hand: Some(1),
                pack_of: None,
            },
        )
        .await
        .expect("stored");
    let read = app.product("farm", "EXACT").await;
    assert_eq!(read, stored);
    assert_eq!(read.price.amount.to_string(), "1234567890123456.70");
    assert_eq!(read.price.vat_rate.to_string(), "5.50");
    assert_eq!(read.unit_value.to_string(), "0.333333333333333333");

    // On the wire, a number a double cannot hold goes out as exact text.
    let (_, offer) = app.get(&app.offer_iri("farm", read.id), TOKEN_A).await;
    assert_eq!(offer["dfc-b:hasPrice"]["dfc-b:value"], "1234567890123456.7");
    let answer = app.graphql(r#"{ enterprise(id: "farm") { products { sku price { amount } } } }"#, json!({})).await;
    let exact = answer["data"]["enterprise"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["sku"] == "EXACT")
        .cloned();
    assert_eq!(exact.expect("listed")["price"]["amount"], "1234567890123456.70");
}
