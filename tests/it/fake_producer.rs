//! Producer platforms orderhub did not write, as strict as the real ones: the FDC Shopify producer
//! app (PascalCase routes, server ids for orders and lines, answers in its shapes: blank-node
//! prices, string numbers, offers renamed `.../Offers/{id}`) and an Open Food Network-style one
//! (snake_case routes, OFN's DFC 2.0 catalogue with product groups). Both read requests the way
//! the TypeScript connector does: a line given as a blank node, or any node referred to but not
//! included, and the request fails (500, as the app does when the connector throws).
//!
//! Orders live in memory; stock is `on_hand` minus what Held orders hold, sold on Complete.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Shopify,
    Ofn,
}

/// A product variant the producer sells.
#[derive(Clone, Debug)]
pub struct Variant {
    pub id: u64,
    pub name: &'static str,
    pub sku: &'static str,
    /// Price excluding VAT, as text.
    pub price: &'static str,
    /// Weight of one unit in kilograms, as text.
    pub kg: &'static str,
    /// Units on hand; None: keeps selling when out of stock.
    pub on_hand: Option<i64>,
    /// `(retail variant, units)`: this variant is a case of that one.
    pub pack_of: Option<(u64, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeLine {
    pub id: u64,
    pub variant: u64,
    pub quantity: i64,
}

#[derive(Clone, Debug)]
pub struct FakeOrder {
    pub id: u64,
    pub status: &'static str,
    pub number: Option<String>,
    pub lines: Vec<FakeLine>,
}

/// One request as the producer saw it, and what it answered.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    pub status: u16,
    pub refusal: Option<String>,
}

struct Shop {
    style: Style,
    base: String,
    enterprise: String,
    token: String,
    variants: Vec<Variant>,
    orders: Vec<FakeOrder>,
    next_order: u64,
    next_line: u64,
    log: Vec<Exchange>,
    /// Whether the `dfc-b:orderNumber` a trader sends is kept and listed. The Shopify app
    /// keeps none: its answers and listings carry no order number.
    keeps_order_numbers: bool,
}

#[derive(Clone)]
pub struct FakeProducer {
    pub base: String,
    shop: Arc<Mutex<Shop>>,
}

type Shared = Arc<Mutex<Shop>>;

impl FakeProducer {
    pub async fn start(style: Style, enterprise: &str, token: &str, variants: Vec<Variant>) -> FakeProducer {
        Self::start_at(style, enterprise, token, variants, None).await
    }

    /// The producer reached through a proxy: its ids name the proxy, as a producer behind a
    /// load balancer names its public address.
    pub async fn start_behind(
        proxy: &crate::proxy::Proxy,
        style: Style,
        enterprise: &str,
        token: &str,
        variants: Vec<Variant>,
    ) -> FakeProducer {
        Self::start_at(style, enterprise, token, variants, Some(proxy)).await
    }

    async fn start_at(
        style: Style,
        enterprise: &str,
        token: &str,
        variants: Vec<Variant>,
        proxy: Option<&crate::proxy::Proxy>,
    ) -> FakeProducer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("address");
        let base = match proxy {
            Some(proxy) => {
                proxy.forward_to(address);
                proxy.url()
            }
            None => format!("http://{address}"),
        };
        let shop = Arc::new(Mutex::new(Shop {
            style,
            base: base.clone(),
            enterprise: enterprise.to_owned(),
            token: token.to_owned(),
            variants,
            orders: Vec::new(),
            next_order: 1_188_908_237_107,
            next_line: 460,
            log: Vec::new(),
            keeps_order_numbers: true,
        }));
        let (e, orders, products) = match style {
            Style::Shopify => ("Enterprises", "Orders", "SuppliedProducts"),
            Style::Ofn => ("enterprises", "orders", "catalog_items"),
        };
        let app = Router::new()
            .route(&format!("/api/dfc/{e}/{{enterprise}}/{products}"), axum::routing::get(catalogue))
            .route(&format!("/api/dfc/{e}/{{enterprise}}/{orders}"), axum::routing::get(list).post(create))
            .route(&format!("/api/dfc/{e}/{{enterprise}}/{orders}/{{id}}"), axum::routing::get(show).put(replace))
            .fallback(not_found)
            .with_state(shop.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProducer { base, shop }
    }

