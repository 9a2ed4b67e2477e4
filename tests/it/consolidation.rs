//! Consolidation across platforms: one producer order per session and producer, one per customer
//! order, or by weight in whole packs with the excess carried into later sessions; mode changes
//! regroup open orders; overlapping sessions keep their own orders.

use serde_json::{Value, json};

use crate::platforms::{Platforms, platforms, platforms_seeded};

const SET_MODE: &str = "mutation($trader: ID!, $producer: ID, $mode: ConsolidationMode) {
    setConsolidationMode(traderId: $trader, producerId: $producer, mode: $mode) {
        defaultMode producerOverrides { producer { id } mode } } }";

const PRODUCER_ORDERS: &str = "query($id: ID!) { salesSession(id: $id) { producerOrders {
    id producer { id } status deliveryState remoteId settledAt consolidationMode customerOrder { id }
    lines { productId orderedProductId name quantity neededUnits neededKg carriedOverUsedKg
            carriedOverAddedKg basis note } } } }";

impl Platforms {
    async fn set_mode(&self, producer: Option<&str>, mode: Option<&str>) -> Value {
        self.trader.graphql_ok(SET_MODE, json!({"trader": "hub", "producer": producer, "mode": mode})).await
    }

    /// The trader's producer orders of the current session with one producer.
    async fn orders_with(&self, producer: &str) -> Vec<Value> {
        let data = self.trader.graphql_ok(PRODUCER_ORDERS, json!({"id": self.session})).await;
        data["salesSession"]["producerOrders"]
            .as_array()
            .expect("producer orders")
            .iter()
            .filter(|po| po["producer"]["id"] == producer)
            .cloned()
            .collect()
    }

    async fn new_session(&mut self, name: &str) {
        let created = self
            .trader
            .graphql_ok(
                "mutation($input: CreateSalesSessionInput!) { createSalesSession(input: $input) { id } }",
                json!({"input": {"traderId": "hub", "name": name, "beginsAt": "2024-01-01T00:00:00Z",
                    "endsAt": "2099-01-01T00:00:00Z", "producerIds": ["farm", "mill"]}}),
            )
            .await;
        self.session = created["createSalesSession"]["id"].as_str().expect("session id").to_owned();
    }

    async fn close_session(&self) {
        let closed = self
            .trader
            .graphql_ok("mutation($id: ID!) { closeSalesSession(id: $id) { open } }", json!({"id": self.session}))
            .await;
        assert_eq!(closed["closeSalesSession"]["open"], false);
    }

    async fn carried_over_stock(&self) -> Value {
        let data = self
            .trader
            .graphql_ok("{ carriedOverStock(traderId: \"hub\") { producer { id } name kg plannedUseKg } }", json!({}))
            .await;
        data["carriedOverStock"].clone()
    }

    fn posts_to(&self, producer: &str) -> usize {
        let proxy = if producer == "farm" { &self.farm_proxy } else { &self.mill_proxy };
        proxy.received().matches(&format!("POST /api/dfc/enterprises/{producer}/orders ")).count()
    }
}

fn ok(checkout: &Value) -> String {
    assert!(checkout.get("errors").is_none(), "{checkout}");
    checkout["data"]["checkout"]["id"].as_str().expect("order id").to_owned()
}

#[tokio::test]
async fn ten_customer_orders_make_one_order_per_producer_with_summed_lines() {
    let p = platforms().await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(ok(&p.checkout(&format!("ten-{i}"), &[(carrots.clone(), 1), (flour.clone(), 2)]).await));
    }
    assert_eq!(
        Platforms::received_orders(p.farm(), "farm").await,
        vec![("Held".into(), vec![("Carrots 1 kg".into(), 10)])]
    );
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 500 g".into(), 20)])]
    );
    assert_eq!((p.posts_to("farm"), p.posts_to("mill")), (1, 1), "one order each, then replacements");
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 10));
    let farm_orders = p.orders_with("farm").await;
    assert_eq!(farm_orders.len(), 1);
    assert_eq!(farm_orders[0]["consolidationMode"], "PER_SESSION");
    assert_eq!(farm_orders[0]["lines"][0]["basis"], "COUNT");

    // Cancelling one reduces the quantities and the reservation at once.
    let cancel = "mutation($id: ID!) { cancelOrder(orderId: $id) { status } }";
    p.trader.graphql_ok(cancel, json!({"id": ids[3]})).await;
    assert_eq!(
        Platforms::received_orders(p.farm(), "farm").await,
        vec![("Held".into(), vec![("Carrots 1 kg".into(), 9)])]
    );
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 500 g".into(), 18)])]
    );
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 9));
    p.assert_no_personal_data();
}

