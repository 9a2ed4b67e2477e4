//! `/graphql` as an attacker meets it: requests another site's page could send, bodies over the
//! limit, queries built to cost, catalogues aliased to fan out, introspection and CORS. Real
//! HTTP, coded refusals, nothing executed that was refused.

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use crate::platforms::platforms;
use crate::support::*;

const MUTATION: &str = r#"mutation { createSalesSession(input: {traderId: "hub", name: "Forged",
    beginsAt: "2024-01-01T00:00:00Z", endsAt: "2099-01-01T00:00:00Z", producerIds: []}) { id } }"#;

async fn raw(request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.expect("body");
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn with_query(url: &str, query: &str) -> reqwest::Url {
    reqwest::Url::parse_with_params(url, &[("query", query)]).expect("url")
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or("none")
}

async fn sessions_named_forged(app: &TestApp) -> usize {
    let sessions = app.graphql_ok("{ salesSessions(traderId: \"hub\") { name } }", json!({})).await;
    sessions["salesSessions"].as_array().expect("sessions").iter().filter(|s| s["name"] == "Forged").count()
}

#[tokio::test]
async fn requests_another_site_could_send_are_refused_and_json_passes() {
    let app = spawn_app_with(|c| c.seed_file = Some(fixture("trader.json"))).await;
    let url = app.url("/graphql");
    let body = json!({ "query": MUTATION }).to_string();
    let multipart =
        "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n".to_owned() + &body + "\r\n--x--\r\n";
    for (content_type, body) in [
        (Some("text/plain"), body.clone()),
        (Some("text/plain; charset=utf-8"), body.clone()),
        (Some("application/x-www-form-urlencoded"), format!("query={MUTATION}")),
        (Some("multipart/form-data; boundary=x"), multipart),
        (None, body.clone()),
    ] {
        let mut request = app.http.post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let (status, _, answer) = raw(request).await;
        assert_eq!((status, code(&answer)), (400, "CSRF_PREVENTED"), "{content_type:?}: {answer}");
    }
    // A GET that would mutate is refused even from a client that marks it preflighted.
    let (status, headers, answer) =
        raw(app.http.get(with_query(&url, MUTATION)).header("apollo-require-preflight", "true")).await;
    assert_eq!((status, code(&answer)), (405, "MUTATION_OVER_GET"), "{answer}");
    assert_eq!(headers.get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    let (status, _, answer) = raw(app.http.get(with_query(&url, MUTATION))).await;
    assert_eq!((status, code(&answer)), (400, "CSRF_PREVENTED"), "{answer}");
    assert_eq!(sessions_named_forged(&app).await, 0, "nothing refused ran");

    // A query over GET runs for a client that says so; a browser opening the page gets GraphiQL.
    let (status, _, answer) =
        raw(app.http.get(with_query(&url, "{ __typename }")).header("x-apollo-operation-name", "Probe")).await;
    assert_eq!((status, &answer["data"]), (200, &json!({"__typename": "Query"})), "{answer}");
    let page = app.http.get(&url).send().await.expect("GraphiQL");
    assert!(page.headers()[CONTENT_TYPE].to_str().expect("type").starts_with("text/html"));

    // A preflighted text/plain body runs; another media type is refused as such.
    let (status, _, answer) = raw(app
        .http
        .post(&url)
        .header(CONTENT_TYPE, "text/plain")
        .header("apollo-require-preflight", "1")
        .bearer_auth(app.operator_token().expect("token"))
        .body(body.clone()))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["data"]["createSalesSession"]["id"].is_string(), "{answer}");
    let (status, _, answer) = raw(app.http.post(&url).header(CONTENT_TYPE, "application/xml").body(body.clone())).await;
    assert_eq!((status, code(&answer)), (415, "UNSUPPORTED_MEDIA_TYPE"), "{answer}");
    let (status, _, answer) =
        raw(app.http.post(&url).header(CONTENT_TYPE, "application/json").body("{\"query\": 1}")).await;
    assert_eq!((status, code(&answer)), (400, "BAD_REQUEST"), "{answer}");
    // And the JSON every client sends, as ever.
    app.graphql_ok(MUTATION, json!({})).await;
    assert_eq!(sessions_named_forged(&app).await, 2);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_whether_their_length_is_declared_or_not() {
    let app = spawn_app().await;
    let url = app.url("/graphql");
    let padding = " ".repeat(5 * 1024 * 1024);
    let body = format!("{{\"query\": \"{{ __typename }}\"{padding}}}");
    let (status, _, answer) =
        raw(app.http.post(&url).header(CONTENT_TYPE, "application/json").body(body.clone())).await;
    assert_eq!((status, code(&answer)), (413, "PAYLOAD_TOO_LARGE"), "{answer}");
    // Sent in chunks, with no length: reading stops at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, _, answer) = raw(app.http.post(&url).header(CONTENT_TYPE, "application/json").body(streamed)).await;
    assert_eq!((status, code(&answer)), (413, "PAYLOAD_TOO_LARGE"), "{answer}");
    // Under the limit, the same request runs.
    let small = app.graphql_ok("{ __typename }", json!({})).await;
    assert_eq!(small["__typename"], "Query");
}

#[tokio::test]
async fn costly_deep_or_broken_queries_are_refused_with_codes() {
    let app = spawn_app().await;
    let aliases: String = (0..500).map(|i| format!("a{i}: orders(first: 100) {{ items {{ id }} }} ")).collect();
    let answer = app.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
    assert!(answer["data"].is_null(), "nothing executed");
    let deep = format!("{{ __type(name: \"Query\") {{ {} name {} }} }}", "ofType { ".repeat(50), "}".repeat(50));
    let answer = app.graphql(&deep, json!({})).await;
    assert_eq!(code(&answer), "QUERY_TOO_DEEP", "{answer}");
    assert_eq!(code(&app.graphql("{ orders(", json!({})).await), "GRAPHQL_PARSE_FAILED");
    assert_eq!(code(&app.graphql("{ noSuchField }", json!({})).await), "GRAPHQL_VALIDATION_FAILED");
    // What screens ask stays well inside: a full page of orders with their lines.
    app.graphql_ok(
        "{ orders(first: 100) { totalCount items { id status lines { id quantity unitPrice { amount currency } } } } }",
        json!({}),
    )
    .await;
}

/// `GET` requests a producer's proxy passed on to its DFC API.
fn dfc_reads(received: &str) -> usize {
    received.matches("GET /api/dfc/").count()
}

#[tokio::test]
async fn one_request_fetches_each_producers_catalogue_once_however_often_it_asks() {
    let p = platforms().await;
    let aliases = |n: usize| -> String {
        (0..n).map(|i| format!("c{i}: catalogue {{ offers {{ id }} errors {{ code }} }} ")).collect()
    };
    let query = |n: usize| format!("query($id: ID!) {{ salesSession(id: $id) {{ {} }} }}", aliases(n));
    let before = (dfc_reads(&p.farm_proxy.received()), dfc_reads(&p.mill_proxy.received()));
    let answer = p.trader.graphql_ok(&query(12), json!({"id": p.session})).await;
    let offers = &answer["salesSession"]["c0"]["offers"];
    assert!(!offers.as_array().expect("offers").is_empty(), "{answer}");
    assert!((1..12).all(|i| answer["salesSession"][format!("c{i}")]["offers"] == *offers), "every alias the same");
    let after = (dfc_reads(&p.farm_proxy.received()), dfc_reads(&p.mill_proxy.received()));
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1), "one catalogue fetch per producer for 12 aliases");

    // Twenty are over the budget: refused before any producer is asked.
    let answer = p.trader.graphql(&query(20), json!({"id": p.session})).await;
    assert_eq!(code(&answer), "QUERY_TOO_COMPLEX", "{answer}");
    assert_eq!((dfc_reads(&p.farm_proxy.received()), dfc_reads(&p.mill_proxy.received())), after);
    // A next request reads the catalogues afresh.
    p.trader.graphql_ok(&query(1), json!({"id": p.session})).await;
    assert_eq!((dfc_reads(&p.farm_proxy.received()), dfc_reads(&p.mill_proxy.received())), (after.0 + 1, after.1 + 1));
}

