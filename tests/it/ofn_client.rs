//! Open Food Network as a trader client of orderhub's producer API, written after its backorder
//! code (`FdcUrlBuilder`, `FdcOfferBroker`, `FdcBackorderer`, `BackorderUpdater`,
//! `CompleteBackorderJob`): URLs derived from a product id, the wholesale pack found by the ids of
//! its flows, the order to amend chosen as the last Held one listed, lines named
//! `{order}/OrderLines/{count + 1}`, zero lines dropped before completing, and every request
//! carrying the lines, offers, products and the sale session with JavaScript dates.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::*;

/// A catalogue as OFN's importer holds it: every node by id.
pub struct Catalog {
    nodes: HashMap<String, Value>,
}

impl Catalog {
    fn item(&self, id: &str) -> Option<&Value> {
        self.nodes.get(id)
    }

    fn reference<'a>(node: &'a Value, prop: &str) -> Option<&'a str> {
        match &node[prop] {
            Value::String(s) => Some(s),
            Value::Array(items) => items.first().and_then(Value::as_str),
            Value::Object(o) => o.get("@id").and_then(Value::as_str),
            _ => None,
        }
    }

    /// `FdcOfferBroker#best_offer`: the wholesale product (or the product itself), how many of the
    /// product it holds, and its offer (through its catalog item, as OFN's import links them).
    pub fn best_offer(&self, product_id: &str) -> (String, i64, Value) {
        let wholesale = self
            .item(&format!("{product_id}/AsPlannedProductionFlow"))
            .and_then(|flow| Self::reference(flow, "dfc-b:produces"))
            .unwrap_or(product_id)
            .to_owned();
        let factor = self
            .item(&format!("{product_id}/AsPlannedConsumptionFlow"))
            .and_then(|flow| flow["dfc-b:hasQuantity"]["dfc-b:value"].as_i64())
            .unwrap_or(1);
        let product = self.item(&wholesale).expect("the wholesale product is in the catalogue");
        let catalog_item = Self::reference(product, "dfc-b:referencedBy").and_then(|id| self.item(id)).expect("item");
        let offer = Self::reference(catalog_item, "dfc-b:offeredThrough").and_then(|id| self.item(id)).expect("offer");
        let mut offer = offer.clone();
        // "Unfortunately, the imported catalog doesn't provide the reverse link".
        offer["dfc-b:offeredItem"] = json!(wholesale);
        (wholesale, factor, offer)
    }

    /// `FdcOfferBroker#wholesale_to_retail`: the retail product a pack holds, and how many.
    pub fn wholesale_to_retail(&self, wholesale_id: &str) -> (String, i64) {
        let production = self.nodes.values().find(|n| {
            n["@type"] == "dfc-b:AsPlannedProductionFlow" && Self::reference(n, "dfc-b:produces") == Some(wholesale_id)
        });
        let Some(production) = production else { return (wholesale_id.to_owned(), 1) };
        let id =
            production["@id"].as_str().expect("flow id").replace("AsPlannedProductionFlow", "AsPlannedConsumptionFlow");
        let consumption = self.item(&id).expect("the consumption flow");
        let retail = Self::reference(consumption, "dfc-b:consumes").expect("retail").to_owned();
        (retail, consumption["dfc-b:hasQuantity"]["dfc-b:value"].as_i64().expect("units"))
    }

    pub fn product(&self, id: &str) -> Value {
        self.item(id).cloned().expect("product")
    }
}

#[derive(Clone, Debug)]
pub struct OfnLine {
    pub id: String,
    pub offer: Value,
    pub product: Value,
    pub quantity: Value,
}

#[derive(Clone, Debug)]
pub struct OfnOrder {
    pub id: String,
    pub status: String,
    pub lines: Vec<OfnLine>,
}

pub struct OfnClient<'a> {
    app: &'a TestApp,
    token: &'a str,
    pub catalog_url: String,
    pub orders_url: String,
    sale_session_url: String,
}