#[tokio::test]
async fn per_customer_order_mode_gives_one_producer_order_each_and_a_mode_change_regroups() {
    let mut p = platforms().await;
    let set = p.set_mode(None, Some("PER_CUSTOMER_ORDER")).await;
    assert_eq!(set["setConsolidationMode"]["defaultMode"], "PER_CUSTOMER_ORDER");
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let first = ok(&p.checkout("pc-1", &[(carrots.clone(), 2), (flour.clone(), 1)]).await);
    let second = ok(&p.checkout("pc-2", &[(carrots.clone(), 3)]).await);
    let third = ok(&p.checkout("pc-3", &[(carrots.clone(), 1)]).await);

    let mut farm = Platforms::received_orders(p.farm(), "farm").await;
    farm.sort();
    assert_eq!(
        farm,
        vec![
            ("Held".into(), vec![("Carrots 1 kg".into(), 1)]),
            ("Held".into(), vec![("Carrots 1 kg".into(), 2)]),
            ("Held".into(), vec![("Carrots 1 kg".into(), 3)]),
        ]
    );
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 500 g".into(), 1)])]
    );
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 6));
    let mut gathered: Vec<String> = p
        .orders_with("farm")
        .await
        .iter()
        .map(|po| po["customerOrder"]["id"].as_str().expect("one customer order each").to_owned())
        .collect();
    gathered.sort();
    let mut expected = vec![first.clone(), second.clone(), third.clone()];
    expected.sort();
    assert_eq!(gathered, expected);

    // Cancelling one customer order cancels its producer order and nothing else.
    p.trader.graphql_ok("mutation($id: ID!) { cancelOrder(orderId: $id) { status } }", json!({"id": second})).await;
    let farm = Platforms::received_orders(p.farm(), "farm").await;
    assert_eq!(farm.iter().filter(|(s, _)| s == "Cancelled").count(), 1);
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 3));

    // Back to one order per session: the per-order ones are cancelled, one order holds the sum,
    // and the producer never holds both (its stock would not allow 2 x 3 of 10 otherwise).
    p.set_mode(None, Some("PER_SESSION")).await;
    let farm = Platforms::received_orders(p.farm(), "farm").await;
    let held: Vec<_> = farm.iter().filter(|(s, _)| s == "Held").collect();
    assert_eq!(held, vec![&("Held".to_owned(), vec![("Carrots 1 kg".to_owned(), 3)])], "{farm:?}");
    assert_eq!(farm.iter().filter(|(s, _)| s == "Cancelled").count(), 3);
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 3));
    let sessions_order: Vec<Value> =
        p.orders_with("farm").await.into_iter().filter(|po| po["status"] == "Held").collect();
    assert_eq!(sessions_order.len(), 1);
    assert!(sessions_order[0]["customerOrder"].is_null());

    // A producer's override wins over the trader's mode.
    let set = p.set_mode(Some("mill"), Some("PER_CUSTOMER_ORDER")).await;
    assert_eq!(
        set["setConsolidationMode"]["producerOverrides"],
        json!([{"producer": {"id": "mill"}, "mode": "PER_CUSTOMER_ORDER"}])
    );
    assert_eq!(p.orders_with("mill").await.iter().filter(|po| po["customerOrder"]["id"] == first.as_str()).count(), 1);
    // Settings live in the database: a restart (which loads the peers from the configuration
    // again) keeps them.
    let stopped = p.trader.stop().await;
    p.trader = stopped.start().await;
    let settings =
        p.trader.graphql_ok("{ consolidation(traderId: \"hub\") { producerOverrides { mode } } }", json!({})).await;
    assert_eq!(settings["consolidation"]["producerOverrides"], json!([{"mode": "PER_CUSTOMER_ORDER"}]));
    let cleared = p.set_mode(Some("mill"), None).await;
    assert_eq!(cleared["setConsolidationMode"]["producerOverrides"], json!([]));
    let unknown = p.trader.graphql(SET_MODE, json!({"trader": "hub", "producer": "nobody", "mode": "BY_WEIGHT"})).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "NOT_FOUND", "{unknown}");
    let settings = p
        .trader
        .graphql_ok("{ consolidation(traderId: \"hub\") { defaultMode producerOverrides { mode } } }", json!({}))
        .await;
    assert_eq!(settings["consolidation"], json!({"defaultMode": "PER_SESSION", "producerOverrides": []}));
    let nobody = p.trader.graphql("{ consolidation(traderId: \"nobody\") { defaultMode } }", json!({})).await;
    assert_eq!(nobody["errors"][0]["extensions"]["code"], "NOT_FOUND", "{nobody}");
    let cleared = p.trader.graphql(SET_MODE, json!({"trader": "hub", "producer": null, "mode": null})).await;
    assert_eq!(cleared["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "a trader always has a mode");

    // Closing completes the one live order; the regrouped ones stay cancelled.
    p.close_session().await;
    let mut states: Vec<String> =
        p.orders_with("farm").await.iter().map(|po| po["status"].as_str().expect("status").to_owned()).collect();
    states.sort();
    assert_eq!(states, ["Cancelled", "Cancelled", "Cancelled", "Complete"]);
    p.assert_no_personal_data();
}

#[tokio::test]
async fn by_weight_ten_bags_of_500_g_are_one_5_kg_line_and_unweighed_products_are_counted() {
    let p = platforms_seeded("catalogue-no-packs.json", |_| {}).await;
    p.set_mode(None, Some("BY_WEIGHT")).await;
    assert_eq!(p.orders_with("mill").await, Vec::<Value>::new(), "a regrouping without orders creates none");
    let flour = p.offer(&p.mill, "mill", p.mill.product("mill", "FLOUR").await.id);
    let eggs = p.offer(p.farm(), "farm", p.farm().product("farm", "EGGS").await.id);
    for i in 0..10 {
        ok(&p.checkout(&format!("w-{i}"), &[(flour.clone(), 1)]).await);
    }
    ok(&p.checkout("w-eggs", &[(eggs, 2)]).await);

    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 500 g".into(), 10)])]
    );
    let mill = p.orders_with("mill").await;
    assert_eq!(mill.len(), 1);
    let line = &mill[0]["lines"][0];
    assert_eq!((&line["basis"], &line["neededKg"], &line["quantity"]), (&json!("WEIGHT"), &json!("5"), &json!(10)));
    assert_eq!(line["carriedOverAddedKg"], "0");
    // The producer sees the same 5 kg in its own view.
    let groups = p
        .mill
        .graphql_ok(r#"{ enterprise(id: "mill") { incomingOrderGroups { totals { quantity weightKg } } } }"#, json!({}))
        .await;
    assert_eq!(groups["enterprise"]["incomingOrderGroups"][0]["totals"], json!([{"quantity": 10, "weightKg": "5"}]));

    let farm = p.orders_with("farm").await;
    let eggs_line = &farm[0]["lines"][0];
    assert_eq!(eggs_line["basis"], "COUNT");
    assert_eq!(eggs_line["note"], "it is sold by HalfDozen, not by weight: counted instead of weighed");
    assert_eq!(
        Platforms::received_orders(p.farm(), "farm").await,
        vec![("Held".into(), vec![("Eggs, half dozen".into(), 2)])]
    );
    p.assert_no_personal_data();
}

#[tokio::test]
async fn by_weight_a_25_kg_sack_is_ordered_whole_and_the_next_session_uses_the_excess_first() {
    let mut p = platforms().await;
    p.set_mode(Some("mill"), Some("BY_WEIGHT")).await;
    let flour = p.offer(&p.mill, "mill", p.mill.product("mill", "FLOUR").await.id);
    for i in 0..10 {
        ok(&p.checkout(&format!("s1-{i}"), &[(flour.clone(), 1)]).await);
    }
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 25 kg sack".into(), 1)])],
        "one sack, not ten bags"
    );
    let line = p.orders_with("mill").await[0]["lines"][0].clone();
    assert_eq!(
        (&line["basis"], &line["neededKg"], &line["carriedOverAddedKg"], &line["name"]),
        (&json!("PACK"), &json!("5"), &json!("20"), &json!("Flour 25 kg sack"))
    );
    assert_eq!(p.carried_over_stock().await, json!([]), "nothing is carried over before the sack is bought");
    p.close_session().await;
    assert_eq!(Platforms::received_orders(&p.mill, "mill").await[0].0, "Complete");
    assert_eq!(
        p.carried_over_stock().await,
        json!([{"producer": {"id": "mill"}, "name": "Flour 500 g", "kg": "20", "plannedUseKg": "0"}])
    );
    let settled = p.orders_with("mill").await[0].clone();
    assert!(settled["settledAt"].is_string(), "{settled}");

    // The next session's 5 kg come out of the 20 kg: the mill gets no order at all.
    p.new_session("Next week").await;
    for i in 0..10 {
        ok(&p.checkout(&format!("s2-{i}"), &[(flour.clone(), 1)]).await);
    }
    assert_eq!(Platforms::received_orders(&p.mill, "mill").await.len(), 1, "no new order at the mill");
    let line = p.orders_with("mill").await[0]["lines"][0].clone();
    assert_eq!((&line["quantity"], &line["carriedOverUsedKg"]), (&json!(0), &json!("5")));
    assert_eq!(
        p.carried_over_stock().await,
        json!([{"producer": {"id": "mill"}, "name": "Flour 500 g", "kg": "20", "plannedUseKg": "5"}])
    );
    // A settled order is final: asking to send it again changes neither it nor the stock.
    let retried = p
        .trader
        .graphql_ok(
            "mutation($id: ID!) { retryProducerOrder(id: $id) { deliveryState status } }",
            json!({"id": settled["id"]}),
        )
        .await;
    assert_eq!(retried["retryProducerOrder"], json!({"deliveryState": "DELIVERED", "status": "Complete"}));
    assert_eq!(
        p.carried_over_stock().await,
        json!([{"producer": {"id": "mill"}, "name": "Flour 500 g", "kg": "20", "plannedUseKg": "5"}])
    );
    // 20 kg more: 25 kg needed, 20 kg in stock, one new sack for the last 5 kg.
    ok(&p.checkout("s2-big", &[(flour.clone(), 40)]).await);
    let received = Platforms::received_orders(&p.mill, "mill").await;
    assert_eq!(received.len(), 2);
    assert!(received.contains(&("Held".into(), vec![("Flour 25 kg sack".into(), 1)])), "{received:?}");
    let line = p.orders_with("mill").await[0]["lines"][0].clone();
    assert_eq!((&line["carriedOverUsedKg"], &line["carriedOverAddedKg"]), (&json!("20"), &json!("20")));
    p.close_session().await;
    assert_eq!(
        p.carried_over_stock().await,
        json!([{"producer": {"id": "mill"}, "name": "Flour 500 g", "kg": "20", "plannedUseKg": "0"}])
    );
    p.assert_no_personal_data();
}

