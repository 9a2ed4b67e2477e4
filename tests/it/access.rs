//! Who may do what, over real HTTP: every operation of the schema, asked by each of eleven
//! callers (anonymous, two customers, staff of the trader and of another one, staff of a producer
//! and of another one, the operator, and three tokens that must not pass: expired, from an
//! unknown issuer, with a bad signature), answers as the matrix says, and a refusal is a coded
//! error that shows nothing of what it guards.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::platforms::{Platforms, platforms};
use crate::support::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Expired,
    UnknownIssuer,
    BadSignature,
    CustomerB,
    OtherTraderStaff,
    ProducerStaff,
    OtherProducerStaff,
    CustomerA,
    TraderStaff,
    Operator,
}

use Who::*;

/// Refused callers first, so that what the allowed ones change never hides a refusal.
const EVERYONE: [Who; 11] = [
    Anonymous,
    Expired,
    UnknownIssuer,
    BadSignature,
    CustomerB,
    OtherTraderStaff,
    ProducerStaff,
    OtherProducerStaff,
    CustomerA,
    TraderStaff,
    Operator,
];
const SIGNED_IN: &[Who] =
    &[CustomerB, OtherTraderStaff, ProducerStaff, OtherProducerStaff, CustomerA, TraderStaff, Operator];
const BROWSERS: &[Who] =
    &[Anonymous, CustomerB, OtherTraderStaff, ProducerStaff, OtherProducerStaff, CustomerA, TraderStaff, Operator];
const TRADER: &[Who] = &[TraderStaff, Operator];
const PRODUCER: &[Who] = &[ProducerStaff, Operator];
const OWNER: &[Who] = &[CustomerA, TraderStaff, Operator];

fn signed(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()))
        .expect("token")
}

fn token_of(app: &TestApp, who: Who) -> Option<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let customer =
        |subject: &str| json!({"iss": "orderhub-dev", "sub": subject, "scope": "customer", "exp": now + 600});
    match who {
        Anonymous => None,
        CustomerA => app.token("customer-a", &["customer"], &[]),
        CustomerB => app.token("customer-b", &["customer"], &[]),
        TraderStaff => app.token("hub-staff", &["trader_staff"], &["hub"]),
        OtherTraderStaff => app.token("other-staff", &["trader_staff"], &["other-hub"]),
        ProducerStaff => app.token("farm-staff", &["producer_staff"], &["farm"]),
        OtherProducerStaff => app.token("mill-staff", &["producer_staff"], &["mill"]),
        Operator => app.operator_token(),
        // Past the 30 s leeway.
        Expired => Some(signed(
            TEST_SECRET,
            json!({"iss": "orderhub-dev", "sub": "customer-a", "scope": "customer", "exp": now - 3_600}),
        )),
        UnknownIssuer => {
            let mut claims = customer("customer-a");
            claims["iss"] = json!("https://login.elsewhere.example");
            Some(signed(TEST_SECRET, claims))
        }
        BadSignature => Some(signed("a secret this platform never had", customer("customer-a"))),
    }
}

#[derive(Clone, Copy)]
enum On {
    Trader,
    Farm,
}

struct Op {
    /// The schema fields it exercises (`Type.field`).
    covers: &'static [&'static str],
    on: On,
    query: String,
    variables: Value,
    allowed: &'static [Who],
    /// Allowed, but with nothing to see: the answer must not hold what the operation guards.
    sees_nothing: &'static [Who],
    /// What no refusal may show (by default: the order and its customer).
    guards: Vec<String>,
}

fn op(covers: &'static [&'static str], query: &str, variables: Value, allowed: &'static [Who]) -> Op {
    Op { covers, on: On::Trader, query: query.to_owned(), variables, allowed, sees_nothing: &[], guards: Vec::new() }
}

fn at_farm(mut op: Op) -> Op {
    op.on = On::Farm;
    op
}

struct Answer {
    status: u16,
    body: Value,
}