impl<'a> OfnClient<'a> {
    /// `FdcUrlBuilder`: everything guessed from one product's id.
    pub fn new(app: &'a TestApp, token: &'a str, product_link: &str) -> OfnClient<'a> {
        let catalog_url = product_link.rsplit_once('/').expect("a product id").0.to_owned();
        OfnClient {
            app,
            token,
            orders_url: catalog_url.replace("/SuppliedProducts", "/Orders"),
            sale_session_url: catalog_url.replace("/SuppliedProducts", "/SalesSession/#"),
            catalog_url,
        }
    }

    pub async fn catalog(&self) -> Catalog {
        let (status, document) = self.app.get(&self.catalog_url, self.token).await;
        assert_eq!(status, 200, "{document}");
        let nodes = document["@graph"]
            .as_array()
            .expect("graph")
            .iter()
            .filter_map(|n| Some((n["@id"].as_str()?.to_owned(), n.clone())))
            .collect();
        Catalog { nodes }
    }

    pub fn build_new_order(&self) -> OfnOrder {
        OfnOrder { id: self.orders_url.clone(), status: "dfc-v:Held".into(), lines: Vec::new() }
    }

    /// The deprecated lookup OFN falls back to: the last Held order of the listing.
    pub async fn find_last_open_order(&self) -> Option<OfnOrder> {
        let (status, listing) = self.app.get(&self.orders_url, self.token).await;
        assert_eq!(status, 200, "{listing}");
        let open: Vec<String> = graph_nodes(&listing, "dfc-b:Order")
            .into_iter()
            .filter(|o| o["dfc-b:hasOrderStatus"] == "dfc-v:Held")
            .filter_map(|o| o["@id"].as_str().map(str::to_owned))
            .collect();
        let last = open.last()?;
        Some(self.find_order(last).await)
    }

    pub async fn find_order(&self, id: &str) -> OfnOrder {
        let (status, document) = self.app.get(id, self.token).await;
        assert_eq!(status, 200, "{document}");
        parse_order(&document, id)
    }

    pub fn find_or_build_order_line<'o>(
        &self,
        order: &'o mut OfnOrder,
        offer: &Value,
        product: &Value,
    ) -> &'o mut OfnLine {
        let wanted = offer["dfc-b:offeredItem"].as_str().expect("offered item").to_owned();
        let index = match order.lines.iter().position(|l| l.offer["dfc-b:offeredItem"] == wanted) {
            Some(index) => index,
            None => {
                // "Suggested by FDC team": whatever ids the lines already have.
                let next_id = order.lines.len() + 1;
                order.lines.push(OfnLine {
                    id: format!("{}/OrderLines/{next_id}", order.id),
                    offer: offer.clone(),
                    product: product.clone(),
                    quantity: json!(0),
                });
                order.lines.len() - 1
            }
        };
        &mut order.lines[index]
    }

    /// `FdcBackorderer#send_order`: POST while the order has the collection's id, PUT after.
    pub async fn send_order(&self, order: &OfnOrder) -> OfnOrder {
        let session = json!({
            "@id": self.sale_session_url, "@type": "dfc-b:SaleSession",
            "dfc-b:beginDate": "Mon Dec 16 2024 02:30:56 UTC", "dfc-b:endDate": "Tue Dec 24 2024 02:30:56 UTC",
        });
        let mut graph = vec![json!({
            "@id": order.id, "@type": "dfc-b:Order",
            "dfc-b:belongsTo": self.sale_session_url,
            "dfc-b:hasPart": order.lines.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
            "dfc-b:orderedBy": "http://test.host/api/dfc/enterprises/1003",
            "dfc-b:hasOrderStatus": order.status,
        })];
        for line in &order.lines {
            graph.push(json!({
                "@id": line.id, "@type": "dfc-b:OrderLine", "dfc-b:quantity": line.quantity,
                "dfc-b:concerns": line.offer["@id"], "dfc-b:description": "",
            }));
        }
        graph.extend(order.lines.iter().map(|l| l.offer.clone()));
        graph.extend(order.lines.iter().map(|l| l.product.clone()));
        graph.push(session);
        let body = json!({"@context": "https://www.datafoodconsortium.org", "@graph": graph});
        let (status, answer) = if order.id == self.orders_url {
            let (status, answer, _) = self.app.post(&self.orders_url, self.token, &body).await;
            (status, answer)
        } else {
            self.app.put(&order.id, self.token, &body).await
        };
        assert!(status == 200 || status == 201, "{status}: {answer}");
        let id = graph_nodes(&answer, "dfc-b:Order")[0]["@id"].as_str().expect("order id").to_owned();
        parse_order(&answer, &id)
    }

    pub async fn complete_order(&self, order: &mut OfnOrder) -> OfnOrder {
        order.status = "dfc-v:Complete".into();
        self.send_order(order).await
    }
}