#[tokio::test]
async fn by_weight_a_lack_of_packs_is_reported_on_the_customers_line() {
    let p = platforms_seeded("catalogue-one-sack.json", |_| {}).await;
    p.set_mode(Some("mill"), Some("BY_WEIGHT")).await;
    let flour = p.offer(&p.mill, "mill", p.mill.product("mill", "FLOUR").await.id);
    for i in 0..10 {
        ok(&p.checkout(&format!("k-{i}"), &[(flour.clone(), 1)]).await);
    }
    assert_eq!(p.mill.stock("mill", "SACK").await, (1, 1));

    // 30 kg more would take a second sack, which the mill does not have. Of the one it has,
    // 20 kg (40 bags) are not needed by the other customers.
    let refused = p.checkout("k-big", &[(flour.clone(), 60)]).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "OUT_OF_STOCK", "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["shortages"],
        json!([{"line": 0, "offerId": flour, "name": "Flour 500 g (ordered in packs: Flour 25 kg sack)",
                "requested": 60, "available": "40"}])
    );
    assert_eq!(p.mill.stock("mill", "SACK").await, (1, 1), "nothing changed at the mill");
    ok(&p.checkout("k-fits", &[(flour, 40)]).await);
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 25 kg sack".into(), 1)])]
    );
    p.assert_no_personal_data();
}