async fn ask(app: &TestApp, token: Option<&str>, query: &str, variables: &Value) -> Answer {
    let mut request = app.http.post(app.url("/graphql")).json(&json!({"query": query, "variables": variables}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    Answer { status, body: response.json().await.expect("json") }
}

fn codes(body: &Value) -> BTreeSet<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

struct Fixture {
    p: Platforms,
    session: String,
    order: String,
    order_to_cancel: String,
    producer_order: String,
    rule: String,
    spare_session: String,
    product: String,
    incoming_order: String,
    carrots: String,
}

async fn fixture() -> Fixture {
    let p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let as_customer_a = token_of(&p.trader, CustomerA);
    let checkout = "mutation($input: CheckoutInput!) { checkout(input: $input) { id customer { id } } }";
    let mut placed = Vec::new();
    for key in ["a-1", "a-2"] {
        let input = json!({"input": {"idempotencyKey": key, "salesSessionId": p.session,
            "lines": [{"offerId": carrots, "quantity": 1}]}});
        let answer = p.trader.graphql_as(as_customer_a.as_deref(), checkout, input).await;
        assert_eq!(answer["data"]["checkout"]["customer"]["id"], "customer-a", "{answer}");
        placed.push(answer["data"]["checkout"]["id"].as_str().expect("order id").to_owned());
    }
    let producer_order = p.producer_orders().await[0]["id"].as_str().expect("producer order").to_owned();
    let rule = p
        .trader
        .graphql_ok(
            "mutation($input: DiscountRuleInput!) { createDiscountRule(input: $input) { id } }",
            json!({"input": {"traderId": "hub", "name": "5 % from 100 EUR", "currency": "EUR",
                "tiers": [{"from": "100", "percentOff": "5"}]}}),
        )
        .await["createDiscountRule"]["id"]
        .as_str()
        .expect("rule")
        .to_owned();
    let spare_session = p
        .trader
        .graphql_ok(
            "mutation($input: CreateSalesSessionInput!) { createSalesSession(input: $input) { id } }",
            json!({"input": {"traderId": "hub", "name": "Spare", "beginsAt": "2024-01-01T00:00:00Z",
                "endsAt": "2099-01-01T00:00:00Z", "producerIds": ["farm"]}}),
        )
        .await["createSalesSession"]["id"]
        .as_str()
        .expect("session")
        .to_owned();
    let farm =
        p.farm().graphql_ok("{ enterprise(id: \"farm\") { products { id } incomingOrders { id } } }", json!({})).await;
    let product = farm["enterprise"]["products"][0]["id"].as_str().expect("product").to_owned();
    let incoming_order = farm["enterprise"]["incomingOrders"][0]["id"].as_str().expect("incoming order").to_owned();
    let session = p.session.clone();
    Fixture {
        p,
        session,
        order: placed[0].clone(),
        order_to_cancel: placed[1].clone(),
        producer_order,
        rule,
        spare_session,
        product,
        incoming_order,
        carrots,
    }
}

fn operations(f: &Fixture) -> Vec<Op> {
    let rule_input = json!({"traderId": "hub", "name": "3 % from 50 EUR", "currency": "EUR",
        "tiers": [{"from": "50", "percentOff": "3"}]});
    let entity = |typename: &str, id: &str| json!({"r": [{"__typename": typename, "id": id}]});
    vec![
        op(&["Query.viewer", "Viewer.subject"], "{ viewer { subject } }", json!({}), BROWSERS),
        op(&["Query._service"], "{ _service { sdl } }", json!({}), BROWSERS),
        op(&["Query.enterprises"], "{ enterprises { id name } }", json!({}), BROWSERS),
        op(&["Query.enterprise"], "{ enterprise(id: \"hub\") { id name description } }", json!({}), BROWSERS),
        op(
            &["Query.salesSession", "SaleSession.catalogue", "SaleSession.producers"],
            "query($s: ID!) { salesSession(id: $s) { id name open catalogue { offers { id price { amount } } } producers { id } } }",
            json!({"s": f.session}),
            BROWSERS,
        ),
        op(&["Query.salesSessions"], "{ salesSessions(traderId: \"hub\") { id } }", json!({}), BROWSERS),
        op(
            &["Query.priceCart"],
            "query($s: ID!, $l: [CheckoutLineInput!]!) { priceCart(salesSessionId: $s, lines: $l) { total { amount } } }",
            json!({"s": f.session, "l": [{"offerId": f.carrots, "quantity": 2}]}),
            BROWSERS,
        ),
        op(
            &["Query._entities", "SaleSession"],
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on SaleSession { id name } } }",
            entity("SaleSession", &f.session),
            BROWSERS,
        ),
        op(
            &["Query.order", "Order.lines", "Order.reservations", "Order.customer"],
            "query($o: ID!) { order(id: $o) { id total { amount } customer { id } lines { name discount { amount } } reservations { state } } }",
            json!({"o": f.order}),
            OWNER,
        ),
        Op {
            guards: vec![f.producer_order.clone()],
            ..op(
                &["OrderLine.producerOrder"],
                "query($o: ID!) { order(id: $o) { id lines { producerOrder { id lines { quantity } } } } }",
                json!({"o": f.order}),
                TRADER,
            )
        },
        op(
            &["Query._entities", "Order"],
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id total { amount } } } }",
            entity("Order", &f.order),
            OWNER,
        ),
        Op {
            sees_nothing: &[OtherTraderStaff],
            guards: vec![f.order.clone(), f.order_to_cancel.clone()],
            ..op(
                &["Query._entities", "Customer.orders"],
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id orders { id } } } }",
                entity("Customer", "customer-a"),
                &[CustomerA, TraderStaff, Operator, OtherTraderStaff],
            )
        },
        op(&["Query.orders"], "{ orders(filter: {traderId: \"hub\"}) { totalCount items { id } } }", json!({}), TRADER),
        op(
            &["Query.orders"],
            "{ orders(filter: {customerId: \"customer-a\"}) { totalCount items { id } } }",
            json!({}),
            &[CustomerA, Operator],
        ),
        op(&["Query.consolidation"], "{ consolidation(traderId: \"hub\") { defaultMode } }", json!({}), TRADER),
        op(&["Query.carriedOverStock"], "{ carriedOverStock(traderId: \"hub\") { name kg } }", json!({}), TRADER),
        op(&["Query.unconfirmedOrders"], "{ unconfirmedOrders(traderId: \"hub\") { policy } }", json!({}), TRADER),
        op(&["Query.discountRules"], "{ discountRules(traderId: \"hub\") { id name } }", json!({}), TRADER),
        op(
            &["SaleSession.producerOrders"],
            "query($s: ID!) { salesSession(id: $s) { producerOrders { id status lines { quantity } } } }",
            json!({"s": f.session}),
            TRADER,
        ),
        at_farm(op(
            &["Enterprise.products"],
            "{ enterprise(id: \"farm\") { products { id onHand reserved } } }",
            json!({}),
            PRODUCER,
        )),
        at_farm(op(
            &["Enterprise.incomingOrders"],
            "{ enterprise(id: \"farm\") { incomingOrders { id clientPlatform lines { quantity } } } }",
            json!({}),
            PRODUCER,
        )),
        at_farm(op(
            &["Enterprise.incomingOrderGroups"],
            "{ enterprise(id: \"farm\") { incomingOrderGroups { clientPlatform totals { quantity } } } }",
            json!({}),
            PRODUCER,
        )),
        at_farm(op(
            &["Query._entities", "Product"],
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id onHand } } }",
            entity("Product", &f.product),
            PRODUCER,
        )),
        at_farm(op(
            &["Query._entities", "IncomingOrder"],
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on IncomingOrder { id lines { quantity } } } }",
            entity("IncomingOrder", &f.incoming_order),
            PRODUCER,
        )),
        op(
            &["Mutation.checkout"],
            "mutation($input: CheckoutInput!) { checkout(input: $input) { id customer { id } } }",
            json!({"input": {"idempotencyKey": "matrix-WHO", "salesSessionId": f.session, "customerId": "customer-a",
                "lines": [{"offerId": f.carrots, "quantity": 1}]}}),
            OWNER,
        ),
        op(
            &["Mutation.amendOrder"],
            "mutation($o: ID!, $l: [CheckoutLineInput!]!) { amendOrder(orderId: $o, lines: $l) { id } }",
            json!({"o": f.order, "l": [{"offerId": f.carrots, "quantity": 2}]}),
            OWNER,
        ),
        op(
            &["Mutation.markOrderPaid"],
            "mutation($o: ID!) { markOrderPaid(orderId: $o) { paymentStatus } }",
            json!({"o": f.order}),
            TRADER,
        ),
        op(
            &["Mutation.retryProducerOrder"],
            "mutation($id: ID!) { retryProducerOrder(id: $id) { id } }",
            json!({"id": f.producer_order}),
            TRADER,
        ),
        op(
            &["Mutation.setConsolidationMode"],
            "mutation { setConsolidationMode(traderId: \"hub\", mode: PER_SESSION) { defaultMode } }",
            json!({}),
            TRADER,
        ),
        op(
            &["Mutation.setUnconfirmedOrders"],
            "mutation { setUnconfirmedOrders(traderId: \"hub\", policy: null) { policy } }",
            json!({}),
            TRADER,
        ),
        op(
            &["Mutation.createDiscountRule"],
            "mutation($input: DiscountRuleInput!) { createDiscountRule(input: $input) { id } }",
            json!({"input": rule_input}),
            TRADER,
        ),
        op(
            &["Mutation.updateDiscountRule"],
            "mutation($id: ID!, $input: DiscountRuleInput!) { updateDiscountRule(id: $id, input: $input) { name } }",
            json!({"id": f.rule, "input": rule_input}),
            TRADER,
        ),
        op(
            &["Mutation.pauseDiscountRule"],
            "mutation($id: ID!) { pauseDiscountRule(id: $id) { status } }",
            json!({"id": f.rule}),
            TRADER,
        ),
        op(
            &["Mutation.resumeDiscountRule"],
            "mutation($id: ID!) { resumeDiscountRule(id: $id) { status } }",
            json!({"id": f.rule}),
            TRADER,
        ),
        op(
            &["Mutation.archiveDiscountRule"],
            "mutation($id: ID!) { archiveDiscountRule(id: $id) { status } }",
            json!({"id": f.rule}),
            TRADER,
        ),
        op(
            &["Mutation.createSalesSession"],
            "mutation($input: CreateSalesSessionInput!) { createSalesSession(input: $input) { id } }",
            json!({"input": {"traderId": "hub", "name": "Next week", "beginsAt": "2024-01-01T00:00:00Z",
                "endsAt": "2099-01-01T00:00:00Z", "producerIds": ["farm"]}}),
            TRADER,
        ),
        op(
            &["Mutation.endSalesSession"],
            "mutation($id: ID!) { endSalesSession(id: $id) { id } }",
            json!({"id": f.spare_session}),
            TRADER,
        ),
        op(
            &["Mutation.closeSalesSession"],
            "mutation($id: ID!) { closeSalesSession(id: $id) { id } }",
            json!({"id": f.spare_session}),
            TRADER,
        ),
        op(
            &["Mutation.cancelOrder"],
            "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
            json!({"o": f.order_to_cancel}),
            OWNER,
        ),
        op(
            &["Query.customerExport"],
            "{ customerExport(customerId: \"customer-a\", traderId: \"hub\") }",
            json!({}),
            OWNER,
        ),
        op(
            &["Mutation.eraseCustomer"],
            "mutation { eraseCustomer(customerId: \"customer-a\", traderId: \"hub\") { orders } }",
            json!({}),
            OWNER,
        ),
    ]
}