fn parse_order(document: &Value, id: &str) -> OfnOrder {
    let node = graph_node(document, id).expect("the order");
    let parts: Vec<String> = match &node["dfc-b:hasPart"] {
        Value::Array(ids) => ids.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        Value::String(id) => vec![id.clone()],
        _ => Vec::new(),
    };
    let lines = parts
        .iter()
        .map(|line_id| {
            let line = graph_node(document, line_id).expect("line included");
            let offer =
                graph_node(document, line["dfc-b:concerns"].as_str().expect("offer")).expect("offer included").clone();
            let product = graph_node(document, offer["dfc-b:offeredItem"].as_str().expect("item"))
                .expect("product included")
                .clone();
            OfnLine { id: line_id.clone(), offer, product, quantity: line["dfc-b:quantity"].clone() }
        })
        .collect();
    OfnOrder { id: id.to_owned(), status: node["dfc-b:hasOrderStatus"].as_str().unwrap_or_default().to_owned(), lines }
}

fn quantities(order: &OfnOrder) -> Vec<(String, i64)> {
    let mut q: Vec<(String, i64)> = order
        .lines
        .iter()
        .map(|l| {
            let n = l.quantity.as_i64().or_else(|| l.quantity.as_str().and_then(|s| s.parse().ok())).expect("quantity");
            (l.product["dfc-b:name"].as_str().unwrap_or_default().to_owned(), n)
        })
        .collect();
    q.sort();
    q
}

