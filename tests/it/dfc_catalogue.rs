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
    let item_iri = app.url(&format!("/api/dfc/enterprises/farm/catalog_items/{}", carrots.id));
    let (_, document) = app.get(&item_iri, TOKEN_B).await;
    assert_eq!(graph_node(&document, &item_iri).expect("the item")["dfc-b:stockLimitation"], 6);
    assert_eq!(document["@context"], "https://w3id.org/dfc/ontology/context/context_1.16.0.json");
}

/// Unmanaged stock is "on demand" as Open Food Network and the Shopify app write it (-1); a
/// pack's transformation and flows have the ids OFN's offer broker looks up, named after the
/// retail product, and the links in both spellings readers use.
#[tokio::test]
async fn unmanaged_products_are_on_demand_and_packs_are_found_where_ofn_looks() {
    let app = spawn_app().await;
    let flour = app.product("mill", "FLOUR").await;
    let sack = app.product("mill", "SACK").await;
    let (status, catalogue) = app.get(&app.url("/api/dfc/enterprises/mill/supplied_products"), TOKEN_A).await;
    assert_eq!(status, 200);
    let limited: Vec<_> = graph_nodes(&catalogue, "dfc-b:CatalogItem")
        .into_iter()
        .chain(graph_nodes(&catalogue, "dfc-b:Offer"))
        .map(|n| n["dfc-b:stockLimitation"].clone())
        .collect();
    assert_eq!(limited.len(), 4);
    assert!(limited.iter().all(|l| *l == json!(-1)), "{limited:?}");

    let flour_iri = app.product_iri("mill", flour.id);
    let production = graph_node(&catalogue, &format!("{flour_iri}/AsPlannedProductionFlow")).expect("production flow");
    assert_eq!(production["@type"], "dfc-b:AsPlannedProductionFlow");
    assert_eq!(production["dfc-b:produces"], app.product_iri("mill", sack.id));
    let consumption =
        graph_node(&catalogue, &format!("{flour_iri}/AsPlannedConsumptionFlow")).expect("consumption flow");
    assert_eq!(consumption["dfc-b:consumes"], flour_iri);
    assert_eq!(consumption["dfc-b:hasQuantity"]["dfc-b:value"], 50);
    let transformation =
        graph_node(&catalogue, &format!("{flour_iri}/AsPlannedTransformation")).expect("transformation");
    for link in ["dfc-b:hasInput", "dfc-b:hasIncome"] {
        assert_eq!(transformation[link], format!("{flour_iri}/AsPlannedConsumptionFlow"), "{link}");
    }
    for link in ["dfc-b:hasOutput", "dfc-b:hasOutcome"] {
        assert_eq!(transformation[link], format!("{flour_iri}/AsPlannedProductionFlow"), "{link}");
    }

    let doc = read_document(catalogue.to_string().as_bytes()).expect("reads back");
    let transformation = doc.transformations.first().expect("the sack links to its 500 g bags");
    assert_eq!(transformation.consumes[0].product.as_deref(), Some(flour_iri.as_str()));
    assert_eq!(
        transformation.consumes[0].quantity.as_ref().and_then(|q| q.value).map(|d| d.to_string()).as_deref(),
        Some("50")
    );
    assert_eq!(transformation.produces[0].product.as_deref(), Some(app.product_iri("mill", sack.id).as_str()));
    for entry in doc.catalogue() {
        assert_eq!(entry.catalog_item.and_then(|c| c.stock_limitation).map(|d| d.to_string()).as_deref(), Some("-1"));
    }
}