#[tokio::test]
async fn introspection_can_be_switched_off_and_browsers_come_only_from_listed_origins() {
    let app = spawn_app_with(|c| {
        c.introspection = false;
        c.cors_origins = vec!["https://shop.example".into()];
    })
    .await;
    for query in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"Query\") { name } }",
        "{ ... on Query { __schema { queryType { name } } } }",
    ] {
        let answer = app.graphql(query, json!({})).await;
        assert_eq!(code(&answer), "INTROSPECTION_DISABLED", "{answer}");
        assert!(answer["data"].is_null(), "{answer}");
    }
    // Gateways still compose from the subgraph's SDL.
    let sdl = app.graphql_ok("{ _service { sdl } }", json!({})).await;
    assert!(sdl["_service"]["sdl"].as_str().expect("sdl").contains("type Query"));

    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://shop.example").await.expect("preflight");
    assert_eq!(
        allowed.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{:?}", other.headers());

    let open = spawn_app().await;
    let answer = open.graphql_ok("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(answer["__schema"]["queryType"]["name"], "Query", "introspection is on by default");
}

/// With `[rate_limit]`, each caller (a token's subject, or an address without a token) gets
/// their burst, then `429 RATE_LIMITED` with `Retry-After`; other callers are not slowed.
#[tokio::test]
async fn a_caller_past_their_rate_limit_is_told_when_to_retry_and_others_are_not_slowed() {
    let app = spawn_app_with(|c| {
        c.seed_file = Some(fixture("trader.json"));
        c.rate_limit = Some(orderhub::http::rate_limit::RateLimitConfig { per_minute: 6, burst: Some(5) });
    })
    .await;
    let ask = |token: Option<String>| {
        let mut request = app.http.post(app.url("/graphql")).json(&json!({"query": "{ viewer { subject } }"}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        raw(request)
    };
    let ada = app.token("ada", &["customer"], &[]);
    for _ in 0..5 {
        assert_eq!(ask(ada.clone()).await.0, 200);
    }
    let (status, headers, answer) = ask(ada.clone()).await;
    assert_eq!((status, code(&answer)), (429, "RATE_LIMITED"), "{answer}");
    let retry: u64 = headers["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=10).contains(&retry), "retry after {retry} s");
    let (status, _, answer) = ask(app.token("grace", &["customer"], &[])).await;
    assert_eq!(status, 200, "another caller passes: {answer}");
    for _ in 0..5 {
        assert_eq!(ask(None).await.0, 200, "anonymous callers are counted by address");
    }
    assert_eq!(ask(None).await.0, 429);
}
