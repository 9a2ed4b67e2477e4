//! The canonical half: our catalogue and orders as context-1.16 JSON-LD, in the shapes Open Food
//! Network and the Shopify app parse (CURIE properties, `@graph`, references as plain strings).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

use super::urls::Urls;
use super::vocab::CONTEXT_1_16;
use crate::store::{IncomingOrder, Product, Stock};

pub const CONTENT_TYPE: &str = "application/ld+json";

/// A decimal as a JSON number, as the wire format has it. A number that would not survive the trip
/// through a JSON double exactly is written as a string instead, which every DFC reader accepts.
pub fn json_number(value: Decimal) -> Value {
    if value.fract().is_zero()
        && let Some(int) = value.to_i64()
    {
        return Value::from(int);
    }
    let text = value.normalize().to_string();
    match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(number) if Decimal::from_str_exact(&number.to_string()).ok() == Some(value.normalize()) => {
            Value::Number(number)
        }
        _ => Value::String(text),
    }
}

fn document(graph: Vec<Value>) -> Value {
    json!({ "@context": CONTEXT_1_16, "@graph": graph })
}

/// One node as a whole document, its context first.
pub fn one(mut node: Value) -> Value {
    if let Value::Object(map) = &mut node {
        let mut with_context = Map::new();
        with_context.insert("@context".to_owned(), Value::String(CONTEXT_1_16.to_owned()));
        with_context.extend(std::mem::take(map));
        *map = with_context;
    }
    node
}

fn price_node(amount: Decimal, vat_rate: Decimal, currency_name: &str) -> Value {
    json!({
        "@type": "dfc-b:Price",
        "dfc-b:value": json_number(amount),
        "dfc-b:VATrate": json_number(vat_rate),
        "dfc-b:hasUnit": format!("dfc-m:{currency_name}"),
    })
}

pub fn supplied_product(urls: &Urls, p: &Product) -> Value {
    json!({
        "@id": urls.supplied_product(&p.enterprise_id, p.id),
        "@type": "dfc-b:SuppliedProduct",
        "dfc-b:name": p.name,
        "dfc-b:description": p.description.clone().unwrap_or_default(),
        "dfc-b:hasQuantity": {
            "@type": "dfc-b:QuantitativeValue",
            "dfc-b:hasUnit": format!("dfc-m:{}", p.unit.dfc_name()),
            "dfc-b:value": json_number(p.unit_value),
        },
        "dfc-b:referencedBy": urls.catalog_item(&p.enterprise_id, p.id),
    })
}

pub fn catalog_item(urls: &Urls, p: &Product) -> Value {
    let mut item = json!({
        "@id": urls.catalog_item(&p.enterprise_id, p.id),
        "@type": "dfc-b:CatalogItem",
        "dfc-b:references": urls.supplied_product(&p.enterprise_id, p.id),
        "dfc-b:sku": p.sku,
        "dfc-b:offeredThrough": urls.offer(&p.enterprise_id, p.id),
        "dfc-b:managedBy": urls.enterprise(&p.enterprise_id),
    });
    // Unmanaged stock publishes no limitation at all: readers take absence as "unlimited".
    if let Stock::Managed { .. } = p.stock {
        item["dfc-b:stockLimitation"] = Value::from(p.stock.available().unwrap_or(0));
    }
    item
}

pub fn offer(urls: &Urls, p: &Product) -> Value {
    let mut offer = json!({
        "@id": urls.offer(&p.enterprise_id, p.id),
        "@type": "dfc-b:Offer",
        "dfc-b:hasPrice": price_node(p.price.amount, p.price.vat_rate, p.price.currency.dfc_name()),
        "dfc-b:offeredItem": urls.supplied_product(&p.enterprise_id, p.id),
    });
    if let Some(available) = p.stock.available() {
        offer["dfc-b:stockLimitation"] = Value::from(available);
    }
    offer
}

/// A wholesale pack says which retail product it holds, and how many, as the Shopify app does.
fn pack_transformation(urls: &Urls, pack: &Product, retail_id: i64, units: i64) -> Value {
    let e = &pack.enterprise_id;
    json!({
        "@id": urls.transformation(e, pack.id),
        "@type": "dfc-b:AsPlannedTransformation",
        "dfc-b:hasIncome": {
            "@type": "dfc-b:AsPlannedConsumptionFlow",
            "dfc-b:consumes": urls.supplied_product(e, retail_id),
            "dfc-b:hasQuantity": {"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": units},
        },
        "dfc-b:hasOutcome": {
            "@type": "dfc-b:AsPlannedProductionFlow",
            "dfc-b:produces": urls.supplied_product(e, pack.id),
            "dfc-b:hasQuantity": {"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": 1},
        },
    })
}

