//! The lenient reader on payloads in the shapes real platforms send: the project's own fixtures
//! (always), and the shared reference examples (when the folder is beside the checkout).

use std::path::PathBuf;

use orderhub::dfc::{Document, read_document};
use orderhub::domain::{Currency, OrderStatus, Unit};
use serde_json::json;

use crate::support::fixture;

fn read(name: &str) -> Document {
    let bytes = std::fs::read(fixture(&format!("dfc/{name}"))).expect("fixture exists");
    read_document(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s(d: Option<rust_decimal::Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

#[test]
fn ofn_backorder_post_with_placeholders_and_js_dates() {
    let doc = read("ofn-backorder-post.jsonld");
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    let order = &doc.orders[0];
    assert_eq!(order.id.as_deref(), Some("https://producer.example/api/dfc/Enterprises/valley-farm/Orders"));
    assert_eq!(order.order_status, Some(OrderStatus::Held));
    assert_eq!(order.ordered_by.as_deref(), Some("https://hub.example/api/dfc/enterprises/77"));
    let session = order.sale_session.as_ref().expect("session");
    assert_eq!(session.begin.map(|d| d.to_rfc3339()).as_deref(), Some("2024-10-17T03:58:10+00:00"));
    assert_eq!(order.lines.len(), 2);
    assert_eq!(s(order.lines[1].quantity).as_deref(), Some("7"));
    assert_eq!(
        order.lines[0].offered_item.as_deref(),
        Some("https://producer.example/api/dfc/Enterprises/valley-farm/SuppliedProducts/501")
    );
    let price = doc.offers[1].price.clone().expect("price");
    assert_eq!(
        (s(price.value).as_deref(), s(price.vat_rate).as_deref(), price.currency),
        (Some("3.05"), Some("20"), Some(Currency::PoundSterling))
    );
    assert_eq!(doc.supplied_products[1].quantity.as_ref().and_then(|q| q.unit.clone()), Some(Unit::Litre));
}

#[test]
fn shopify_response_with_blank_node_prices_and_string_quantities() {
    let doc = read("shopify-order-response.jsonld");
    let order = &doc.orders[0];
    assert_eq!(order.id.as_deref(), Some("https://producer.example/api/dfc/Enterprises/valley-farm/Orders/9001"));
    assert_eq!(order.order_status, Some(OrderStatus::Held));
    let quantities: Vec<_> = order.lines.iter().map(|l| s(l.quantity)).collect();
    assert_eq!(quantities, vec![Some("2".to_owned()), Some("7".to_owned())]);
    assert_eq!(order.lines[0].price.as_ref().and_then(|p| s(p.value)).as_deref(), Some("12.4"));
    assert_eq!(
        order.lines[1].offered_item.as_deref(),
        Some("https://producer.example/api/dfc/Enterprises/valley-farm/SuppliedProducts/502"),
        "the line's offer names the product: that is how peers match lines"
    );
}

#[test]
fn shopify_bulk_orders_with_doubled_blank_node_prefixes() {
    let doc = read("shopify-bulk-orders.jsonld");
    assert_eq!(doc.orders.len(), 2);
    let complete = doc.orders.iter().find(|o| o.order_status == Some(OrderStatus::Complete)).expect("complete order");
    assert_eq!(complete.lines.len(), 1);
    assert_eq!(complete.lines[0].price.as_ref().and_then(|p| p.currency), Some(Currency::Euro), "`_:b4` is `_:_:b4`");
    let held = doc.orders.iter().find(|o| o.order_status == Some(OrderStatus::Held)).expect("held order");
    assert_eq!(held.lines[0].price.as_ref().and_then(|p| s(p.value)).as_deref(), Some("40"));
}

#[test]
fn ofn_catalogues_in_both_versions() {
    let v1 = read("ofn-catalog-v1.jsonld");
    let entries = v1.catalogue();
    assert_eq!(entries.len(), 1, "the product group is not a catalogue entry");
    let plum = &entries[0];
    assert_eq!(plum.catalog_item.and_then(|c| s(c.stock_limitation)).as_deref(), Some("14"));
    assert_eq!(plum.offer.and_then(|o| o.price.as_ref()).and_then(|p| p.currency), Some(Currency::CanadianDollar));
    assert_eq!(plum.product.quantity.as_ref().and_then(|q| s(q.value)).as_deref(), Some("500"));

    let v2 = read("ofn-catalog-v2.jsonld");
    let entries = v2.catalogue();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].catalog_item.and_then(|c| c.sku.clone()).as_deref(), Some("HONEY-340"));
    assert_eq!(entries[0].catalog_item.and_then(|c| c.stock_limitation), None, "an empty limitation means unlimited");
    assert_eq!(entries[0].offer.and_then(|o| o.price.as_ref()).and_then(|p| s(p.value)).as_deref(), Some("7.25"));
}

#[test]
fn shopify_catalogue_links_products_items_offers_and_packs() {
    let doc = read("shopify-catalog-packs.jsonld");
    let entries = doc.catalogue();
    assert_eq!(entries.len(), 2);
    let retail =
        entries.iter().find(|e| e.product.name.as_deref() == Some("Spelt flour - Retail bag, 500g")).expect("retail");
    assert_eq!(
        retail.catalog_item.and_then(|c| s(c.stock_limitation)).as_deref(),
        Some("-1"),
        "negative: sold on demand"
    );
    assert_eq!(retail.offer.and_then(|o| o.price.as_ref()).and_then(|p| s(p.value)).as_deref(), Some("1.95"));
    assert_eq!(retail.product.quantity.as_ref().and_then(|q| q.unit.clone()), Some(Unit::Kilogram));
    let transformation = &doc.transformations[0];
    assert_eq!(transformation.consumes[0].quantity.as_ref().and_then(|q| s(q.value)).as_deref(), Some("12"));
    assert_eq!(
        transformation.produces[0].product.as_deref(),
        Some("https://shop.example/api/dfc/Enterprises/mill/SuppliedProducts/82")
    );
}

/// The 1.16 context and the TypeScript connector link a transformation's flows with
/// `hasInput`/`hasOutput`, the Shopify app with `hasIncome`/`hasOutcome`: both read the same.
#[test]
fn transformation_links_read_in_both_spellings() {
    let transformation = |input: &str, output: &str| {
        let json = serde_json::json!({
            "@context": "https://w3id.org/dfc/ontology/context/context_1.16.0.json",
            "@graph": [
                {"@id": "http://p/case/AsPlannedTransformation", "@type": "dfc-b:AsPlannedTransformation",
                 input: "http://p/can/AsPlannedConsumptionFlow", output: "http://p/can/AsPlannedProductionFlow"},
                {"@id": "http://p/can/AsPlannedConsumptionFlow", "@type": "dfc-b:AsPlannedConsumptionFlow",
                 "dfc-b:consumes": "http://p/can",
                 "dfc-b:hasQuantity": {"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": "12"}},
                {"@id": "http://p/can/AsPlannedProductionFlow", "@type": "dfc-b:AsPlannedProductionFlow",
                 "dfc-b:produces": "http://p/case"}
            ]
        });
        read_document(json.to_string().as_bytes()).expect("reads").transformations.remove(0)
    };
    let connector = transformation("dfc-b:hasInput", "dfc-b:hasOutput");
    let shopify = transformation("dfc-b:hasIncome", "dfc-b:hasOutcome");
    assert_eq!(connector, shopify);
    assert_eq!(connector.consumes[0].product.as_deref(), Some("http://p/can"));
    assert_eq!(connector.consumes[0].quantity.as_ref().and_then(|q| s(q.value)).as_deref(), Some("12"));
    assert_eq!(connector.produces[0].product.as_deref(), Some("http://p/case"));
}

#[test]
fn connector_lines_found_through_part_of_and_unreadable_dates_noted() {
    let doc = read("connector-order-line.jsonld");
    let order = &doc.orders[0];
    assert_eq!(order.lines.len(), 1, "the line points at its order with partOf");
    assert_eq!(order.lines[0].price.as_ref().and_then(|p| s(p.vat_rate)).as_deref(), Some("5.5"));
    assert_eq!(order.date, None);
    assert_eq!(order.sale_session.as_ref().and_then(|s| s.begin), None);
    assert_eq!(doc.warnings.len(), 3, "{:?}", doc.warnings);
}

#[test]
fn fdc_suite_order_with_discounts_and_iso_currency() {
    let doc = read("fdc-order-discount.jsonld");
    let order = &doc.orders[0];
    assert_eq!(s(order.discount).as_deref(), Some("5.5"));
    assert_eq!(s(order.lines[0].discount).as_deref(), Some("1.1"));
    assert_eq!(order.lines[0].description.as_deref(), Some("case of 10"));
    assert_eq!(order.date.map(|d| d.to_rfc3339()).as_deref(), Some("2024-07-01T06:00:00+00:00"));
}

#[test]
fn inline_context_full_iris_owl_names_and_embedded_nodes() {
    let doc = read("full-iris-v2-order.jsonld");
    let order = &doc.orders[0];
    assert_eq!(order.order_status, Some(OrderStatus::Held));
    assert_eq!(order.lines.len(), 1);
    assert_eq!(s(order.lines[0].quantity).as_deref(), Some("3"), "OWL hasQuantity read as the line's count");
    assert_eq!(order.lines[0].offer_id.as_deref(), Some("https://platform.example/offers/9"));
    let session = order.sale_session.as_ref().expect("embedded session");
    assert_eq!(session.begin.map(|d| d.to_rfc3339()).as_deref(), Some("2025-03-01T09:00:00+00:00"), "OWL startDate");
}

#[test]
fn owl_offer_property_names_are_accepted() {
    let doc = read_document(
        json!({
            "@context": "https://www.datafoodconsortium.org",
            "@id": "http://x/offer", "@type": "dfc-b:Offer",
            "dfc-b:offers": "http://x/product", "dfc-b:offersTo": "http://x/category",
            "dfc-b:hasPrice": {"@type": "dfc-b:Price", "dfc-b:value": "1", "dfc-b:hasUnit": "dfc-m:USDollar"}
        })
        .to_string()
        .as_bytes(),
    )
    .expect("reads");
    assert_eq!(doc.offers[0].offered_item.as_deref(), Some("http://x/product"));
    assert_eq!(doc.offers[0].offered_to.as_deref(), Some("http://x/category"));
}

#[test]
fn wrong_shapes_are_errors_with_a_path() {
    for (payload, path, message) in [
        (
            json!({"@graph": [{"@type": "dfc-b:OrderLine", "@id": "http://l", "dfc-b:quantity": [1, 2]}]}),
            "http://l",
            "one value",
        ),
        (
            json!({"@graph": [{"@type": "dfc-b:Offer", "@id": "http://o", "dfc-b:hasPrice": {"@type": "dfc-b:Price", "dfc-b:hasUnit": "dfc-m:Yen"}}]}),
            "hasUnit",
            "not a currency",
        ),
        (
            json!({"@graph": [{"@type": "dfc-b:Order", "@id": "http://o", "dfc-b:hasOrderStatus": "dfc-v:Lost"}]}),
            "hasOrderStatus",
            "not an order state",
        ),
        (
            json!({"@graph": [{"@type": "dfc-b:Order", "@id": "http://o", "dfc-b:orderedBy": 42}]}),
            "orderedBy",
            "expected a reference",
        ),
        (json!({"@graph": [{"@type": 7}]}), "@type", "string"),
    ] {
        let err = read_document(payload.to_string().as_bytes()).expect_err("must fail");
        assert!(err.path.contains(path), "{path:?} not in {err}");
        assert!(err.message.contains(message), "{message:?} not in {err}");
    }
}

/// Every reference payload of `../shared/dfc/examples` reads into typed values.
#[test]
fn shared_reference_examples_all_read() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/dfc/examples");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        eprintln!("{} absent: covered by the project's own fixtures", folder.display());
        return;
    };
    let mut read = 0;
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "jsonld") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let doc = read_document(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let typed = doc.orders.len()
            + doc.order_lines.len()
            + doc.offers.len()
            + doc.supplied_products.len()
            + doc.catalog_items.len()
            + doc.sale_sessions.len()
            + doc.transformations.len();
        assert!(typed > 0, "{} gave no typed value", path.display());
        read += 1;
    }
    assert!(read >= 15, "only {read} examples found in {}", folder.display());
}

