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

pub fn price_node(amount: Decimal, vat_rate: Decimal, currency_name: &str) -> Value {
    json!({
        "@type": "dfc-b:Price",
        "dfc-b:value": json_number(amount),
        "dfc-b:VATrate": json_number(vat_rate),
        "dfc-b:hasUnit": format!("dfc-m:{currency_name}"),
    })
}

pub fn quantity_node(value: Decimal, unit: &crate::domain::Unit) -> Value {
    json!({
        "@type": "dfc-b:QuantitativeValue",
        "dfc-b:hasUnit": format!("dfc-m:{}", unit.dfc_name()),
        "dfc-b:value": json_number(value),
    })
}

pub fn supplied_product(urls: &Urls, p: &Product) -> Value {
    json!({
        "@id": urls.supplied_product(&p.enterprise_id, p.id),
        "@type": "dfc-b:SuppliedProduct",
        "dfc-b:name": p.name,
        "dfc-b:description": p.description.clone().unwrap_or_default(),
        "dfc-b:hasQuantity": quantity_node(p.unit_value, &p.unit),
        "dfc-b:referencedBy": urls.catalog_item(&p.enterprise_id, p.id),
    })
}

pub fn catalog_item(urls: &Urls, p: &Product) -> Value {
    json!({
        "@id": urls.catalog_item(&p.enterprise_id, p.id),
        "@type": "dfc-b:CatalogItem",
        "dfc-b:references": urls.supplied_product(&p.enterprise_id, p.id),
        "dfc-b:sku": p.sku,
        "dfc-b:stockLimitation": stock_limitation(&p.stock),
        "dfc-b:offeredThrough": urls.offer(&p.enterprise_id, p.id),
    })
}

/// Units left to sell, or -1 when stock is not managed: Open Food Network and the Shopify app
/// read a negative limitation as "on demand" (keeps selling), and a missing one as "leave the
/// stock as it is".
fn stock_limitation(stock: &Stock) -> Value {
    match stock {
        Stock::Managed { .. } => Value::from(stock.available().unwrap_or(0)),
        Stock::NotManaged => Value::from(-1),
    }
}

pub fn offer(urls: &Urls, p: &Product) -> Value {
    json!({
        "@id": urls.offer(&p.enterprise_id, p.id),
        "@type": "dfc-b:Offer",
        "dfc-b:hasPrice": price_node(p.price.amount, p.price.vat_rate, p.price.currency.dfc_name()),
        "dfc-b:stockLimitation": stock_limitation(&p.stock),
        "dfc-b:offeredItem": urls.supplied_product(&p.enterprise_id, p.id),
    })
}

/// One product as a document of its own: its SuppliedProduct, CatalogItem and Offer, whichever
/// of the three was asked for, so that a reader never has to fetch a node it refers to.
pub fn product_document(urls: &Urls, p: &Product) -> Value {
    document(vec![supplied_product(urls, p), catalog_item(urls, p), offer(urls, p)])
}

fn piece_quantity(units: i64) -> Value {
    json!({"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": units})
}

/// A wholesale pack says which retail product it holds, and how many, as the Shopify app does:
/// a transformation consuming `units` of the retail product and producing one pack. The nodes are
/// named after `owner` (the retail product for its first pack), where Open Food Network's offer
/// broker looks for them; the links are written in both spellings readers use (`hasInput` in the
/// 1.16 context and the TypeScript connector, `hasIncome` in the Shopify app and the Ruby one).
fn pack_transformation(urls: &Urls, pack: &Product, retail_id: i64, units: i64, owner: i64) -> [Value; 3] {
    let e = &pack.enterprise_id;
    let consumption = urls.consumption_flow(e, owner);
    let production = urls.production_flow(e, owner);
    [
        json!({
            "@id": urls.transformation(e, owner),
            "@type": "dfc-b:AsPlannedTransformation",
            "dfc-b:hasInput": consumption,
            "dfc-b:hasIncome": consumption,
            "dfc-b:hasOutput": production,
            "dfc-b:hasOutcome": production,
        }),
        json!({
            "@id": consumption,
            "@type": "dfc-b:AsPlannedConsumptionFlow",
            "dfc-b:consumes": urls.supplied_product(e, retail_id),
            "dfc-b:hasQuantity": piece_quantity(units),
        }),
        json!({
            "@id": production,
            "@type": "dfc-b:AsPlannedProductionFlow",
            "dfc-b:produces": urls.supplied_product(e, pack.id),
            "dfc-b:hasQuantity": piece_quantity(1),
        }),
    ]
}

/// The whole catalogue: every product with its catalog item, offer and pack links.
pub fn catalogue(urls: &Urls, products: &[Product]) -> Value {
    let mut graph = Vec::with_capacity(products.len() * 3);
    // A retail product's first pack (the lowest id) is named after it; any further one after itself.
    let mut first_pack: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for p in products {
        if let Some((retail_id, _)) = p.pack_of {
            first_pack.entry(retail_id).and_modify(|pack| *pack = (*pack).min(p.id)).or_insert(p.id);
        }
    }
    for p in products {
        graph.push(supplied_product(urls, p));
        graph.push(catalog_item(urls, p));
        graph.push(offer(urls, p));
        if let Some((retail_id, units)) = p.pack_of {
            let owner = if first_pack.get(&retail_id) == Some(&p.id) { retail_id } else { p.id };
            graph.extend(pack_transformation(urls, p, retail_id, units, owner));
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
        // A reader such as the TypeScript connector fetches every node it meets that the
        // document does not include: the buyer and seller are here, as bare nodes.
        graph.push(json!({"@id": buyer, "@type": "dfc-b:Enterprise"}));
    }
    graph.push(json!({"@id": urls.enterprise(e), "@type": "dfc-b:Enterprise"}));
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
        // The offer and product as the order has them (readers take a node's every value from
        // the document that names it: the connector fails on a price or size it cannot find).
        graph.push(json!({
            "@id": urls.offer(e, line.product_id),
            "@type": "dfc-b:Offer",
            "dfc-b:hasPrice": price_node(line.unit_price, line.vat_rate, line.currency.dfc_name()),
            "dfc-b:offeredItem": urls.supplied_product(e, line.product_id),
        }));
        let mut product = json!({
            "@id": urls.supplied_product(e, line.product_id),
            "@type": "dfc-b:SuppliedProduct",
            "dfc-b:name": line.product_name,
        });
        if let Some((value, unit)) = &line.product_size {
            product["dfc-b:hasQuantity"] = quantity_node(*value, unit);
        }
        graph.push(product);
    }
}

pub fn order(urls: &Urls, order: &IncomingOrder) -> Value {
    let mut graph = Vec::new();
    order_nodes(urls, order, &mut graph);
    document(graph)
}

/// Orders oldest first (Open Food Network amends the last Held one it finds). A node several
/// orders share (the seller, a product, a sales session) appears once, as the first order has it.
pub fn orders(urls: &Urls, orders: &[IncomingOrder]) -> Value {
    let mut graph = Vec::new();
    for o in orders {
        order_nodes(urls, o, &mut graph);
    }
    let mut seen = std::collections::HashSet::new();
    graph.retain(|node| node.get("@id").and_then(Value::as_str).is_none_or(|id| seen.insert(id.to_owned())));
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