/// The whole catalogue: every product with its catalog item, offer and pack links.
pub fn catalogue(urls: &Urls, products: &[Product]) -> Value {
    let mut graph = Vec::with_capacity(products.len() * 3);
    for p in products {
        graph.push(supplied_product(urls, p));
        graph.push(catalog_item(urls, p));
        graph.push(offer(urls, p));
        if let Some((retail_id, units)) = p.pack_of {
            graph.push(pack_transformation(urls, p, retail_id, units));
        }
    }
    document(graph)
}

fn order_nodes(urls: &Urls, order: &IncomingOrder, graph: &mut Vec<Value>) {
    let e = &order.enterprise_id;
    let mut node = json!({
        "@id": urls.order(e, order.id),
        "@type": "dfc-b:Order",
        "dfc-b:date": order.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "dfc-b:soldBy": urls.enterprise(e),
        "dfc-b:hasOrderStatus": format!("dfc-v:{}", order.status.dfc_name()),
        "dfc-b:hasFulfilmentStatus": format!("dfc-v:{}", order.fulfilment.dfc_name()),
        "dfc-b:hasPart": order.lines.iter().map(|l| urls.order_line(e, order.id, l.id)).collect::<Vec<_>>(),
    });
    if let Some(number) = &order.order_number {
        node["dfc-b:orderNumber"] = Value::from(number.as_str());
    }
    if let Some(buyer) = &order.buyer {
        node["dfc-b:orderedBy"] = Value::from(buyer.as_str());
    }
    if let Some(discount) = order.discount {
        node["dfc-b:discount"] = json_number(discount);
    }
    if let Some(session) = &order.sale_session_ref {
        node["dfc-b:belongsTo"] = Value::from(session.as_str());
        let mut session_node = json!({"@id": session, "@type": "dfc-b:SaleSession"});
        if let Some(begin) = order.sale_session_begin {
            session_node["dfc-b:beginDate"] = Value::from(begin.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        if let Some(end) = order.sale_session_end {
            session_node["dfc-b:endDate"] = Value::from(end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        graph.push(session_node);
    }
    graph.push(node);
    for line in &order.lines {
        let mut line_node = json!({
            "@id": urls.order_line(e, order.id, line.id),
            "@type": "dfc-b:OrderLine",
            "dfc-b:concerns": urls.offer(e, line.product_id),
            "dfc-b:quantity": line.quantity,
            "dfc-b:hasPrice": price_node(line.unit_price, line.vat_rate, line.currency.dfc_name()),
            "dfc-b:partOf": urls.order(e, order.id),
        });
        if let Some(discount) = line.discount {
            line_node["dfc-b:discount"] = json_number(discount);
        }
        if let Some(description) = &line.description {
            line_node["dfc-b:description"] = Value::from(description.as_str());
        }
        graph.push(line_node);
        graph.push(json!({
            "@id": urls.offer(e, line.product_id),
            "@type": "dfc-b:Offer",
            "dfc-b:offeredItem": urls.supplied_product(e, line.product_id),
        }));
        graph.push(json!({
            "@id": urls.supplied_product(e, line.product_id),
            "@type": "dfc-b:SuppliedProduct",
            "dfc-b:name": line.product_name,
        }));
    }
}

pub fn order(urls: &Urls, order: &IncomingOrder) -> Value {
    let mut graph = Vec::new();
    order_nodes(urls, order, &mut graph);
    document(graph)
}

pub fn orders(urls: &Urls, orders: &[IncomingOrder]) -> Value {
    let mut graph = Vec::new();
    for o in orders {
        order_nodes(urls, o, &mut graph);
    }
    document(graph)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn numbers_stay_exact_on_the_wire() {
        let n = |s: &str| json_number(Decimal::from_str(s).unwrap());
        assert_eq!(n("3"), json!(3));
        assert_eq!(n("200.00"), json!(200));
        assert_eq!(n("6.25"), json!(6.25));
        assert_eq!(n("19.99"), json!(19.99));
        // Beyond what a double holds, the exact text goes out instead.
        assert_eq!(n("12345678901234567.89"), json!("12345678901234567.89"));
    }
}