#[tokio::test]
async fn an_ofn_trader_creates_amends_and_completes_its_orders_with_the_right_stock() {
    let app = spawn_app_with(|c| c.seed_file = Some(fixture("catalogue-wholesale.json"))).await;
    let can = app.product("hodmedod", "NCBB/T4").await;
    let chia = app.product("hodmedod", "OGCH/R3").await;
    let root = app.url("/api/dfc/Enterprises/hodmedod/SuppliedProducts");
    // OFN knows the producer by the retail product a shop variant is linked to.
    let ofn = OfnClient::new(&app, TOKEN_A, &format!("{root}/{}", can.id));
    assert_eq!(ofn.orders_url, app.url("/api/dfc/Enterprises/hodmedod/Orders"));

    // The offer broker finds the case of 12 by the flow ids, and back.
    let catalog = ofn.catalog().await;
    let (case_id, factor, case_offer) = catalog.best_offer(&format!("{root}/{}", can.id));
    assert_eq!(
        (case_id.as_str(), factor),
        (format!("{root}/{}", app.product("hodmedod", "NCBB/CD").await.id).as_str(), 12)
    );
    assert_eq!(case_offer["dfc-b:hasPrice"]["dfc-b:value"], 18.85);
    assert_eq!(catalog.wholesale_to_retail(&case_id), (format!("{root}/{}", can.id), 12));
    let (chia_id, factor, chia_offer) = catalog.best_offer(&format!("{root}/{}", chia.id));
    assert_eq!((chia_id.as_str(), factor), (format!("{root}/{}", chia.id).as_str(), 1), "no pack: the product itself");
    let oats_id = format!("{root}/{}", app.product("hodmedod", "OATS/SACK").await.id);
    let (_, _, oats_offer) = catalog.best_offer(&oats_id);
    let (case, chia_product, oats) = (catalog.product(&case_id), catalog.product(&chia_id), catalog.product(&oats_id));

    // A Held order of an earlier cycle, never completed.
    let mut old = ofn.build_new_order();
    ofn.find_or_build_order_line(&mut old, &chia_offer, &chia_product).quantity = json!(1);
    let old = ofn.send_order(&old).await;
    assert_eq!(app.stock("hodmedod", "OGCH/R3").await, (8, 1));

    // This cycle's backorder: two cases, three packs of chia.
    let mut order = ofn.build_new_order();
    ofn.find_or_build_order_line(&mut order, &case_offer, &case).quantity = json!(2);
    ofn.find_or_build_order_line(&mut order, &chia_offer, &chia_product).quantity = json!(3);
    let placed = ofn.send_order(&order).await;
    assert_ne!(placed.id, old.id);
    assert_eq!(app.stock("hodmedod", "NCBB/CD").await, (6, 2));
    assert_eq!(app.stock("hodmedod", "OGCH/R3").await, (8, 4));

    // A customer order changes: OFN amends the last Held order listed, which must be this one.
    let mut amended = ofn.find_last_open_order().await.expect("an open order");
    assert_eq!(amended.id, placed.id, "the newest Held order is listed last");
    ofn.find_or_build_order_line(&mut amended, &case_offer, &case).quantity = json!("3");
    ofn.find_or_build_order_line(&mut amended, &chia_offer, &chia_product).quantity = json!("1");
    // A new line named `{order}/OrderLines/3`, whatever ids the others have: it must become a
    // line of its own.
    let new_line = ofn.find_or_build_order_line(&mut amended, &oats_offer, &oats);
    new_line.quantity = json!("2");
    assert!(new_line.id.ends_with("/OrderLines/3"), "{}", new_line.id);
    let amended = ofn.send_order(&amended).await;
    assert_eq!(
        quantities(&amended),
        [
            ("Baked British Beans - Case, 12 x 400g".to_owned(), 3),
            ("Chia Seed, Organic - Retail pack, 300g".to_owned(), 1),
            ("Oat groats, sack".to_owned(), 2),
        ]
    );
    assert_eq!(app.stock("hodmedod", "NCBB/CD").await, (6, 3));
    assert_eq!(app.stock("hodmedod", "OGCH/R3").await, (8, 2));

    // The cycle closes; the chia is no longer needed: OFN drops the line, then completes.
    let mut closing = ofn.find_order(&amended.id).await;
    for line in &mut closing.lines {
        if line.product["@id"] == chia_id {
            line.quantity = json!(0);
        }
    }
    closing.lines.retain(|l| l.quantity != json!(0));
    let completed = ofn.complete_order(&mut closing).await;
    assert_eq!(completed.status, "dfc-v:Complete");
    assert_eq!(quantities(&completed).len(), 2);
    assert_eq!(app.stock("hodmedod", "NCBB/CD").await, (3, 0), "three cases sold");
    assert_eq!(app.stock("hodmedod", "OGCH/R3").await, (8, 1), "the dropped chia is not sold");

    // The old order needs nothing any more: completed with no line at all.
    let mut stale = ofn.find_order(&old.id).await;
    stale.lines.iter_mut().for_each(|l| l.quantity = json!(0));
    stale.lines.retain(|l| l.quantity != json!(0));
    let empty = ofn.complete_order(&mut stale).await;
    assert_eq!((empty.status.as_str(), empty.lines.len()), ("dfc-v:Complete", 0));
    assert_eq!(app.stock("hodmedod", "OGCH/R3").await, (8, 0), "released, never sold");
    assert!(ofn.find_last_open_order().await.is_none());
}
