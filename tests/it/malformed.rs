//! Untrusted payloads: whatever a peer sends, the answer is a clear 4xx, nothing is stored and
//! no stock moves.

use serde_json::{Value, json};

use crate::support::*;

async fn assert_untouched(app: &TestApp) {
    assert_eq!(app.stock("farm", "CARROT").await, (10, 0));
    let (_, listed) = app.get(&app.orders_url("farm"), TOKEN_A).await;
    assert!(listed["@graph"].as_array().is_some_and(Vec::is_empty), "{listed}");
}

async fn post_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .http
        .post(app.orders_url("farm"))
        .bearer_auth(TOKEN_A)
        .header("content-type", "application/ld+json")
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_orders_get_clear_answers_and_change_nothing() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let offer = app.offer_iri("farm", carrots.id);
    let orders = app.orders_url("farm");
    let good = order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(2))]).to_string();

    // Truncated JSON: says it is not JSON, and where.
    let (status, body) = post_raw(&app, good[..good.len() / 2].to_owned()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_PAYLOAD");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("invalid JSON")), "{body}");
    assert!(body["error"]["path"].as_str().is_some_and(|p| p.starts_with("line 1 column")), "{body}");

    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(true))]),
            400,
            "expected a number, found a boolean",
            "dfc-b:quantity",
        ),
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!({"x": 1}))]),
            400,
            "expected a number",
            "dfc-b:quantity",
        ),
        (order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!("lots"))]), 400, "`lots`", "dfc-b:quantity"),
        (order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(-2))]), 400, "negative", "dfc-b:quantity"),
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!("1.5"))]),
            400,
            "whole number",
            "dfc-b:quantity",
        ),
        (order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(1e12))]), 400, "maximum", "dfc-b:quantity"),
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!("1e40"))]),
            400,
            "out of range",
            "dfc-b:quantity",
        ),
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), Value::Null)]),
            400,
            "no quantity",
            "dfc-b:quantity",
        ),
        (
            order_payload(
                ctx_org(),
                &orders,
                None,
                &[("https://elsewhere.example/api/dfc/enterprises/farm/offerz/1".into(), json!(1))],
            ),
            422,
            "not an offer of enterprise `farm`",
            "dfc-b:concerns",
        ),
        (
            order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", 999_999), json!(1))]),
            422,
            "not offered by this enterprise",
            "",
        ),
        (
            order_payload(
                ctx_org(),
                &orders,
                None,
                &[(app.offer_iri("mill", app.product("mill", "FLOUR").await.id), json!(1))],
            ),
            422,
            "not an offer of enterprise `farm`",
            "",
        ),
        (
            order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(1)), (offer.clone(), json!(2))]),
            422,
            "more than one line",
            "",
        ),
        (
            order_payload(ctx_org(), &orders, Some("dfc-v:Complete"), &[(offer.clone(), json!(1))]),
            422,
            "created Held",
            "",
        ),
        (
            order_payload(ctx_org(), &orders, Some("dfc-v:Shipped"), &[(offer.clone(), json!(1))]),
            400,
            "not an order state",
            "hasOrderStatus",
        ),
        (json!({"@context": ctx_org(), "@graph": []}), 400, "found none", "@graph"),
        (order_payload(ctx_org(), &orders, None, &[]), 422, "at least one line", "hasPart"),
        (order_payload(ctx_org(), &orders, None, &[(offer.clone(), json!(0))]), 422, "at least one line", "hasPart"),
        (json!({"@context": ctx_org(), "@graph": "nope"}), 400, "array of nodes", "@graph"),
        (json!([1, 2]), 400, "expected a node object", "[0]"),
        (json!("just a string"), 400, "JSON-LD object", "$"),
        (json!({"@context": ctx_org(), "@id": 5, "@type": "dfc-b:Order"}), 400, "expected a string", "@id"),
    ];
    for (payload, status, message, path) in cases {
        let (got, body, _) = app.post(&orders, TOKEN_A, &payload).await;
        assert_eq!(got, status, "{payload} -> {body}");
        let error = &body["error"];
        assert!(error["message"].as_str().is_some_and(|m| m.contains(message)), "{message:?} not in {body}");
        assert!(error["path"].as_str().unwrap_or("").contains(path), "{path:?} not in {body}");
        assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()));
    }
    assert_untouched(&app).await;
}

#[tokio::test]
async fn huge_and_deeply_nested_bodies_are_refused() {
    let app = spawn_app().await;
    // Over the 1 MiB default, with a declared length and streamed without one.
    let huge = format!("{{\"@graph\": [{}]}}", vec!["{}"; 600_000].join(","));
    let (status, body) = post_raw(&app, huge.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
    let stream = futures::stream::iter(
        huge.into_bytes().chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let (status, _) = post_raw(&app, reqwest::Body::wrap_stream(stream)).await;
    assert_eq!(status, 413);

    // Deep nesting stops at the JSON parser's limit instead of exhausting the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, body) = post_raw(&app, deep).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("INVALID_PAYLOAD")));
    let nested = format!(
        "{{\"@context\": \"https://www.datafoodconsortium.org\", \"@type\": \"dfc-b:Order\", \"dfc-b:hasPart\": {}1{}}}",
        "{\"dfc-b:x\": ".repeat(120),
        "}".repeat(120)
    );
    let (status, _) = post_raw(&app, nested).await;
    assert!(status == 400 || status == 422, "{status}");
    assert_untouched(&app).await;
}