    fn with<T>(&self, f: impl FnOnce(&Shop) -> T) -> T {
        f(&self.shop.lock().expect("shop"))
    }

    /// From now on, as the Shopify app does: no order number is kept.
    pub fn keep_no_order_numbers(&self) {
        self.shop.lock().expect("shop").keeps_order_numbers = false;
    }

    /// A person at the producer cancels an order (in the shop's back office).
    pub fn cancel_by_hand(&self, id: u64) {
        let mut shop = self.shop.lock().expect("shop");
        if let Some(order) = shop.orders.iter_mut().find(|o| o.id == id) {
            order.status = "Cancelled";
        }
    }

    pub fn orders(&self) -> Vec<FakeOrder> {
        self.with(|s| s.orders.clone())
    }

    pub fn log(&self) -> Vec<Exchange> {
        self.with(|s| s.log.clone())
    }

    /// Units of a variant left to sell (None: keeps selling).
    pub fn available(&self, variant: u64) -> Option<i64> {
        self.with(|s| s.available(variant))
    }

    pub fn on_hand(&self, variant: u64) -> Option<i64> {
        self.with(|s| s.variant(variant).and_then(|v| v.on_hand))
    }
}

impl Shop {
    fn root(&self) -> String {
        match self.style {
            Style::Shopify => format!("{}/api/dfc/Enterprises/{}", self.base, self.enterprise),
            Style::Ofn => format!("{}/api/dfc/enterprises/{}", self.base, self.enterprise),
        }
    }

    fn product(&self, variant: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/SuppliedProducts/{variant}", self.root()),
            Style::Ofn => format!("{}/supplied_products/{variant}", self.root()),
        }
    }