#[tokio::test]
async fn two_overlapping_sessions_keep_separate_orders() {
    let mut p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let first_session = p.session.clone();
    ok(&p.checkout("o-1", &[(carrots.clone(), 2)]).await);
    p.new_session("Overlapping").await;
    ok(&p.checkout("o-2", &[(carrots.clone(), 3)]).await);

    let mut farm = Platforms::received_orders(p.farm(), "farm").await;
    farm.sort();
    assert_eq!(
        farm,
        vec![("Held".into(), vec![("Carrots 1 kg".into(), 2)]), ("Held".into(), vec![("Carrots 1 kg".into(), 3)])]
    );
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 5));

    // Closing one completes its own order only.
    p.close_session().await;
    let mut farm = Platforms::received_orders(p.farm(), "farm").await;
    farm.sort();
    assert_eq!(
        farm,
        vec![("Complete".into(), vec![("Carrots 1 kg".into(), 3)]), ("Held".into(), vec![("Carrots 1 kg".into(), 2)])]
    );
    p.session = first_session;
    ok(&p.checkout("o-3", &[(carrots, 1)]).await);
    assert!(
        Platforms::received_orders(p.farm(), "farm").await.contains(&("Held".into(), vec![("Carrots 1 kg".into(), 3)])),
        "the first session's order grew"
    );
    p.assert_no_personal_data();
}

