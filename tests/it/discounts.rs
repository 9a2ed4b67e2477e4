//! Sales-based discounts (use case 9) through the subgraph, over real HTTP between a trader and
//! its producers: rules as trader staff manage them, checkout and amendment priced with the rules
//! in force, a preview that equals what checkout charges, placed orders that keep what they were
//! given, and producers that never see the customer's discounts.

use serde_json::{Value, json};

use crate::platforms::{Platforms, platforms};

const CREATE: &str = "mutation($input: DiscountRuleInput!) { createDiscountRule(input: $input) {
    id name status currency priority combination metric scope scopeIds tiers { from percentOff amountOff } cap { amount } } }";

const ORDER_FIELDS: &str =
    "id subtotal { amount currency } discounts { rule name amount { amount } } discountTotal { amount }
    vat { rate base { amount } amount { amount } } total { amount currency }
    lines { name quantity gross { amount } discount { amount } net { amount } vat { amount } total { amount } }";

fn rule_input(name: &str, tiers: Value) -> Value {
    json!({"traderId": "hub", "name": name, "currency": "EUR", "tiers": tiers})
}

async fn create_rule(p: &Platforms, input: Value) -> Value {
    p.trader.graphql(CREATE, json!({"input": input})).await
}

async fn checkout(p: &Platforms, key: &str, lines: &[(String, i64)]) -> Value {
    let query = format!("mutation($input: CheckoutInput!) {{ checkout(input: $input) {{ {ORDER_FIELDS} }} }}");
    let answer = p.checkout_at(&p.trader, &query, key, lines).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"]["checkout"].clone()
}

async fn order(p: &Platforms, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}");
    p.trader.graphql_ok(&query, json!({"id": id})).await["order"].clone()
}

async fn preview(p: &Platforms, lines: &[(String, i64)]) -> Value {
    let lines: Vec<Value> = lines.iter().map(|(offer, q)| json!({"offerId": offer, "quantity": q})).collect();
    let data = p
        .trader
        .graphql_ok(
            "query($session: ID!, $lines: [CheckoutLineInput!]!) { priceCart(salesSessionId: $session, lines: $lines) {
                subtotal { amount } discounts { rule name amount { amount } } discountTotal { amount }
                vat { rate base { amount } amount { amount } } total { amount currency }
                lines { offerId gross { amount } discount { amount } net { amount } total { amount } }
                nextDiscounts { name missing missingAmount { amount currency } tier { percentOff } } } }",
            json!({"session": p.session, "lines": lines}),
        )
        .await;
    data["priceCart"].clone()
}

fn amount(value: &Value) -> &str {
    value["amount"].as_str().unwrap_or_else(|| panic!("an amount in {value}"))
}

