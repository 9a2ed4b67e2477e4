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