/// The consolidation rules through the real store: random customer orders, cancellations, a
/// trader mode, a producer override and a mode change midway; every producer order of the session
/// is planned as delivery would, and what would be sent must be what the remaining orders need.
mod store_properties {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use entity::{peer, peer_offer};
    use orderhub::domain::ConsolidationMode;
    use orderhub::store::Store;
    use orderhub::store::trader::{NewCustomerOrder, NewLine, Recorded};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use crate::support::TestDb;

    /// `(value, DFC unit)` of one unit, and `(product, units)` a pack holds.
    type Size = Option<(&'static str, &'static str)>;
    type PackOf = Option<(&'static str, i64)>;

    /// `(producer, product, size of a unit, pack of)`.
    const PRODUCTS: [(&str, &str, Size, PackOf); 4] = [
        ("mill", "flour", Some(("500", "Gram")), None),
        ("mill", "sack", Some(("25", "Kilogram")), Some(("flour", 50))),
        ("farm", "carrots", Some(("1", "Kilogram")), None),
        ("farm", "eggs", Some(("1", "HalfDozen")), None),
    ];

    #[derive(Clone, Debug)]
    struct Case {
        orders: Vec<(Vec<(usize, i64)>, bool)>,
        first_mode: ConsolidationMode,
        final_mode: ConsolidationMode,
        mill_override: Option<ConsolidationMode>,
    }

    fn mode() -> impl Strategy<Value = ConsolidationMode> {
        proptest::sample::select(ConsolidationMode::ALL.to_vec())
    }

    fn case() -> impl Strategy<Value = Case> {
        let orders = proptest::collection::vec(
            (proptest::collection::vec((0..PRODUCTS.len(), 1i64..40), 1..4), proptest::bool::weighted(0.3)),
            1..10,
        );
        (orders, mode(), mode(), proptest::option::of(mode())).prop_map(
            |(orders, first_mode, final_mode, mill_override)| Case { orders, first_mode, final_mode, mill_override },
        )
    }

    async fn seed(store: &Store) {
        store.upsert_enterprise("hub", "Hub", None).await.expect("trader");
        for producer in ["mill", "farm"] {
            let model = peer::Model {
                id: producer.into(),
                trader_enterprise_id: "hub".into(),
                name: producer.into(),
                base_url: "http://127.0.0.1:9".into(),
                enterprise: producer.into(),
                timeout_ms: 1_000,
                consolidation_mode: None,
                url_scheme: None,
                updated_at: Utc::now(),
            };
            store.upsert_peer(model).await.expect("peer");
            let offers = PRODUCTS
                .iter()
                .filter(|p| p.0 == producer)
                .map(|(_, product, unit, pack)| peer_offer::Model {
                    peer_id: producer.into(),
                    product_iri: (*product).into(),
                    offer_iri: format!("{product}-offer"),
                    name: (*product).into(),
                    sku: None,
                    price: "1".into(),
                    currency: "EUR".into(),
                    vat_rate: "0".into(),
                    unit_value: unit.map(|u| u.0.to_owned()),
                    unit_code: unit.map(|u| u.1.to_owned()),
                    available: None,
                    pack_of: pack.map(|p| p.0.to_owned()),
                    pack_units: pack.map(|p| p.1),
                    fetched_at: Utc::now(),
                })
                .collect();
            store.replace_peer_offers(producer, offers).await.expect("offers");
        }
    }

    /// What one producer's orders must say in all: `(product, offer) -> units`.
    fn expected(case: &Case, producer: &str) -> BTreeMap<(String, String), i64> {
        let mode = match producer {
            "mill" => case.mill_override.unwrap_or(case.final_mode),
            _ => case.final_mode,
        };
        let mut units: BTreeMap<usize, i64> = BTreeMap::new();
        for (lines, _) in case.orders.iter().filter(|(_, cancelled)| !cancelled) {
            for (product, quantity) in lines.iter().filter(|(p, _)| PRODUCTS[*p].0 == producer) {
                *units.entry(*product).or_default() += quantity;
            }
        }
        let mut sent = BTreeMap::new();
        for (product, quantity) in units {
            let name = PRODUCTS[product].1;
            let (ordered, quantity) = match (mode, name) {
                // 500 g bags in 25 kg sacks: whole sacks.
                (ConsolidationMode::ByWeight, "flour") => ("sack", (quantity * 500 + 24_999) / 25_000),
                _ => (name, quantity),
            };
            *sent.entry((ordered.to_owned(), format!("{ordered}-offer"))).or_insert(0) += quantity;
        }
        sent
    }

    async fn check(store: &Store, case: Case) -> Result<(), TestCaseError> {
        let far = Utc::now() + chrono::Duration::days(1);
        let producers = ["mill".to_owned(), "farm".to_owned()];
        let session = store
            .create_sales_session("hub", "Property", Utc::now(), far, &producers)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let fail = |e: orderhub::store::StoreError| TestCaseError::fail(e.to_string());
        store.set_consolidation_mode("hub", None, Some(case.first_mode), far).await.map_err(fail)?;
        store.set_consolidation_mode("hub", Some("mill"), case.mill_override, far).await.map_err(fail)?;
        let mut placed = Vec::new();
        for (i, (lines, _)) in case.orders.iter().enumerate() {
            let lines = lines
                .iter()
                .map(|(p, quantity)| NewLine {
                    peer_id: PRODUCTS[*p].0.into(),
                    product_iri: PRODUCTS[*p].1.into(),
                    offer_iri: format!("{}-offer", PRODUCTS[*p].1),
                    name: PRODUCTS[*p].1.into(),
                    quantity: *quantity,
                    unit_price: "1".into(),
                    currency: "EUR".into(),
                    vat_rate: "0".into(),
                    discount: None,
                })
                .collect();
            let order = NewCustomerOrder {
                trader: "hub".into(),
                session_id: session.id,
                customer_id: format!("c{i}"),
                idempotency_key: format!("{}-{i}", session.id),
                request_digest: String::new(),
                contact_name: None,
                contact_email: None,
                delivery_address: None,
                total: "0".into(),
                currency: "EUR".into(),
                discounts: None,
                lines,
            };
            match store.record_checkout(order, far).await.map_err(fail)? {
                Recorded::New { order, .. } => placed.push(order.id),
                Recorded::Existing(_) => return Err(TestCaseError::fail("a fresh key found an order")),
            }
        }
        for (id, (_, cancelled)) in placed.iter().zip(&case.orders) {
            if *cancelled {
                store.cancel_customer_order(*id, far).await.map_err(fail)?;
            }
        }
        store.set_consolidation_mode("hub", None, Some(case.final_mode), far).await.map_err(fail)?;

        let mut sent: BTreeMap<String, BTreeMap<(String, String), i64>> = BTreeMap::new();
        for order in store.producer_orders_of_session(session.id).await.map_err(fail)? {
            let plan = store.producer_order_plan(order.id).await.map_err(fail)?.expect("a plan");
            for line in &plan.lines {
                prop_assert!(line.quantity >= 0 && line.needed_units > 0, "{line:?}");
            }
            if let Ok(customer_order) = uuid::Uuid::parse_str(&order.group_key) {
                let index = placed.iter().position(|id| *id == customer_order).expect("one of ours");
                let needed: i64 =
                    case.orders[index].0.iter().filter(|(p, _)| PRODUCTS[*p].0 == order.peer_id).map(|l| l.1).sum();
                let planned: i64 = plan.lines.iter().map(|l| l.needed_units).sum();
                prop_assert!(planned == needed || planned == 0, "a customer order's producer order holds it alone");
            }
            let of_producer = sent.entry(order.peer_id.clone()).or_default();
            for (key, quantity) in plan.sent_lines() {
                *of_producer.entry(key).or_default() += quantity;
            }
        }
        for producer in &producers {
            prop_assert_eq!(sent.remove(producer).unwrap_or_default(), expected(&case, producer), "{}", producer);
        }
        // Closed, so that later cases do not regroup this session again.
        store.claim_session_closing(session.id, Utc::now()).await.map_err(fail)?;
        Ok(())
    }

    #[test]
    fn sent_quantities_are_what_the_remaining_orders_need_through_the_store() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let (_db, store) = runtime.block_on(async {
            let (db, url) = TestDb::fresh().await;
            let store = Store::connect(&url).await.expect("connect");
            store.migrate().await.expect("migrate");
            seed(&store).await;
            (db, store)
        });
        let mut runner = TestRunner::new(Config { cases: 64, ..Config::default() });
        let outcome = runner.run(&case(), |case| runtime.block_on(check(&store, case)));
        drop(store);
        outcome.expect("consolidation through the store");
    }
}