    fn catalog_item(&self, variant: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/CatalogItem", self.product(variant)),
            Style::Ofn => format!("{}/catalog_items/{variant}", self.root()),
        }
    }

    /// The offer as the catalogue names it.
    fn catalogue_offer(&self, variant: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/Offer", self.product(variant)),
            Style::Ofn => format!("{}/offers/{variant}", self.root()),
        }
    }

    /// The offer as order answers name it (the Shopify app renames it).
    fn answer_offer(&self, variant: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/Offers/{variant}", self.root()),
            Style::Ofn => self.catalogue_offer(variant),
        }
    }

    fn order_iri(&self, id: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/Orders/{id}", self.root()),
            Style::Ofn => format!("{}/orders/{id}", self.root()),
        }
    }

    fn line_iri(&self, order: u64, line: u64) -> String {
        match self.style {
            Style::Shopify => format!("{}/orderLines/{line}", self.order_iri(order)),
            Style::Ofn => format!("{}/order_lines/{line}", self.order_iri(order)),
        }
    }

    fn variant(&self, id: u64) -> Option<&Variant> {
        self.variants.iter().find(|v| v.id == id)
    }

    /// The variant a product IRI (or a catalogue offer IRI) names.
    fn variant_named(&self, iri: &str) -> Option<u64> {
        self.variants
            .iter()
            .map(|v| v.id)
            .find(|&id| iri == self.product(id) || iri == self.catalogue_offer(id) || iri == self.answer_offer(id))
    }

    fn held(&self, variant: u64, except: Option<u64>) -> i64 {
        self.orders
            .iter()
            .filter(|o| o.status == "Held" && Some(o.id) != except)
            .flat_map(|o| &o.lines)
            .filter(|l| l.variant == variant)
            .map(|l| l.quantity)
            .sum()
    }

    fn available(&self, variant: u64) -> Option<i64> {
        let on_hand = self.variant(variant)?.on_hand?;
        Some(on_hand - self.held(variant, None))
    }

    fn catalogue(&self) -> Value {
        match self.style {
            Style::Shopify => self.shopify_catalogue(),
            Style::Ofn => self.ofn_catalogue(),
        }
    }

    /// The app's shape: quantities and prices as top-level blank nodes referred to by string,
    /// numbers as strings, `-1` for "keeps selling", packs as transformations named after the
    /// retail variant.
    fn shopify_catalogue(&self) -> Value {
        let mut graph = Vec::new();
        let mut blank = 1000;
        let mut blank_node = |graph: &mut Vec<Value>, mut node: Value| {
            blank += 1;
            let id = format!("_:b{blank}");
            node["@id"] = json!(id);
            graph.push(node);
            id
        };
        for v in &self.variants {
            let quantity = blank_node(
                &mut graph,
                json!({"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Kilogram", "dfc-b:value": v.kg}),
            );
            let price = blank_node(
                &mut graph,
                json!({"@type": "dfc-b:Price", "dfc-b:VATrate": "0", "dfc-b:hasUnit": "dfc-m:PoundSterling", "dfc-b:value": v.price}),
            );
            graph.push(json!({
                "@id": self.product(v.id), "@type": "dfc-b:SuppliedProduct", "dfc-b:name": v.name,
                "dfc-b:description": format!("<p>{}</p>", v.name), "dfc-b:hasQuantity": quantity,
                "dfc-b:referencedBy": self.catalog_item(v.id),
            }));
            let stock = v.on_hand.map_or(-1, |_| self.available(v.id).unwrap_or(0));
            graph.push(json!({
                "@id": self.catalog_item(v.id), "@type": "dfc-b:CatalogItem",
                "dfc-b:offeredThrough": self.catalogue_offer(v.id), "dfc-b:sku": v.sku,
                "dfc-b:stockLimitation": stock.to_string(),
            }));
            graph.push(
                json!({"@id": self.catalogue_offer(v.id), "@type": "dfc-b:Offer", "dfc-b:hasPrice": {"@id": price}}),
            );
            if let Some((retail, units)) = v.pack_of {
                let retail_iri = self.product(retail);
                let consumed = blank_node(
                    &mut graph,
                    json!({"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": units.to_string()}),
                );
                let produced = blank_node(
                    &mut graph,
                    json!({"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Piece", "dfc-b:value": "1"}),
                );
                graph.push(json!({
                    "@id": format!("{retail_iri}/AsPlannedConsumptionFlow"), "@type": "dfc-b:AsPlannedConsumptionFlow",
                    "dfc-b:consumes": retail_iri, "dfc-b:hasQuantity": consumed,
                }));
                graph.push(json!({
                    "@id": format!("{retail_iri}/AsPlannedProductionFlow"), "@type": "dfc-b:AsPlannedProductionFlow",
                    "dfc-b:hasQuantity": produced, "dfc-b:produces": self.product(v.id),
                }));
                graph.push(json!({
                    "@id": format!("{retail_iri}/AsPlannedTransformation"), "@type": "dfc-b:AsPlannedTransformation",
                    "dfc-b:hasIncome": format!("{retail_iri}/AsPlannedConsumptionFlow"),
                    "dfc-b:hasOutcome": format!("{retail_iri}/AsPlannedProductionFlow"),
                }));
            }
        }
        json!({"@context": "https://www.datafoodconsortium.org", "@graph": graph})
    }

    /// Open Food Network's DFC 2.0 catalogue: catalog items referencing products, a product group
    /// over its variants, prices embedded without VAT, numbers as numbers.
    fn ofn_catalogue(&self) -> Value {
        let mut graph = vec![json!({
            "@id": format!("{}/catalog_items", self.root()), "@type": "ldp:Container",
            "ldp:contains": self.variants.iter().map(|v| self.catalog_item(v.id)).collect::<Vec<_>>(),
        })];
        for v in &self.variants {
            graph.push(json!({
                "@id": self.catalog_item(v.id), "@type": "dfc-b:CatalogItem",
                "dfc-b:references": self.product(v.id), "dfc-b:sku": v.sku,
                "dfc-b:stockLimitation": self.available(v.id).unwrap_or(-1),
                "dfc-b:offeredThrough": self.catalogue_offer(v.id),
            }));
            graph.push(json!({
                "@id": self.product(v.id), "@type": "dfc-b:SuppliedProduct", "dfc-b:name": v.name,
                "dfc-b:description": "", "ofn:spree_product_id": v.id,
                "dfc-b:hasQuantity": {"@type": "dfc-b:QuantitativeValue", "dfc-b:hasUnit": "dfc-m:Kilogram",
                    "dfc-b:value": v.kg.parse::<f64>().expect("weight")},
            }));
            graph.push(json!({
                "@id": self.catalogue_offer(v.id), "@type": "dfc-b:Offer",
                "dfc-b:hasPrice": {"@type": "dfc-b:Price", "dfc-b:value": v.price.parse::<f64>().expect("price"),
                    "dfc-b:hasUnit": "dfc-m:PoundSterling"},
                "dfc-b:stockLimitation": self.available(v.id).unwrap_or(-1),
            }));
        }
        graph.push(json!({
            "@id": format!("{}/api/dfc/product_groups/90000", self.base), "@type": "dfc-b:SuppliedProduct",
            "dfc-b:name": "Everything", "dfc-b:hasVariant": self.variants.iter().map(|v| self.product(v.id)).collect::<Vec<_>>(),
        }));
        json!({"@context": "https://w3id.org/dfc/ontology/context/context_2.0.0.json", "@graph": graph})
    }

    fn order_document(&self, order: &FakeOrder) -> Value {
        let mut graph = Vec::new();
        let lines: Vec<String> = order.lines.iter().map(|l| self.line_iri(order.id, l.id)).collect();
        let mut node = json!({"@id": self.order_iri(order.id), "@type": "dfc-b:Order"});
        match self.style {
            Style::Shopify => {
                node["dfc-b:hasOrderStatus"] = json!({"@id": format!("dfc-v:{}", order.status)});
                node["dfc-b:hasPart"] = lines.iter().map(|l| json!({"@id": l})).collect();
            }
            Style::Ofn => {
                node["dfc-b:hasOrderStatus"] = json!(format!("dfc-v:{}", order.status));
                node["dfc-b:hasPart"] = json!(lines);
            }
        }
        if let Some(number) = &order.number {
            node["dfc-b:orderNumber"] = json!(number);
        }
        graph.push(node);
        for (line, iri) in order.lines.iter().zip(&lines) {
            let Some(variant) = self.variant(line.variant) else { continue };
            match self.style {
                Style::Shopify => {
                    let price = format!("_:b{}", line.id);
                    graph.push(json!({"@id": price, "@type": "dfc-b:Price", "dfc-b:hasUnit": "dfc-m:PoundSterling", "dfc-b:value": variant.price}));
                    graph.push(json!({
                        "@id": iri, "@type": "dfc-b:OrderLine", "dfc-b:concerns": {"@id": self.answer_offer(line.variant)},
                        "dfc-b:hasPrice": {"@id": price}, "dfc-b:quantity": line.quantity.to_string(),
                    }));
                    graph.push(json!({
                        "@id": self.answer_offer(line.variant), "@type": "dfc-b:Offer",
                        "dfc-b:offeredItem": {"@id": self.product(line.variant)},
                    }));
                    graph.push(json!({"@id": self.product(line.variant), "@type": "dfc-b:SuppliedProduct"}));
                }
                Style::Ofn => {
                    graph.push(json!({
                        "@id": iri, "@type": "dfc-b:OrderLine", "dfc-b:concerns": self.answer_offer(line.variant),
                        "dfc-b:quantity": line.quantity,
                        "dfc-b:hasPrice": {"@type": "dfc-b:Price", "dfc-b:value": variant.price.parse::<f64>().expect("price"), "dfc-b:hasUnit": "dfc-m:PoundSterling"},
                    }));
                }
            }
        }
        let context = match self.style {
            Style::Shopify => "https://w3id.org/dfc/ontology/context/context_1.16.0.json",
            Style::Ofn => "https://w3id.org/dfc/ontology/context/context_2.0.0.json",
        };
        json!({"@context": context, "@graph": graph})
    }

    /// Reads an order request as the connector would, refusing what it cannot import, then as
    /// the shop: `(status, [(line id asked, variant, quantity)])`.
    #[allow(clippy::type_complexity)]
    fn read_request(
        &self,
        body: &[u8],
    ) -> Result<(Option<String>, Option<String>, Vec<(String, u64, i64)>), (StatusCode, String)> {
        let unreadable = |why: String| (StatusCode::INTERNAL_SERVER_ERROR, why);
        let json: Value = serde_json::from_slice(body).map_err(|e| unreadable(format!("not JSON: {e}")))?;
        let nodes: Vec<&Value> = match json.get("@graph") {
            Some(Value::Array(nodes)) => nodes.iter().collect(),
            _ => vec![&json],
        };
        let by_id: HashMap<&str, &Value> = nodes.iter().filter_map(|n| Some((n["@id"].as_str()?, *n))).collect();
        let references = |node: &Value, prop: &str| -> Vec<String> {
            match &node[prop] {
                Value::String(s) => vec![s.clone()],
                Value::Object(o) if o.len() == 1 => {
                    o.get("@id").and_then(Value::as_str).map(str::to_owned).into_iter().collect()
                }
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned).or_else(|| i["@id"].as_str().map(str::to_owned)))
                    .collect(),
                _ => Vec::new(),
            }
        };
        // Every node referred to must be in the document: the connector fetches the others.
        for node in &nodes {
            for prop in [
                "dfc-b:hasPart",
                "dfc-b:concerns",
                "dfc-b:offeredItem",
                "dfc-b:belongsTo",
                "dfc-b:orderedBy",
                "dfc-b:partOf",
                "dfc-b:hasPrice",
            ] {
                for reference in references(node, prop) {
                    if !by_id.contains_key(reference.as_str()) {
                        return Err(unreadable(format!(
                            "{prop} refers to {reference}, which the document does not include"
                        )));
                    }
                }
            }
        }
        let orders: Vec<&&Value> = nodes.iter().filter(|n| n["@type"] == "dfc-b:Order").collect();
        let [order] = orders.as_slice() else { return Err(unreadable(format!("{} orders", orders.len()))) };
        let status = match &order["dfc-b:hasOrderStatus"] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("@id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let number = order["dfc-b:orderNumber"].as_str().map(str::to_owned);
        let mut lines = Vec::new();
        for line_id in references(order, "dfc-b:hasPart") {
            if line_id.starts_with("_:") {
                return Err(unreadable(format!("line {line_id} is a blank node: the connector imports no line")));
            }
            let line = by_id[line_id.as_str()];
            let offer_id = references(line, "dfc-b:concerns")
                .pop()
                .ok_or_else(|| unreadable(format!("{line_id} concerns nothing")))?;
            let offer = by_id[offer_id.as_str()];
            let product = references(offer, "dfc-b:offeredItem").pop().unwrap_or(offer_id.clone());
            let variant = self
                .variant_named(&product)
                .or_else(|| self.variant_named(&offer_id))
                .ok_or((StatusCode::BAD_REQUEST, format!("{product} is not sold here")))?;
            let quantity = match &line["dfc-b:quantity"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .filter(|q| *q >= 0)
            .ok_or((StatusCode::BAD_REQUEST, format!("{line_id}: bad quantity")))?;
            lines.push((line_id, variant, quantity));
        }
        Ok((status, number, lines))
    }

    /// Fits the asked lines into an order: a known line id keeps its line, else a line of the
    /// same variant does, else a new server id. Zero lines go.
    fn fit_lines(&mut self, existing: &[FakeLine], asked: Vec<(String, u64, i64)>, order: u64) -> Vec<FakeLine> {
        let mut lines: Vec<FakeLine> = Vec::new();
        for (asked_id, variant, quantity) in asked {
            let known = existing
                .iter()
                .find(|l| self.line_iri(order, l.id) == asked_id)
                .or_else(|| existing.iter().find(|l| l.variant == variant));
            let id = match known {
                Some(line) => line.id,
                None => {
                    self.next_line += 1;
                    self.next_line
                }
            };
            if quantity > 0 {
                lines.push(FakeLine { id, variant, quantity });
            }
        }
        lines
    }

    fn short(&self, lines: &[FakeLine], order: Option<u64>) -> Option<String> {
        lines.iter().find_map(|l| {
            let on_hand = self.variant(l.variant)?.on_hand?;
            let available = on_hand - self.held(l.variant, order);
            (l.quantity > available).then(|| format!("{}: {} asked, {available} left", l.variant, l.quantity))
        })
    }
}