/// Lines add up to the order, to the cent.
fn assert_adds_up(order: &Value) {
    let sum = |field: &str| -> rust_decimal::Decimal {
        order["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| amount(&l[field]).parse::<rust_decimal::Decimal>().expect("decimal"))
            .sum()
    };
    let d = |v: &Value| amount(v).parse::<rust_decimal::Decimal>().expect("decimal");
    assert_eq!(sum("gross"), d(&order["subtotal"]), "{order}");
    assert_eq!(sum("discount"), d(&order["discountTotal"]), "{order}");
    assert_eq!(sum("total"), d(&order["total"]), "{order}");
}

#[tokio::test]
async fn a_qualifying_checkout_is_discounted_and_keeps_it_until_amended_below_the_threshold() {
    let p = platforms().await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let created = create_rule(&p, rule_input("5 % from 20 EUR", json!([{"from": "20", "percentOff": "5"}]))).await;
    assert!(created.get("errors").is_none(), "{created}");
    let rule = &created["data"]["createDiscountRule"];
    assert_eq!((rule["status"].as_str(), rule["metric"].as_str()), (Some("ACTIVE"), Some("ORDER_VALUE_EXCL_VAT")));

    // 10 flour (13.50) and 3 carrots (5.40): 18.90, 1.10 short of the discount.
    let short = preview(&p, &[(flour.clone(), 10), (carrots.clone(), 3)]).await;
    assert_eq!(amount(&short["discountTotal"]), "0.00");
    assert_eq!(amount(&short["total"]), "19.94");
    assert_eq!(short["nextDiscounts"][0]["missingAmount"], json!({"amount": "1.10", "currency": "EUR"}));
    assert_eq!(short["nextDiscounts"][0]["tier"]["percentOff"], "5");

    // 20 flour and 3 carrots: 32.40, 5 % off = 1.62; VAT 5.5 % of 30.78 = 1.69; total 32.47.
    let lines = [(flour.clone(), 20), (carrots.clone(), 3)];
    let priced = preview(&p, &lines).await;
    let placed = checkout(&p, "discounted", &lines).await;
    assert_eq!(amount(&placed["subtotal"]), "32.40");
    assert_eq!(amount(&placed["discountTotal"]), "1.62");
    assert_eq!(placed["discounts"][0]["name"], "5 % from 20 EUR");
    assert_eq!(placed["vat"], json!([{"rate": "5.5", "base": {"amount": "30.78"}, "amount": {"amount": "1.69"}}]));
    assert_eq!(placed["total"], json!({"amount": "32.47", "currency": "EUR"}));
    assert_adds_up(&placed);
    for field in ["subtotal", "discountTotal", "total"] {
        assert_eq!(amount(&priced[field]), amount(&placed[field]), "the preview is what checkout charges: {field}");
    }
    assert_eq!(priced["vat"], placed["vat"]);

    // The rule changes: the placed order keeps what it was given.
    let id = rule["id"].as_str().expect("rule id");
    let edited = p
        .trader
        .graphql(
            "mutation($id: ID!, $input: DiscountRuleInput!) { updateDiscountRule(id: $id, input: $input) { name } }",
            json!({"id": id, "input": rule_input("10 % from 20 EUR", json!([{"from": "20", "percentOff": "10"}]))}),
        )
        .await;
    assert!(edited.get("errors").is_none(), "{edited}");
    let order_id = placed["id"].as_str().expect("order id");
    let kept = order(&p, order_id).await;
    assert_eq!((amount(&kept["discountTotal"]), amount(&kept["total"])), ("1.62", "32.47"));
    assert_eq!(kept["discounts"][0]["name"], "5 % from 20 EUR");

    // Amended below the threshold: the discount goes.
    let amended = p
        .trader
        .graphql(
            &format!("mutation($id: ID!, $lines: [CheckoutLineInput!]!) {{ amendOrder(orderId: $id, lines: $lines) {{ {ORDER_FIELDS} }} }}"),
            json!({"id": order_id, "lines": [{"offerId": flour, "quantity": 10}, {"offerId": carrots, "quantity": 3}]}),
        )
        .await;
    assert!(amended.get("errors").is_none(), "{amended}");
    let amended = &amended["data"]["amendOrder"];
    assert_eq!((amount(&amended["discountTotal"]), amount(&amended["total"])), ("0.00", "19.94"));
    assert_eq!(amended["discounts"], json!([]));
    assert_adds_up(amended);

    // Producers are sent quantities at their own prices, never the customer's discounts.
    for (name, proxy) in [("farm", &p.farm_proxy), ("mill", &p.mill_proxy)] {
        let seen = proxy.received();
        assert!(!seen.contains("discount") && !seen.contains("% from"), "{name} saw the customer's discount");
    }
    p.assert_no_personal_data();
}

#[tokio::test]
async fn rules_that_could_never_apply_are_refused_with_the_field_at_fault() {
    let p = platforms().await;
    // The trader's producers price in EUR once their catalogues are known.
    p.trader
        .graphql_ok(
            "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } } } }",
            json!({"id": p.session}),
        )
        .await;
    for (input, field) in [
        (rule_input("Too much", json!([{"from": "0", "percentOff": "150"}])), "tiers"),
        (rule_input("Negative", json!([{"from": "0", "amountOff": "-2"}])), "tiers"),
        (
            rule_input("Overlap", json!([{"from": "100", "percentOff": "5"}, {"from": "50", "percentOff": "3"}])),
            "tiers",
        ),
        (
            json!({"traderId": "hub", "name": "Pounds", "currency": "GBP", "tiers": [{"from": "0", "percentOff": "5"}]}),
            "currency",
        ),
        (rule_input("", json!([{"from": "0", "percentOff": "5"}])), "name"),
    ] {
        let answer = create_rule(&p, input.clone()).await;
        let error = &answer["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{input}: {answer}");
        assert_eq!(error["extensions"]["field"], field, "{input}: {answer}");
    }
    let two_effects =
        create_rule(&p, rule_input("Both", json!([{"from": "0", "percentOff": "5", "amountOff": "1"}]))).await;
    assert_eq!(two_effects["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let listed = p.trader.graphql_ok("{ discountRules(traderId: \"hub\") { id } }", json!({})).await;
    assert_eq!(listed["discountRules"], json!([]), "nothing refused was kept");
}

#[tokio::test]
async fn paused_and_archived_rules_do_not_apply() {
    let p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let created = create_rule(&p, rule_input("1 EUR off", json!([{"from": "0", "amountOff": "1"}]))).await;
    let id = created["data"]["createDiscountRule"]["id"].as_str().expect("id").to_owned();
    assert_eq!(amount(&preview(&p, &[(carrots.clone(), 2)]).await["discountTotal"]), "1.00");
    let status = |op: &str| format!("mutation($id: ID!) {{ {op}(id: $id) {{ status }} }}");
    p.trader.graphql_ok(&status("pauseDiscountRule"), json!({"id": id})).await;
    assert_eq!(amount(&preview(&p, &[(carrots.clone(), 2)]).await["discountTotal"]), "0.00");
    p.trader.graphql_ok(&status("resumeDiscountRule"), json!({"id": id})).await;
    assert_eq!(amount(&preview(&p, &[(carrots.clone(), 2)]).await["discountTotal"]), "1.00");
    p.trader.graphql_ok(&status("archiveDiscountRule"), json!({"id": id})).await;
    assert_eq!(amount(&preview(&p, &[(carrots, 2)]).await["discountTotal"]), "0.00");
    let listed = p.trader.graphql_ok("{ discountRules(traderId: \"hub\") { id } }", json!({})).await;
    assert_eq!(listed["discountRules"], json!([]));
    let all =
        p.trader.graphql_ok("{ discountRules(traderId: \"hub\", includeArchived: true) { status } }", json!({})).await;
    assert_eq!(all["discountRules"], json!([{"status": "ARCHIVED"}]));
    let revived = p.trader.graphql(&status("resumeDiscountRule"), json!({"id": id})).await;
    assert_eq!(revived["errors"][0]["extensions"]["code"], "RULE_ARCHIVED");
}

/// A producer hosted here has rules of its own for the traders that order from it: its DFC
/// answers carry `dfc-b:discount` on the Order and each OrderLine, worked out again on every
/// change, and the trader sees them on its producer order: what it will pay.
#[tokio::test]
async fn a_producers_own_rule_is_on_its_dfc_answers_and_the_traders_producer_order() {
    let p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let rule = json!({"traderId": "farm", "name": "5 % from 5 EUR", "currency": "EUR",
        "tiers": [{"from": "5", "percentOff": "5"}]});
    let created = p.farm().graphql(CREATE, json!({"input": rule})).await;
    assert!(created.get("errors").is_none(), "{created}");

    // 3 carrots at 1.80: 5.40, 5 % = 0.27.
    checkout(&p, "three", &[(carrots.clone(), 3)]).await;
    let producer_discount = |pos: &[Value]| {
        let farm = pos.iter().find(|po| po["producer"]["id"] == "farm").expect("farm order").clone();
        (farm["discount"].clone(), farm["lines"][0]["discount"].clone())
    };
    let query =
        "query($id: ID!) { salesSession(id: $id) { producerOrders { producer { id } discount lines { discount } } } }";
    let pos = p.trader.graphql_ok(query, json!({"id": p.session})).await;
    let pos = pos["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default();
    assert_eq!(producer_discount(&pos), (json!("0.27"), json!("0.27")));
    let (_, listed) = p.farm().get(&p.farm().orders_url("farm"), crate::platforms::HUB_TOKEN).await;
    let order = listed["@graph"].as_array().expect("graph").iter().find(|n| n["@type"] == "dfc-b:Order").cloned();
    assert_eq!(order.expect("the order")["dfc-b:discount"], 0.27);

    // Another customer: 4 carrots, 7.20, 0.36, on the next PUT.
    checkout(&p, "one-more", &[(carrots, 1)]).await;
    let pos = p.trader.graphql_ok(query, json!({"id": p.session})).await;
    let pos = pos["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default();
    assert_eq!(producer_discount(&pos), (json!("0.36"), json!("0.36")));
    // The mill has no rule: nothing off.
    let mill = pos.iter().find(|po| po["producer"]["id"] == "mill");
    assert!(mill.is_none_or(|m| m["discount"] == json!("0")), "{mill:?}");
    // What the trader sends carries no discount at all.
    assert!(!p.farm_proxy.received().contains("dfc-b:discount"));
}