/// The migration that keeps what producers hold as a sum fills it from the orders as they are:
/// orders placed before parts existed count as held (and get their parts), a waiting part and a
/// cancelled order do not, and the check then finds no drift.
#[tokio::test]
async fn the_held_sums_migration_counts_what_producers_held_before_it() {
    use entity::{customer_order, customer_order_line, held_demand, order_part, sales_session};
    use migration::MigratorTrait;
    use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
    let (_db, url) = crate::support::TestDb::fresh().await;
    let store = orderhub::store::Store::connect(&url).await.expect("store");
    // Every migration before the one that adds `held_demand`.
    let before = migration::Migrator::migrations().len() as u32 - 1;
    migration::Migrator::up(store.db(), Some(before)).await.expect("earlier migrations");
    store.upsert_enterprise("hub", "Hub", None).await.expect("enterprise");
    let (now, session) = (chrono::Utc::now(), uuid::Uuid::new_v4());
    sales_session::Entity::insert(sales_session::ActiveModel {
        id: Set(session),
        enterprise_id: Set("hub".into()),
        name: Set("Week".into()),
        begins_at: Set(now - chrono::Duration::days(1)),
        ends_at: Set(now + chrono::Duration::days(6)),
        closed_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(store.db())
    .await
    .expect("session");
    let order = |status: &str| {
        let id = uuid::Uuid::new_v4();
        customer_order::ActiveModel {
            id: Set(id),
            trader_enterprise_id: Set("hub".into()),
            sales_session_id: Set(session),
            customer_id: Set("customer-1".into()),
            idempotency_key: Set(id.to_string()),
            request_digest: Set(String::new()),
            contact_name: Set(None),
            contact_email: Set(None),
            delivery_address: Set(None),
            status: Set(status.into()),
            payment_status: Set("Unpaid".into()),
            total: Set("0.00".into()),
            currency: Set("EUR".into()),
            discounts: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    };
    let line = |order: uuid::Uuid, peer: &str, quantity: i64| customer_order_line::ActiveModel {
        order_id: Set(order),
        peer_id: Set(peer.into()),
        product_iri: Set(format!("https://{peer}.example/products/1")),
        offer_iri: Set(format!("https://{peer}.example/offers/1")),
        name: Set(format!("{peer} product")),
        quantity: Set(quantity),
        unit_price: Set("1.80".into()),
        currency: Set("EUR".into()),
        vat_rate: Set("5.5".into()),
        discount: Set(None),
        ..Default::default()
    };
    let (legacy, waiting, cancelled) = (order("ACTIVE"), order("ACTIVE"), order("CANCELLED"));
    let ids = [&legacy, &waiting, &cancelled].map(|o| *o.id.as_ref());
    customer_order::Entity::insert_many([legacy, waiting, cancelled])
        .exec_without_returning(store.db())
        .await
        .expect("orders");
    customer_order_line::Entity::insert_many([
        line(ids[0], "farm", 2),
        line(ids[0], "mill", 1),
        line(ids[1], "farm", 3),
        line(ids[2], "farm", 5),
    ])
    .exec_without_returning(store.db())
    .await
    .expect("lines");
    order_part::Entity::insert(order_part::ActiveModel {
        order_id: Set(ids[1]),
        peer_id: Set("farm".into()),
        state: Set("PENDING".into()),
        queued_version: Set(1),
        shortages: Set(None),
        fallback_lines: Set(None),
        reason: Set(None),
        updated_at: Set(now),
    })
    .exec_without_returning(store.db())
    .await
    .expect("part");

    store.migrate().await.expect("the held sums migration");
    let held: Vec<(String, i64)> = held_demand::Entity::find()
        .order_by_asc(held_demand::Column::PeerId)
        .all(store.db())
        .await
        .expect("held")
        .into_iter()
        .map(|h| (h.peer_id, h.quantity))
        .collect();
    assert_eq!(held, [("farm".to_owned(), 2), ("mill".to_owned(), 1)], "only the order placed before parts is held");
    let parts = store.order_parts(&ids).await.expect("parts");
    let states: Vec<(uuid::Uuid, &str, &str)> =
        parts.iter().map(|p| (p.order_id, p.peer_id.as_str(), p.state.as_str())).collect();
    assert!(
        states.contains(&(ids[0], "farm", "RESERVED")) && states.contains(&(ids[0], "mill", "RESERVED")),
        "{states:?}"
    );
    assert!(states.contains(&(ids[1], "farm", "PENDING")), "{states:?}");
    assert!(parts.iter().all(|p| p.order_id != ids[2]), "a cancelled order gets no part: {states:?}");
    assert_eq!(store.held_demand_drift().await.expect("drift"), []);
}