fn graph_of(body: &[u8]) -> Vec<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut top)) => match top.remove("@graph") {
            Some(Value::Array(nodes)) => nodes,
            _ => vec![Value::Object(top)],
        },
        _ => Vec::new(),
    }
}

fn sale_sessions(body: &[u8]) -> usize {
    graph_of(body).iter().filter(|n| n["@type"] == "dfc-b:SaleSession").count()
}

fn order_id_of(body: &[u8]) -> Option<String> {
    graph_of(body).iter().find(|n| n["@type"] == "dfc-b:Order").and_then(|o| o["@id"].as_str().map(str::to_owned))
}

fn authorised(shop: &Shop, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {}", shop.token).as_str())
}

fn answer(
    shop: &mut Shop,
    method: &Method,
    uri: &Uri,
    body: Option<&[u8]>,
    status: StatusCode,
    value: Value,
) -> Response {
    let refusal = (!status.is_success()).then(|| value["error"].as_str().unwrap_or_default().to_owned());
    shop.log.push(Exchange {
        method: method.to_string(),
        path: uri.path().to_owned(),
        body: body.and_then(|b| serde_json::from_slice(b).ok()),
        status: status.as_u16(),
        refusal,
    });
    (status, [("content-type", "application/json")], value.to_string()).into_response()
}

