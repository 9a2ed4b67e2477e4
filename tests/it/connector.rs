//! Every kind of document orderhub emits, read by the official TypeScript DFC connector offline
//! (the reader the FDC Shopify apps put every request through): nothing fetched, every getter
//! answering, and every value as orderhub meant it.

use serde_json::{Value, json};

use crate::support::*;

const MEASURES: &str = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/measures.rdf#";
const STATES: &str = "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/vocabulary.rdf#";

fn object<'a>(report: &'a Value, document: &str, id: &str) -> &'a Value {
    let found = &report[document]["objects"][id];
    assert!(found.is_object(), "{document}: the connector did not import {id}: {}", report[document]["objects"]);
    found
}

fn reference(id: &str) -> Value {
    json!({"@id": id})
}

#[tokio::test]
async fn every_document_orderhub_emits_imports_in_the_typescript_connector() {
    let app = spawn_app_with(|c| c.seed_file = Some(fixture("catalogue-wholesale.json"))).await;
    let can = app.product("hodmedod", "NCBB/T4").await;
    let case = app.product("hodmedod", "NCBB/CD").await;
    let chia = app.product("hodmedod", "OGCH/R3").await;
    let oats = app.product("hodmedod", "OATS/SACK").await;

    // Orders placed the way Open Food Network places them, under the Shopify-style scheme.
    let root = app.url("/api/dfc/Enterprises/hodmedod");
    let orders_url = format!("{root}/Orders");
    let offer = |id: i64| format!("{root}/Offers/{id}");
    let body = order_payload(
        ctx_org(),
        &orders_url,
        Some("dfc-v:Held"),
        &[(offer(case.id), json!("2")), (offer(chia.id), json!(3))],
    );
    let (status, placed, headers) = app.post(&orders_url, TOKEN_A, &body).await;
    assert_eq!(status, 201, "{placed}");
    let order_iri = headers["location"].to_str().expect("location").to_owned();
    let body = order_payload(ctx_1_16(), &orders_url, None, &[(offer(oats.id), json!(1))]);
    assert_eq!(app.post(&orders_url, TOKEN_A, &body).await.0, 201);

    let mut documents = serde_json::Map::new();
    for (name, path) in [
        ("catalogue", "/api/dfc/enterprises/hodmedod/catalog_items".to_owned()),
        ("catalogue-pascal", "/api/dfc/Enterprises/hodmedod/SuppliedProducts".to_owned()),
        ("product", format!("/api/dfc/enterprises/hodmedod/supplied_products/{}", case.id)),
        ("catalog-item", format!("/api/dfc/enterprises/hodmedod/catalog_items/{}", chia.id)),
        ("offer", format!("/api/dfc/Enterprises/hodmedod/Offers/{}", oats.id)),
        ("orders", "/api/dfc/Enterprises/hodmedod/Orders".to_owned()),
        ("enterprise", "/api/dfc/enterprises/hodmedod".to_owned()),
    ] {
        let (status, document) = app.get(&app.url(&path), TOKEN_A).await;
        assert_eq!(status, 200, "{path}: {document}");
        documents.insert(name.to_owned(), document);
    }
    let (_, order) = app.get(&order_iri, TOKEN_A).await;
    documents.insert("order".to_owned(), order.clone());
    documents.insert("placed".to_owned(), placed);
    let report = dfc_connector(&Value::Object(documents.clone())).await;
    if std::env::var_os("ORDERHUB_SHOW_CONNECTOR").is_some() {
        eprintln!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    }
    for name in documents.keys() {
        assert_read_offline(&report, name);
    }

    // The catalogue: names, unit sizes, prices with VAT and currency, stock, links.
    let p = |id: i64| app.url(&format!("/api/dfc/enterprises/hodmedod/supplied_products/{id}"));
    let item = |id: i64| app.url(&format!("/api/dfc/enterprises/hodmedod/catalog_items/{id}"));
    let o = |id: i64| app.url(&format!("/api/dfc/enterprises/hodmedod/offers/{id}"));
    let beans = object(&report, "catalogue", &p(can.id));
    assert_eq!(beans["getName"], "Baked British Beans - Retail can, 400g");
    assert_eq!(beans["getQuantity"]["getQuantityValue"], 400);
    assert_eq!(beans["getQuantity"]["getQuantityUnit"], reference(&format!("{MEASURES}Gram")));
    assert_eq!(beans["getCatalogItems"], json!([reference(&item(can.id))]));
    let chia_item = object(&report, "catalogue", &item(chia.id));
    assert_eq!(chia_item["getSku"], "OGCH/R3");
    assert_eq!(chia_item["getStockLimitation"], 5, "8 on hand, 3 held");
    assert_eq!(chia_item["getOfferers"], json!([reference(&o(chia.id))]));
    assert_eq!(chia_item["getOfferedProduct"], reference(&p(chia.id)));
    let chia_offer = object(&report, "catalogue", &o(chia.id));
    assert_eq!(chia_offer["getPrice"]["getQuantityValue"], 3.99);
    assert_eq!(chia_offer["getPrice"]["getVatRate"], 20);
    assert_eq!(chia_offer["getPrice"]["getQuantityUnit"], reference(&format!("{MEASURES}PoundSterling")));
    assert_eq!(chia_offer["getOfferedItem"], reference(&p(chia.id)));
    assert_eq!(object(&report, "catalogue", &item(oats.id))["getStockLimitation"], -1, "not managed: on demand");
    // The pack, as the connector links a transformation to its flows.
    let flow = |kind: &str| format!("{}/AsPlanned{kind}", p(can.id));
    let transformation = object(&report, "catalogue", &flow("Transformation"));
    assert_eq!(transformation["getPlannedConsumptionFlows"], json!([reference(&flow("ConsumptionFlow"))]));
    assert_eq!(transformation["getPlannedProductionFlows"], json!([reference(&flow("ProductionFlow"))]));
    let consumption = object(&report, "catalogue", &flow("ConsumptionFlow"));
    assert_eq!(consumption["getConsumedProduct"], reference(&p(can.id)));
    assert_eq!(consumption["getQuantity"]["getQuantityValue"], 12);
    assert_eq!(consumption["getQuantity"]["getQuantityUnit"], reference(&format!("{MEASURES}Piece")));
    let production = object(&report, "catalogue", &flow("ProductionFlow"));
    assert_eq!(production["getProducedProduct"], reference(&p(case.id)));
    assert_eq!(production["getQuantity"]["getQuantityValue"], 1);
    // The same catalogue in the other scheme names everything in it.
    let pascal = |kind: &str, id: i64| app.url(&format!("/api/dfc/Enterprises/hodmedod/{kind}/{id}"));
    assert_eq!(object(&report, "catalogue-pascal", &pascal("Offers", case.id))["getPrice"]["getQuantityValue"], 18.85);
    assert_eq!(object(&report, "catalogue-pascal", &pascal("CatalogItems", case.id))["getStockLimitation"], 4);

    let enterprise = object(&report, "enterprise", &app.url("/api/dfc/enterprises/hodmedod"));
    assert_eq!(enterprise["getName"], "Hodmedod's");
    assert_eq!(enterprise["getDescription"], "British pulses and grains, by the can and by the case");

    // Single resources: each whole, whichever was asked for.
    assert_eq!(object(&report, "product", &p(case.id))["getName"], "Baked British Beans - Case, 12 x 400g");
    assert_eq!(object(&report, "product", &o(case.id))["getPrice"]["getQuantityValue"], 18.85);
    assert_eq!(object(&report, "catalog-item", &item(chia.id))["getSku"], "OGCH/R3");
    assert_eq!(object(&report, "offer", &pascal("Offers", oats.id))["getPrice"]["getQuantityValue"], 41.5);
    assert_eq!(object(&report, "offer", &pascal("SuppliedProducts", oats.id))["getName"], "Oat groats, sack");

    // Orders: state, lines with quantities, offers and prices.
    for name in ["order", "placed"] {
        let read = object(&report, name, &order_iri);
        assert_eq!(read["getOrderStatus"], reference(&format!("{STATES}Held")), "{name}");
        assert_eq!(read["getClient"], reference("https://trader.example/api/dfc/enterprises/1003"), "{name}");
        let lines = read["getLines"].as_array().expect("lines");
        assert_eq!(lines.len(), 2, "{name}: {read}");
        let mut seen = Vec::new();
        for line in lines {
            let line = object(&report, name, line["@id"].as_str().expect("line id"));
            let offer = line["getOffer"]["@id"].as_str().expect("offer").to_owned();
            assert_eq!(line["getOrder"], reference(&order_iri), "{name}");
            assert_eq!(line["getPrice"]["getQuantityUnit"], reference(&format!("{MEASURES}PoundSterling")));
            seen.push((offer, line["getQuantity"].clone(), line["getPrice"]["getQuantityValue"].clone()));
        }
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected = vec![
            (pascal("Offers", case.id), json!(2), json!(18.85)),
            (pascal("Offers", chia.id), json!(3), json!(3.99)),
        ];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(seen, expected, "{name}");
    }
    let listed: Vec<Value> = report["orders"]["objects"]
        .as_object()
        .expect("objects")
        .iter()
        .filter(|(_, o)| o["type"] == "dfc-b:Order")
        .map(|(id, _)| json!(id))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
}