/// The root fields of the served schema.
fn root_fields() -> BTreeSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let document = async_graphql::parser::parse_schema(orderhub::graphql::sdl()).expect("SDL");
    let mut fields = BTreeSet::from(["Query._entities".to_owned(), "Query._service".to_owned()]);
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let name = ty.node.name.node.to_string();
        let TypeKind::Object(object) = &ty.node.kind else { continue };
        if name == "Query" || name == "Mutation" {
            fields.extend(object.fields.iter().map(|f| format!("{name}.{}", f.node.name.node)));
        }
    }
    fields
}

#[tokio::test]
async fn every_operation_answers_each_caller_as_the_matrix_says() {
    let f = fixture().await;
    let ops = operations(&f);

    let covered: BTreeSet<String> = ops.iter().flat_map(|o| o.covers.iter().map(|c| (*c).to_owned())).collect();
    let uncovered: Vec<String> = root_fields().into_iter().filter(|field| !covered.contains(field)).collect();
    assert!(uncovered.is_empty(), "operations the matrix does not ask (add a row): {uncovered:?}");

    let default_guards = vec![f.order.clone(), "customer-a".to_owned()];
    let mut wrong = Vec::new();
    let mut cells = 0;
    for op in &ops {
        let app = match op.on {
            On::Trader => &f.p.trader,
            On::Farm => f.p.farm(),
        };
        let secrets = if op.guards.is_empty() { &default_guards } else { &op.guards };
        for who in EVERYONE {
            cells += 1;
            let variables: Value =
                serde_json::from_str(&op.variables.to_string().replace("WHO", &format!("{who:?}"))).expect("variables");
            let answer = ask(app, token_of(app, who).as_deref(), &op.query, &variables).await;
            let codes = codes(&answer.body);
            let refused = codes.contains("UNAUTHENTICATED") || codes.contains("FORBIDDEN");
            let cell = format!("{:?} as {who:?}", op.covers);
            if op.allowed.contains(&who) {
                if refused || !codes.is_empty() || answer.status != 200 {
                    wrong.push(format!("{cell}: should pass, got {} {}", answer.status, answer.body));
                } else if op.sees_nothing.contains(&who) && secrets.iter().any(|s| answer.body.to_string().contains(s))
                {
                    wrong.push(format!("{cell}: should see nothing, got {}", answer.body));
                }
                continue;
            }
            let signed_in = SIGNED_IN.contains(&who);
            let expected = if signed_in { "FORBIDDEN" } else { "UNAUTHENTICATED" };
            let expected_status = if matches!(who, Expired | UnknownIssuer | BadSignature) { 401 } else { 200 };
            let text = answer.body.to_string();
            if !codes.contains(expected) || answer.status != expected_status {
                wrong.push(format!(
                    "{cell}: should be {expected_status} {expected}, got {} {}",
                    answer.status, answer.body
                ));
            } else if secrets.iter().any(|s| text.contains(s)) {
                wrong.push(format!("{cell}: the refusal shows what it guards: {text}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} cells wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert!(cells >= 11 * 41, "{cells} cells");

    // What the refused callers asked changed nothing: customer A's two orders and the three
    // checkouts allowed above, no other.
    let orders =
        f.p.trader
            .graphql_ok("{ orders(filter: {traderId: \"hub\"}, first: 100) { items { customer { id } } } }", json!({}))
            .await;
    let customers: Vec<&str> = orders["orders"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|o| o["customer"]["id"].as_str())
        .collect();
    assert_eq!(customers, vec!["customer-a"; 5], "{orders}");
    let sessions = f.p.trader.graphql_ok("{ salesSessions(traderId: \"hub\") { name } }", json!({})).await;
    assert_eq!(
        sessions["salesSessions"].as_array().map(Vec::len),
        Some(4),
        "two sessions made in the fixture, two allowed"
    );
    let rules =
        f.p.trader.graphql_ok("{ discountRules(traderId: \"hub\", includeArchived: true) { name } }", json!({})).await;
    assert_eq!(rules["discountRules"].as_array().map(Vec::len), Some(3), "{rules}");
}

/// Checking out names the customer from the token: a customer cannot order for another, a
/// trader's staff can for their own trader only.
#[tokio::test]
async fn a_checkout_is_for_the_tokens_customer() {
    let f = fixture().await;
    let checkout = "mutation($input: CheckoutInput!) { checkout(input: $input) { id customer { id } } }";
    let input = |key: &str, customer: Option<&str>| {
        let mut input = json!({"idempotencyKey": key, "salesSessionId": f.session,
            "lines": [{"offerId": f.carrots, "quantity": 1}]});
        if let Some(customer) = customer {
            input["customerId"] = json!(customer);
        }
        json!({"input": input})
    };
    let b = token_of(&f.p.trader, CustomerB);
    let own = f.p.trader.graphql_as(b.as_deref(), checkout, input("b-1", None)).await;
    assert_eq!(own["data"]["checkout"]["customer"]["id"], "customer-b", "{own}");
    let same = f.p.trader.graphql_as(b.as_deref(), checkout, input("b-2", Some("customer-b"))).await;
    assert_eq!(same["data"]["checkout"]["customer"]["id"], "customer-b", "{same}");
    let other = f.p.trader.graphql_as(b.as_deref(), checkout, input("b-3", Some("customer-a"))).await;
    assert_eq!(codes(&other), BTreeSet::from(["FORBIDDEN".to_owned()]), "{other}");
    let staff = token_of(&f.p.trader, TraderStaff);
    let unnamed = f.p.trader.graphql_as(staff.as_deref(), checkout, input("s-1", None)).await;
    assert_eq!(codes(&unnamed), BTreeSet::from(["BAD_USER_INPUT".to_owned()]), "{unnamed}");
    let named = f.p.trader.graphql_as(staff.as_deref(), checkout, input("s-2", Some("customer-c"))).await;
    assert_eq!(named["data"]["checkout"]["customer"]["id"], "customer-c", "{named}");
    // Customer B's orders are theirs to see; A's are not.
    let mine =
        f.p.trader
            .graphql_as(b.as_deref(), "{ orders(filter: {customerId: \"customer-b\"}) { totalCount } }", json!({}))
            .await;
    assert_eq!(mine["data"]["orders"]["totalCount"], 2, "{mine}");
}

/// A platform that does not let anonymous callers browse asks them to sign in first.
#[tokio::test]
async fn anonymous_browsing_can_be_switched_off() {
    let app = spawn_app_with(|c| {
        c.seed_file = Some(crate::support::fixture("trader.json"));
        c.auth.anonymous_browsing = false;
    })
    .await;
    let query = "{ salesSessions(traderId: \"hub\") { id } enterprises { id } }";
    let anonymous = app.graphql_as(None, query, json!({})).await;
    assert_eq!(codes(&anonymous), BTreeSet::from(["UNAUTHENTICATED".to_owned()]), "{anonymous}");
    let signed_in = app.graphql_as(token_of(&app, CustomerB).as_deref(), query, json!({})).await;
    assert!(signed_in.get("errors").is_none(), "{signed_in}");
}
