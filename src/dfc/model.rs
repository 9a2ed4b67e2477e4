//! Typed DFC values read from a payload. Optional fields stay optional here: what a use requires
//! (an order line's quantity, say) is checked where it is used, with the path kept for the error.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::reader::{Graph, NodeRef, ReadError};
use crate::domain::{Currency, OrderStatus, Unit};

#[derive(Clone, Debug, Default)]
pub struct Document {
    pub orders: Vec<Order>,
    /// Every OrderLine, including those of no order (a payload may hold a lone line).
    pub order_lines: Vec<OrderLine>,
    pub offers: Vec<Offer>,
    pub supplied_products: Vec<SuppliedProduct>,
    pub catalog_items: Vec<CatalogItem>,
    pub sale_sessions: Vec<SaleSession>,
    pub transformations: Vec<Transformation>,
    /// What was tolerated rather than understood (an unknown context, an unreadable date).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub id: Option<String>,
    pub number: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub sale_session: Option<SaleSession>,
    /// The sale session's id when the payload refers to one it does not include.
    pub sale_session_id: Option<String>,
    pub lines: Vec<OrderLine>,
    pub ordered_by: Option<String>,
    pub sold_by: Option<String>,
    pub order_status: Option<OrderStatus>,
    pub fulfilment_status: Option<String>,
    pub payment_status: Option<String>,
    pub discount: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderLine {
    pub id: Option<String>,
    /// The Offer the line `concerns`.
    pub offer_id: Option<String>,
    /// The offered SuppliedProduct, when the payload includes the Offer.
    pub offered_item: Option<String>,
    pub quantity: Option<Decimal>,
    /// Where `quantity` came from, for error messages.
    pub quantity_path: String,
    pub price: Option<PriceValue>,
    pub discount: Option<Decimal>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PriceValue {
    pub value: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub currency: Option<Currency>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub id: Option<String>,
    pub offered_item: Option<String>,
    pub offered_to: Option<String>,
    pub price: Option<PriceValue>,
    pub stock_limitation: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QuantitativeValue {
    pub value: Option<Decimal>,
    pub unit: Option<Unit>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SuppliedProduct {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The size or weight of one unit (e.g. 0.4 Kilogram).
    pub quantity: Option<QuantitativeValue>,
    pub referenced_by: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CatalogItem {
    pub id: Option<String>,
    pub sku: Option<String>,
    /// Units available; absent means unlimited, negative means sold on demand.
    pub stock_limitation: Option<Decimal>,
    pub references: Option<String>,
    pub offered_through: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SaleSession {
    pub id: Option<String>,
    pub begin: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// A planned transformation, as catalogues use to say "this case holds 12 of that can".
#[derive(Clone, Debug, PartialEq)]
pub struct Transformation {
    pub id: Option<String>,
    pub consumes: Vec<Flow>,
    pub produces: Vec<Flow>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub product: Option<String>,
    pub quantity: Option<QuantitativeValue>,
}

/// A product as a catalogue publishes it: the SuppliedProduct with its CatalogItem and Offer.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogueEntry<'d> {
    pub product: &'d SuppliedProduct,
    pub catalog_item: Option<&'d CatalogItem>,
    pub offer: Option<&'d Offer>,
}

impl Document {
    pub fn from_graph(graph: &Graph) -> Result<Document, ReadError> {
        let mut warnings = graph.warnings.clone();
        let mut doc = Document::default();
        for node in graph.of_type("Order") {
            doc.orders.push(read_order(graph, node, &mut warnings)?);
        }
        for node in graph.of_type("OrderLine") {
            doc.order_lines.push(read_order_line(node)?);
        }
        for node in graph.of_type("Offer") {
            doc.offers.push(read_offer(node)?);
        }
        for node in graph.of_type("SuppliedProduct") {
            doc.supplied_products.push(SuppliedProduct {
                id: node.id().map(str::to_owned),
                name: node.text("name")?,
                description: node.text("description")?,
                quantity: node.linked("hasQuantity")?.map(read_quantitative_value).transpose()?,
                referenced_by: node.references("referencedBy")?,
            });
        }
        for node in graph.of_type("CatalogItem") {
            doc.catalog_items.push(CatalogItem {
                id: node.id().map(str::to_owned),
                sku: node.text("sku")?,
                stock_limitation: node.decimal("stockLimitation")?,
                references: node.reference("references")?,
                offered_through: node.references("offeredThrough")?,
            });
        }
        for node in graph.of_type("SaleSession") {
            doc.sale_sessions.push(read_sale_session(node, &mut warnings)?);
        }
        for node in graph.of_type("AsPlannedTransformation") {
            doc.transformations.push(Transformation {
                id: node.id().map(str::to_owned),
                consumes: read_flows(node, "hasIncome", "consumes")?,
                produces: read_flows(node, "hasOutcome", "produces")?,
            });
        }
        // A node read through several links warns once.
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|w| seen.insert(w.clone()));
        doc.warnings = warnings;
        Ok(doc)
    }

    /// Joins products, catalog items and offers however the catalogue links them: OFN links the
    /// item to the product (`references`) and the offer to the item (`offeredThrough`); the
    /// Shopify app links the product to the item (`referencedBy`); offers may name the product.
    pub fn catalogue(&self) -> Vec<CatalogueEntry<'_>> {
        // Indexed once: catalogues of a few thousand products must not cost a quadratic join.
        let mut items_by_id = HashMap::new();
        let mut items_by_product = HashMap::new();
        for item in &self.catalog_items {
            if let Some(id) = item.id.as_deref() {
                items_by_id.insert(id, item);
            }
            if let Some(product) = item.references.as_deref() {
                items_by_product.entry(product).or_insert(item);
            }
        }
        let mut offers_by_id = HashMap::new();
        let mut offers_by_product = HashMap::new();
        for offer in &self.offers {
            if let Some(id) = offer.id.as_deref() {
                offers_by_id.insert(id, offer);
            }
            if let Some(product) = offer.offered_item.as_deref() {
                offers_by_product.entry(product).or_insert(offer);
            }
        }
        self.supplied_products
            .iter()
            .filter_map(|product| {
                let product_id = product.id.as_deref()?;
                let catalog_item = items_by_product
                    .get(product_id)
                    .or_else(|| product.referenced_by.iter().find_map(|id| items_by_id.get(id.as_str())))
                    .copied();
                let offer = offers_by_product
                    .get(product_id)
                    .or_else(|| catalog_item?.offered_through.iter().find_map(|id| offers_by_id.get(id.as_str())))
                    .copied();
                // Product groups (OFN's `hasVariant` parents) are neither listed nor offered.
                (catalog_item.is_some() || offer.is_some()).then_some(CatalogueEntry { product, catalog_item, offer })
            })
            .collect()
    }
}

fn read_order(graph: &Graph, node: NodeRef<'_>, warnings: &mut Vec<String>) -> Result<Order, ReadError> {
    let order_status = match node.term("hasOrderStatus")? {
        None => None,
        Some(name) => Some(OrderStatus::from_name(&name).ok_or_else(|| {
            ReadError::new(
                node.path("hasOrderStatus"),
                format!("`{name}` is not an order state (Draft, Held, Complete, Cancelled)"),
            )
        })?),
    };
    let session = node.linked("belongsTo")?;
    let sale_session =
        session.filter(|s| s.has_type("SaleSession")).map(|s| read_sale_session(s, warnings)).transpose()?;

    let mut line_nodes = node.linked_all("hasPart")?;
    // Lines may point at their order instead (`partOf`), or, in a one-order payload, not at all.
    let order_id = node.id();
    let lone_order_without_parts = node.references("hasPart")?.is_empty() && graph.of_type("Order").count() == 1;
    for line in graph.of_type("OrderLine") {
        let part_of = line.reference("partOf")?;
        let belongs = match part_of.as_deref() {
            Some(parent) => order_id == Some(parent),
            None => lone_order_without_parts,
        };
        if belongs && !line_nodes.iter().any(|l| l.same_node(&line)) {
            line_nodes.push(line);
        }
    }
    let lines = line_nodes
        .into_iter()
        .filter(|line| line.has_type("OrderLine") || !line.has_type("Order"))
        .map(read_order_line)
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Order {
        id: order_id.map(str::to_owned),
        number: node.text("orderNumber")?,
        date: node.date("date", warnings)?,
        sale_session_id: node.reference("belongsTo")?,
        sale_session,
        lines,
        ordered_by: node.reference("orderedBy")?,
        sold_by: node.reference("soldBy")?,
        order_status,
        fulfilment_status: node.term("hasFulfilmentStatus")?,
        payment_status: node.term("hasPaymentStatus")?,
        discount: node.decimal("discount")?,
    })
}

fn read_order_line(line: NodeRef<'_>) -> Result<OrderLine, ReadError> {
    let offer_node = line.linked("concerns")?;
    // The wire sends `quantity` (a count); the ontology allows `hasQuantity` (a QuantitativeValue).
    let (quantity, quantity_path) = match line.decimal("quantity")? {
        Some(q) => (Some(q), line.path("quantity")),
        None => match line.linked("hasQuantity")? {
            Some(qv) => (qv.decimal("value")?, qv.path("value")),
            None => (None, line.path("quantity")),
        },
    };
    Ok(OrderLine {
        id: line.id().map(str::to_owned),
        offer_id: line.reference("concerns")?,
        offered_item: offer_node.map(|o| o.reference("offeredItem")).transpose()?.flatten(),
        quantity,
        quantity_path,
        price: read_price(line, "hasPrice")?,
        discount: line.decimal("discount")?,
        description: line.text("description")?,
    })
}

fn read_offer(node: NodeRef<'_>) -> Result<Offer, ReadError> {
    Ok(Offer {
        id: node.id().map(str::to_owned),
        offered_item: node.reference("offeredItem")?,
        offered_to: node.reference("offeredTo")?,
        price: read_price(node, "hasPrice")?,
        stock_limitation: node.decimal("stockLimitation")?,
    })
}

fn read_price(node: NodeRef<'_>, prop: &str) -> Result<Option<PriceValue>, ReadError> {
    // A bare number is a price without currency; otherwise a (possibly blank) Price node.
    if let Ok(Some(value)) = node.decimal(prop) {
        return Ok(Some(PriceValue { value: Some(value), vat_rate: None, currency: None }));
    }
    let Some(price) = node.linked(prop)? else { return Ok(None) };
    let currency =
        match price.term("hasUnit")? {
            None => None,
            Some(name) => Some(Currency::from_name(&name).ok_or_else(|| {
                ReadError::new(price.path("hasUnit"), format!("`{name}` is not a currency DFC knows"))
            })?),
        };
    Ok(Some(PriceValue { value: price.decimal("value")?, vat_rate: price.decimal("VATrate")?, currency }))
}

fn read_quantitative_value(node: NodeRef<'_>) -> Result<QuantitativeValue, ReadError> {
    Ok(QuantitativeValue { value: node.decimal("value")?, unit: node.term("hasUnit")?.map(|u| Unit::from_name(&u)) })
}

fn read_sale_session(node: NodeRef<'_>, warnings: &mut Vec<String>) -> Result<SaleSession, ReadError> {
    Ok(SaleSession {
        id: node.id().map(str::to_owned),
        begin: node.date("beginDate", warnings)?,
        end: node.date("endDate", warnings)?,
    })
}

fn read_flows(node: NodeRef<'_>, link: &str, product_prop: &str) -> Result<Vec<Flow>, ReadError> {
    node.linked_all(link)?
        .into_iter()
        .map(|flow| {
            Ok(Flow {
                product: flow.reference(product_prop)?,
                quantity: flow.linked("hasQuantity")?.map(read_quantitative_value).transpose()?,
            })
        })
        .collect()
}