/// Every single resource is a document of its own: the product, its catalog item and its offer,
/// whichever was asked for, under either URL scheme; unknown ones and unknown routes are 404s
/// with a JSON body.
#[tokio::test]
async fn single_resources_and_unknown_ones() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    for (enterprises, kinds) in [
        ("enterprises", ["supplied_products", "catalog_items", "offers"]),
        ("Enterprises", ["SuppliedProducts", "CatalogItems", "Offers"]),
    ] {
        let iri = |kind: &str, id: &str| app.url(&format!("/api/dfc/{enterprises}/farm/{kind}/{id}"));
        for (kind, ty) in kinds.iter().zip(["dfc-b:SuppliedProduct", "dfc-b:CatalogItem", "dfc-b:Offer"]) {
            let asked = iri(kind, &eggs.id.to_string());
            let (status, body) = app.get(&asked, TOKEN_A).await;
            assert_eq!(status, 200, "{kind}");
            assert_eq!(graph_node(&body, &asked).expect("the resource asked for")["@type"], ty);
            for other in kinds {
                assert!(graph_node(&body, &iri(other, &eggs.id.to_string())).is_some(), "{asked} includes its {other}");
            }
            // The product exists, but not at this enterprise.
            let elsewhere = app.url(&format!("/api/dfc/{enterprises}/mill/{kind}/{}", eggs.id));
            let (status, body) = app.get(&elsewhere, TOKEN_A).await;
            assert_eq!(status, 404, "{kind}: {body}");
            let (status, _) = app.get(&iri(kind, "banana"), TOKEN_A).await;
            assert_eq!(status, 404);
        }
    }
    let (status, body) = app.get(&app.url("/api/dfc/enterprises/nobody/supplied_products"), TOKEN_A).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    for farm in ["/api/dfc/enterprises/farm", "/api/dfc/Enterprises/farm"] {
        let (status, body) = app.get(&app.url(farm), TOKEN_A).await;
        assert_eq!(status, 200);
        assert_eq!(body["dfc-b:name"], "Test Farm");
        assert_eq!(body["@id"], app.url(farm));
    }
    for unknown in
        ["/api/dfc/enterprises/farm/widgets", "/api/dfc/Enterprises/farm/SuppliedProducts/1/extra", "/nowhere"]
    {
        let response = app.http.get(app.url(unknown)).bearer_auth(TOKEN_A).send().await.expect("sent");
        assert_eq!(response.status(), 404, "{unknown}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{unknown}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(unknown)), "{body}");
    }
    let response = app
        .http
        .delete(app.url("/api/dfc/Enterprises/farm/SuppliedProducts"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}

/// A client that derives URLs from ids stays in its scheme: the PascalCase catalogue names its
/// resources in PascalCase, and an order placed there is listed oldest first.
#[tokio::test]
async fn the_shopify_scheme_is_served_whole() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let (status, catalogue) = app.get(&app.url("/api/dfc/Enterprises/farm/SuppliedProducts"), TOKEN_A).await;
    assert_eq!(status, 200);
    let offer = app.url(&format!("/api/dfc/Enterprises/farm/Offers/{}", carrots.id));
    assert!(graph_node(&catalogue, &offer).is_some(), "{catalogue}");
    let orders = app.url("/api/dfc/Enterprises/farm/Orders");
    let mut placed = Vec::new();
    for quantity in [1, 2] {
        let body = order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(quantity))]);
        let (status, answer, headers) = app.post(&orders, TOKEN_A, &body).await;
        assert_eq!(status, 201, "{answer}");
        let location = headers["location"].to_str().expect("location").to_owned();
        assert!(location.starts_with(&format!("{orders}/")), "{location}");
        let lines = graph_nodes(&answer, "dfc-b:OrderLine");
        assert!(lines[0]["@id"].as_str().is_some_and(|id| id.starts_with(&format!("{location}/orderLines/"))));
        placed.push(location);
    }
    let (status, listed) = app.get(&orders, TOKEN_A).await;
    assert_eq!(status, 200);
    let listed: Vec<_> = graph_nodes(&listed, "dfc-b:Order").iter().map(|o| o["@id"].clone()).collect();
    assert_eq!(listed, placed.iter().map(|p| json!(p)).collect::<Vec<_>>(), "oldest first");
    assert_eq!(app.stock("farm", "CARROT").await, (10, 3));
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
    let offer_iri = app.offer_iri("farm", read.id);
    let (_, document) = app.get(&offer_iri, TOKEN_A).await;
    assert_eq!(
        graph_node(&document, &offer_iri).expect("offer")["dfc-b:hasPrice"]["dfc-b:value"],
        "1234567890123456.7"
    );
    let answer = app.graphql(r#"{ enterprise(id: "farm") { products { sku price { amount } } } }"#, json!({})).await;
    let exact = answer["data"]["enterprise"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["sku"] == "EXACT")
        .cloned();
    assert_eq!(exact.expect("listed")["price"]["amount"], "1234567890123456.70");
}