fn refuse(status: StatusCode, why: String) -> (StatusCode, Value) {
    (status, json!({ "error": why }))
}

async fn catalogue(
    State(shop): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(e): Path<String>,
) -> Response {
    let mut shop = shop.lock().expect("shop");
    let (status, value) = if !authorised(&shop, &headers) {
        refuse(StatusCode::UNAUTHORIZED, "unauthorised".into())
    } else if e != shop.enterprise {
        refuse(StatusCode::NOT_FOUND, "no such enterprise".into())
    } else {
        (StatusCode::OK, shop.catalogue())
    };
    answer(&mut shop, &method, &uri, None, status, value)
}

async fn list(State(shop): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let mut shop = shop.lock().expect("shop");
    if !authorised(&shop, &headers) {
        let (status, value) = refuse(StatusCode::UNAUTHORIZED, "unauthorised".into());
        return answer(&mut shop, &method, &uri, None, status, value);
    }
    // Oldest first, as the app lists them.
    let mut graph = Vec::new();
    for order in &shop.orders {
        graph.extend(shop.order_document(order)["@graph"].as_array().cloned().unwrap_or_default());
    }
    let value = json!({"@context": "https://www.datafoodconsortium.org", "@graph": graph});
    answer(&mut shop, &method, &uri, None, StatusCode::OK, value)
}