mod properties {
    use orderhub::dfc::read_document;
    use orderhub::dfc::urls::{Profile, Urls};
    use orderhub::dfc::writer;
    use orderhub::domain::{Currency, Price, Unit};
    use orderhub::store::{Product, Stock};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::{Map, Value, json};

    /// JSON shaped like DFC payloads (DFC keys, references, numbers as text), nested and broken in
    /// every way a peer could break it.
    fn dfc_like_json() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "@id",
            "@type",
            "@graph",
            "@context",
            "@value",
            "dfc-b:quantity",
            "dfc-b:hasPart",
            "dfc-b:concerns",
            "dfc-b:hasPrice",
            "dfc-b:value",
            "dfc-b:hasUnit",
            "dfc-b:offeredItem",
            "dfc-b:hasOrderStatus",
            "dfc-b:beginDate",
            "dfc-b:stockLimitation",
            "dfc-b:references",
            "dfc-b:hasQuantity",
            "dfc-b:partOf",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop::sample::select(vec![
                "dfc-b:Order",
                "dfc-b:OrderLine",
                "dfc-b:Offer",
                "dfc-b:Price",
                "dfc-b:SaleSession",
                "dfc-v:Held",
                "dfc-m:Euro",
                "_:b1",
                "_:_:b1",
                "http://x/1",
                "3",
                "-1",
                "1e400",
                "",
                "Mon Dec 16 2024 02:30:56 UTC",
                "https://www.datafoodconsortium.org",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(|pairs| Value::Object(
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn the_reader_never_panics(value in dfc_like_json()) {
            let _ = read_document(value.to_string().as_bytes());
            let wrapped = json!({"@context": "https://www.datafoodconsortium.org", "@graph": [value]});
            let _ = read_document(wrapped.to_string().as_bytes());
        }

        #[test]
        fn arbitrary_bytes_are_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = read_document(&bytes);
        }

        /// What we publish, we read back unchanged: prices, VAT, unit sizes and stock, exactly.
        #[test]
        fn catalogue_round_trips(
            rows in prop::collection::vec((0i64..10_000_000, 0u32..5, 0i64..=1_000, 0u32..4, any::<Option<(u16, u16)>>()), 1..20),
            shopify in any::<bool>(),
        ) {
            let products: Vec<Product> = rows.iter().enumerate().map(|(i, (cents, scale, vat, unit, stock))| Product {
                id: i as i64 + 1,
                enterprise_id: "farm".into(),
                sku: format!("S{i}"),
                name: format!("P{i}"),
                description: None,
                unit_value: Decimal::new(*cents + 1, *scale),
                unit: [Unit::Gram, Unit::Kilogram, Unit::Litre, Unit::Piece][*unit as usize].clone(),
                price: Price::new(Decimal::new(*cents, *scale), Currency::PoundSterling, Decimal::new(*vat, 1)).expect("price"),
                stock: stock.map_or(Stock::NotManaged, |(on_hand, reserved)| Stock::Managed {
                    on_hand: i64::from(on_hand.max(reserved)),
                    reserved: i64::from(reserved),
                }),
                pack_of: None,
            }).collect();
            let profile = if shopify { Profile::Shopify } else { Profile::Ofn };
            let urls = Urls::new("http://p.example").in_profile(profile);
            let bytes = serde_json::to_vec(&writer::catalogue(&urls, &products)).expect("json");
            let doc = read_document(&bytes).expect("reads");
            let entries = doc.catalogue();
            prop_assert_eq!(entries.len(), products.len());
            for (entry, product) in entries.iter().zip(&products) {
                let price = entry.offer.and_then(|o| o.price.clone()).expect("price");
                prop_assert_eq!(price.value, Some(product.price.amount));
                prop_assert_eq!(price.vat_rate, Some(product.price.vat_rate));
                prop_assert_eq!(entry.product.quantity.as_ref().and_then(|q| q.value), Some(product.unit_value));
                let limitation = entry.catalog_item.and_then(|c| c.stock_limitation);
                // Unmanaged stock is published as on demand (-1).
                prop_assert_eq!(limitation, Some(product.stock.available().map_or(Decimal::NEGATIVE_ONE, Decimal::from)));
                prop_assert_eq!(entry.product.id.clone(), Some(urls.supplied_product("farm", product.id)));
            }
        }
    }
}