async fn show(
    State(shop): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_, id)): Path<(String, u64)>,
) -> Response {
    let mut shop = shop.lock().expect("shop");
    let (status, value) = match shop.orders.iter().find(|o| o.id == id) {
        _ if !authorised(&shop, &headers) => refuse(StatusCode::UNAUTHORIZED, "unauthorised".into()),
        Some(order) => (StatusCode::OK, shop.order_document(order)),
        None => refuse(StatusCode::NOT_FOUND, "no such order".into()),
    };
    answer(&mut shop, &method, &uri, None, status, value)
}

async fn create(State(shop): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut shop = shop.lock().expect("shop");
    let (status, value) = if !authorised(&shop, &headers) {
        refuse(StatusCode::UNAUTHORIZED, "unauthorised".into())
    } else {
        match shop.read_request(&body) {
            Err((status, why)) => refuse(status, why),
            Ok(_) if sale_sessions(&body) != 1 => {
                refuse(StatusCode::INTERNAL_SERVER_ERROR, "Graph must contain single SalesSession".into())
            }
            Ok((_, number, asked)) => {
                shop.next_order += 1;
                let id = shop.next_order;
                let lines = shop.fit_lines(&[], asked, id);
                let number = number.filter(|_| shop.keeps_order_numbers);
                match shop.short(&lines, None) {
                    Some(why) => refuse(StatusCode::CONFLICT, why),
                    None => {
                        let order = FakeOrder { id, status: "Held", number, lines };
                        let document = shop.order_document(&order);
                        shop.orders.push(order);
                        // The app answers 200 and no Location: the id is the answer's Order.
                        (StatusCode::OK, document)
                    }
                }
            }
        }
    };
    answer(&mut shop, &method, &uri, Some(&body), status, value)
}

async fn replace(
    State(shop): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_, id)): Path<(String, u64)>,
    body: Bytes,
) -> Response {
    let mut shop = shop.lock().expect("shop");
    let outcome = if !authorised(&shop, &headers) {
        Err(refuse(StatusCode::UNAUTHORIZED, "unauthorised".into()))
    } else {
        shop.read_request(&body).map_err(|(status, why)| refuse(status, why))
    };
    let (status, value) = match (outcome, shop.orders.iter().position(|o| o.id == id)) {
        (Err(refused), _) => refused,
        (Ok(_), None) => refuse(StatusCode::NOT_FOUND, "no such order".into()),
        (Ok(_), Some(index)) if order_id_of(&body) != Some(shop.order_iri(shop.orders[index].id)) => {
            refuse(StatusCode::BAD_REQUEST, "ID does not match payload".into())
        }
        (Ok((status, _, asked)), Some(index)) => {
            let current = shop.orders[index].clone();
            let wanted: &'static str = match status.as_deref() {
                Some("dfc-v:Complete") => "Complete",
                Some("dfc-v:Cancelled") => "Cancelled",
                Some("dfc-v:Held") | None => "Held",
                Some(other) => {
                    return answer(
                        &mut shop,
                        &method,
                        &uri,
                        Some(&body),
                        StatusCode::BAD_REQUEST,
                        json!({"error": format!("state {other}")}),
                    );
                }
            };
            let lines =
                if wanted == "Cancelled" { current.lines.clone() } else { shop.fit_lines(&current.lines, asked, id) };
            if current.status != "Held" && !(current.status == wanted && lines == current.lines) {
                refuse(StatusCode::CONFLICT, format!("the order is {}", current.status))
            } else if let Some(why) = (wanted != "Cancelled").then(|| shop.short(&lines, Some(id))).flatten() {
                refuse(StatusCode::CONFLICT, why)
            } else {
                if wanted == "Complete" && current.status == "Held" {
                    for line in &lines {
                        if let Some(v) = shop.variants.iter_mut().find(|v| v.id == line.variant)
                            && let Some(on_hand) = v.on_hand.as_mut()
                        {
                            *on_hand -= line.quantity;
                        }
                    }
                }
                let order = &mut shop.orders[index];
                order.status = wanted;
                order.lines = lines;
                let order = order.clone();
                (StatusCode::OK, shop.order_document(&order))
            }
        }
    };
    answer(&mut shop, &method, &uri, Some(&body), status, value)
}

async fn not_found(State(shop): State<Shared>, method: Method, uri: Uri) -> Response {
    let mut shop = shop.lock().expect("shop");
    answer(&mut shop, &method, &uri, None, StatusCode::NOT_FOUND, json!({"error": "no route"}))
}

/// The server's line ids of every order, by order IRI: what a trader's PUTs must name.
pub fn line_ids_by_order(producer: &FakeProducer) -> BTreeMap<String, Vec<String>> {
    producer.with(|shop| {
        shop.orders
            .iter()
            .map(|o| (shop.order_iri(o.id), o.lines.iter().map(|l| shop.line_iri(o.id, l.id)).collect()))
            .collect()
    })
}
