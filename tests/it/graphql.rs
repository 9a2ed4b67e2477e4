//! The subgraph: the producer's view over GraphQL, federation entities, and the SDL on disk.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn producer_sees_products_stock_and_incoming_orders() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", eggs.id), json!(2))]);
    assert_eq!(app.post(&orders, TOKEN_B, &body).await.0, 201);

    let answer = app
        .graphql(
            r#"query($id: ID!) { enterprise(id: $id) {
                name
                products { sku price { amount currency } stockManaged onHand reserved available }
                incomingOrders { id clientPlatform status fulfilmentStatus lines { quantity reserved unitPrice { amount } product { sku } } }
            } }"#,
            json!({"id": "farm"}),
        )
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let farm = &answer["data"]["enterprise"];
    let eggs_row = farm["products"].as_array().expect("products").iter().find(|p| p["sku"] == "EGGS").expect("eggs");
    assert_eq!(eggs_row["reserved"], 2);
    assert_eq!(eggs_row["available"], 3);
    assert_eq!(eggs_row["price"], json!({"amount": "2.40", "currency": "EUR"}));
    let order = &farm["incomingOrders"][0];
    assert_eq!(order["clientPlatform"], "trader-b");
    assert_eq!(order["status"], "HELD");
    assert_eq!(order["fulfilmentStatus"], "HELD");
    assert_eq!(order["lines"][0]["product"]["sku"], "EGGS");
    assert_eq!(order["lines"][0]["unitPrice"]["amount"], "2.40");

    let mill = app
        .graphql(r#"{ enterprise(id: "mill") { products { sku stockManaged onHand available } } }"#, json!({}))
        .await;
    assert_eq!(
        mill["data"]["enterprise"]["products"][0],
        json!({"sku": "FLOUR", "stockManaged": false, "onHand": null, "available": null})
    );
}

#[tokio::test]
async fn each_entity_representation_resolves_or_fails_on_its_own_place() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    let farm_staff = app.token("farm-staff", &["producer_staff"], &["farm"]);
    let other_staff = app.token("mill-staff", &["producer_staff"], &["mill"]);
    let representations = json!([
        {"__typename": "Product", "id": eggs.id.to_string()},
        {"__typename": "Product", "id": "not-a-number"},
        {"__typename": "Product"},
        {"__typename": "Product", "id": null},
        {"id": eggs.id.to_string()},
        {"__typename": "Warehouse", "id": "1"},
        "not an object",
        {"__typename": "Product", "id": "not-a-number"},
        {"__typename": "Product", "id": eggs.id.to_string()},
    ]);
    let query = r#"query($r: [_Any!]!) {
        _entities(representations: $r) { __typename ... on Product { sku available } } }"#;
    let answer = app.graphql_as(farm_staff.as_deref(), query, json!({"r": representations})).await;
    let entities = answer["data"]["_entities"].as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(entities.len(), 9, "{answer}");
    let eggs_row = json!({"__typename": "Product", "sku": "EGGS", "available": 5});
    assert_eq!(entities[0], eggs_row);
    assert_eq!(entities[8], eggs_row);
    assert!(entities[1..8].iter().all(Value::is_null), "{answer}");
    // One error per failed representation, at its place, coded, and pointing into the query.
    let errors = answer["errors"].as_array().expect("errors");
    let mut places: Vec<i64> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["path"][0], "_entities", "{e}");
            assert_eq!(e["path"].as_array().map(Vec::len), Some(2), "{e}");
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            assert!(e["locations"][0]["line"].as_i64() > Some(0), "{e}");
            e["path"][1].as_i64().expect("index")
        })
        .collect();
    places.sort_unstable();
    assert_eq!(places, vec![1, 2, 3, 4, 5, 6, 7], "{answer}");
    let message_at = |i: i64| errors.iter().find(|e| e["path"][1] == i).map(|e| e["message"].to_string());
    assert!(message_at(2).is_some_and(|m| m.contains("key `id`")), "{answer}");
    assert!(message_at(4).is_some_and(|m| m.contains("__typename")), "{answer}");
    assert!(message_at(5).is_some_and(|m| m.contains("Warehouse")), "{answer}");

    // Another producer's staff: refused at that place only, the missing id beside it is too (it
    // learns nothing), and the answer keeps its shape.
    let answer = app
        .graphql_as(
            other_staff.as_deref(),
            query,
            json!({"r": [{"__typename": "Product", "id": eggs.id.to_string()}, {"__typename": "Product", "id": "999999"}]}),
        )
        .await;
    assert_eq!(answer["data"]["_entities"], json!([null, null]), "{answer}");
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{answer}");
    for (i, error) in errors.iter().enumerate() {
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{answer}");
        assert_eq!(error["path"], json!(["_entities", i]), "{answer}");
    }
    // The operator learns that an id does not exist: null, no error.
    let answer = app.graphql(query, json!({"r": [{"__typename": "Product", "id": "999999"}]})).await;
    assert_eq!(answer, json!({"data": {"_entities": [null]}}));
}

/// The spec's error propagation: a failed nullable field is null in its place, beside the
/// others in the order asked; a null where the type forbids one nulls the nearest nullable parent.
#[tokio::test]
async fn a_field_error_nulls_that_field_alone_and_a_forbidden_null_its_nearest_nullable_parent() {
    let app = spawn_app().await;
    let answer = app.graphql(r#"{ order(id: "not-a-uuid") { id } }"#, json!({})).await;
    assert_eq!(answer["data"], json!({"order": null}), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["order"]), "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{answer}");

    // Beside other fields, in the order asked (the body's text keeps the order it was sent in).
    let body = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(app.operator_token().expect("token"))
        .json(
            &json!({"query": r#"{ z: enterprise(id: "farm") { id } order(id: "nope") { id } a: enterprises { id } }"#}),
        )
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    let (z, order, a) = (body.find("\"z\":"), body.find("\"order\":null"), body.find("\"a\":"));
    assert!(z.is_some() && z < order && order < a, "{body}");
    assert_eq!(body.matches("\"path\"").count(), 1, "one error: {body}");

    // `Customer.orders` is `[Order!]!`: refused, it nulls the customer, which may be null.
    let customer = app.token("customer-42", &["customer"], &[]);
    let answer = app
        .graphql_as(
            customer.as_deref(),
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id orders { id } } } }",
            json!({"r": [{"__typename": "Customer", "id": "customer-42"}, {"__typename": "Customer", "id": "customer-7"}]}),
        )
        .await;
    assert_eq!(answer["data"]["_entities"], json!([{"id": "customer-42", "orders": []}, null]), "{answer}");
    assert_eq!(answer["errors"].as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["_entities", 1, "orders"]), "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "FORBIDDEN", "{answer}");

    // A root field that may not be null takes `data` with it.
    let answer = app
        .graphql_as(customer.as_deref(), r#"mutation { cancelOrder(orderId: "not-a-uuid") { id } }"#, json!({}))
        .await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    assert_eq!(answer["errors"].as_array().map(Vec::len), Some(1), "{answer}");
}

/// `/metrics`: operations by name and outcome with their latency, errors by code, the outbox and
/// the connection pool, in Prometheus' text format; client-chosen names cannot grow the labels.
#[tokio::test]
async fn metrics_count_operations_errors_and_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.graphql("query Enterprises { enterprises { id } }", json!({})).await;
    }
    app.graphql(r#"query BadOrder { order(id: "nope") { id } }"#, json!({})).await;
    app.graphql("{ enterprises { id } }", json!({})).await;
    let metrics = app.metrics().await;
    let at = |name: &str| series(&metrics, name);
    assert_eq!(at(r#"orderhub_graphql_requests_total{operation="Enterprises",outcome="ok"}"#), Some(3.0), "{metrics}");
    assert_eq!(at(r#"orderhub_graphql_requests_total{operation="BadOrder",outcome="error"}"#), Some(1.0), "{metrics}");
    assert_eq!(at(r#"orderhub_graphql_requests_total{operation="anonymous",outcome="ok"}"#), Some(1.0), "{metrics}");
    assert_eq!(at(r#"orderhub_graphql_errors_total{code="BAD_USER_INPUT"}"#), Some(1.0), "{metrics}");
    assert_eq!(at(r#"orderhub_graphql_request_duration_seconds_count{operation="Enterprises"}"#), Some(3.0));
    assert_eq!(at("orderhub_outbox_depth"), Some(0.0), "{metrics}");
    assert_eq!(at("orderhub_outbox_oldest_seconds"), Some(0.0), "{metrics}");
    assert_eq!(at("orderhub_failed_producer_orders"), Some(0.0), "{metrics}");
    assert!(at("orderhub_db_pool_connections") >= Some(1.0), "{metrics}");
    assert!(at("orderhub_db_pool_idle_connections").is_some(), "{metrics}");
    assert!(metrics.contains("# TYPE orderhub_graphql_request_duration_seconds histogram"), "{metrics}");
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    // A flood of made-up operation names ends in one `other` label.
    for i in 0..orderhub::metrics::MAX_OPERATION_NAMES + 5 {
        app.graphql(&format!("query Made{i} {{ enterprises {{ id }} }}"), json!({})).await;
    }
    let metrics = app.metrics().await;
    let labels = metrics.lines().filter(|l| l.starts_with("orderhub_graphql_requests_total{")).count();
    assert!(labels <= orderhub::metrics::MAX_OPERATION_NAMES + 2, "{labels} series");
    assert!(series(&metrics, r#"orderhub_graphql_requests_total{operation="other",outcome="ok"}"#) >= Some(5.0));
}

/// Automatic persisted queries, as Apollo's clients and Router send them: an unknown hash asks for
/// the query (`PERSISTED_QUERY_NOT_FOUND`), the query with its hash is kept, then the hash alone
/// runs it, by POST or GET; a hash that is not the query's is refused; and a persisted mutation
/// never runs over GET.
#[tokio::test]
async fn persisted_queries_run_by_hash_and_never_a_mutation_over_get() {
    use sha2::{Digest, Sha256};
    let app = spawn_app_with(|c| c.seed_file = Some(fixture("trader.json"))).await;
    let token = app.operator_token().expect("token");
    let post = |body: Value| {
        let request = app.http.post(app.url("/graphql")).bearer_auth(&token).json(&body);
        async move { request.send().await.expect("sent").json::<Value>().await.expect("json") }
    };
    let hash_of = |query: &str| format!("{:x}", Sha256::digest(query.as_bytes()));
    let query = "query Farms { enterprises { id } }";
    let persisted = |hash: &str| json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    // A GET naming only the hash, as Apollo Client sends it.
    let get_by_hash = |hash: String| {
        let extensions = persisted(&hash).to_string();
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("extensions", &extensions).finish();
        let request = app
            .http
            .get(app.url(&format!("/graphql?{query}")))
            .header("accept", "application/json")
            .header("apollo-require-preflight", "true")
            .bearer_auth(&token);
        async move { request.send().await.expect("sent").json::<Value>().await.expect("json") }
    };

    let unknown = post(json!({"extensions": persisted(&hash_of(query))})).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{unknown}");
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound", "{unknown}");
    assert!(unknown.get("data").is_none(), "{unknown}");
    let registered = post(json!({"query": query, "extensions": persisted(&hash_of(query))})).await;
    let farms = registered["data"].clone();
    assert!(registered.get("errors").is_none() && farms["enterprises"][0]["id"].is_string(), "{registered}");
    let by_hash = post(json!({"extensions": persisted(&hash_of(query))})).await;
    assert_eq!(by_hash["data"], farms, "{by_hash}");
    let over_get = get_by_hash(hash_of(query)).await;
    assert_eq!(over_get["data"], farms, "{over_get}");
    let mismatch = post(json!({"query": "{ enterprises { id } }", "extensions": persisted(&hash_of(query))})).await;
    assert_eq!(mismatch["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_INVALID", "{mismatch}");

    // A mutation kept by POST is refused by GET, and does nothing there.
    let mutation = r#"mutation Open { createSalesSession(input: {traderId: "hub", name: "By hash",
        beginsAt: "2024-01-01T00:00:00Z", endsAt: "2099-01-01T00:00:00Z", producerIds: []}) { id } }"#;
    let sessions = || async {
        app.graphql(r#"{ salesSessions(traderId: "hub") { id } }"#, json!({})).await["data"]["salesSessions"].clone()
    };
    let kept = post(json!({"query": mutation, "extensions": persisted(&hash_of(mutation))})).await;
    assert!(kept["errors"].is_null(), "{kept}");
    let before = sessions().await;
    let refused = get_by_hash(hash_of(mutation)).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "MUTATION_OVER_GET", "{refused}");
    assert_eq!(sessions().await, before);
}

#[tokio::test]
async fn service_sdl_and_graphiql_are_served() {
    let app = spawn_app().await;
    let answer = app.graphql("{ _service { sdl } }", json!({})).await;
    let sdl = answer["data"]["_service"]["sdl"].as_str().expect("sdl");
    assert!(sdl.contains("@key(fields: \"id\")"), "{sdl}");

    // GraphiQL works offline: the page loads nothing from elsewhere, and every script it names is
    // served here.
    let page = app.http.get(app.url("/graphql")).header("accept", "text/html").send().await.expect("sent");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(html.contains("GraphiQL.createFetcher"));
    // It opens on an operation of this service that runs as it stands, without a token.
    let example =
        html.split("const defaultQuery = `").nth(1).and_then(|rest| rest.split('`').next()).expect("a default query");
    let answer = app.graphql_as(None, example, json!({})).await;
    assert!(answer.get("errors").is_none() && answer["data"]["salesSessions"].is_array(), "{answer}");
    assert!(!html.contains("http") && !html.contains("\"//"), "no absolute or protocol-relative URL in the page");
    let assets: Vec<&str> = html.split('"').filter(|part| part.starts_with("/graphiql/")).collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    for asset in assets {
        let response = app.http.get(app.url(asset)).send().await.expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()["content-encoding"], "gzip");
        let body = response.bytes().await.expect("asset body");
        assert!(body.len() > 1000 && body.starts_with(&[0x1f, 0x8b]), "{asset}: not a gzip stream");
    }
    assert_eq!(app.http.get(app.url("/graphiql/secrets.txt")).send().await.expect("sent").status(), 404);

    // Clients that ask for the GraphQL-over-HTTP media type get it.
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ enterprises { id } }"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["content-type"], "application/graphql-response+json");
}

/// As the GraphQL-over-HTTP spec says: a request that never ran has no `data` (and is a 400 under
/// its media type); one that ran is a 200 even when an error nulled its data; `q=0` refuses a type.
#[tokio::test]
async fn status_codes_and_media_types_follow_graphql_over_http() {
    let app = spawn_app().await;
    let ask = |accept: &'static str, query: &'static str| {
        let request = app.http.post(app.url("/graphql")).header("accept", accept).json(&json!({"query": query}));
        async move {
            let response = request.send().await.expect("sent");
            let status = response.status().as_u16();
            let media = response.headers()["content-type"].to_str().expect("type").to_owned();
            (status, media, response.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let modern = "application/graphql-response+json";
    let cases = [
        (modern, "{ enterprises { id ", 400, modern, false),
        (modern, "{ noSuchField }", 400, modern, false),
        ("application/json", "{ enterprises { id ", 200, "application/json", false),
        // Ran, and an error nulled all of its data (a non-null field the caller may not see).
        (modern, "{ consolidation(traderId: \"hub\") { traderId } }", 200, modern, true),
        (modern, "{ enterprises { id } }", 200, modern, true),
        (
            "application/graphql-response+json;q=0, application/json",
            "{ enterprises { id } }",
            200,
            "application/json",
            true,
        ),
        ("application/json;q=0.5, application/graphql-response+json", "{ enterprises { id } }", 200, modern, true),
        (
            "application/json, application/graphql-response+json;q=0.5",
            "{ enterprises { id } }",
            200,
            "application/json",
            true,
        ),
    ];
    for (accept, query, status, media, has_data) in cases {
        let (got_status, got_media, body) = ask(accept, query).await;
        assert_eq!((got_status, got_media.as_str()), (status, media), "{accept} {query}: {body}");
        assert_eq!(body.get("data").is_some(), has_data, "{accept} {query}: {body}");
    }
}

#[test]
fn schema_graphql_is_what_orderhub_schema_prints() {
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).expect("schema.graphql exists");
    assert!(on_disk == orderhub::graphql::sdl(), "schema.graphql is stale: run `cargo run -- schema > schema.graphql`");
}

/// The introspection query GraphiQL sends (graphql-js 16, all options on) must pass the depth and
/// complexity limits, or GraphiQL shows no schema.
#[tokio::test]
async fn graphiql_introspection_passes_the_query_limits() {
    let app = spawn_app().await;
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }";
    let query = format!(
        "query IntrospectionQuery {{ __schema {{ description queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }}
           types {{ ...FullType }}
           directives {{ name description isRepeatable locations args(includeDeprecated: true) {{ ...InputValue }} }} }} }}
         fragment FullType on __Type {{ kind name description specifiedByURL
           fields(includeDeprecated: true) {{ name description args(includeDeprecated: true) {{ ...InputValue }} type {{ ...TypeRef }} isDeprecated deprecationReason }}
           inputFields(includeDeprecated: true) {{ ...InputValue }} interfaces {{ ...TypeRef }}
           enumValues(includeDeprecated: true) {{ name description isDeprecated deprecationReason }} possibleTypes {{ ...TypeRef }} }}
         fragment InputValue on __InputValue {{ name description type {{ ...TypeRef }} defaultValue isDeprecated deprecationReason }}
         fragment TypeRef on __Type {{ {type_ref} }}"
    );
    let answer = app.graphql(&query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{}", answer["errors"]);
    assert!(answer["data"]["__schema"]["types"].as_array().is_some_and(|t| t.len() > 10));
}

/// The producer's view of what to prepare: grouped by trader platform, buyer and session, with
/// totals in units and in weight; cancelled orders count for nothing.
#[tokio::test]
async fn producer_sees_orders_grouped_with_totals_in_count_and_weight() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let eggs = app.product("farm", "EGGS").await;
    let orders = app.orders_url("farm");
    let line = |id: i64, q: i64| (app.offer_iri("farm", id), json!(q));
    for (token, lines) in [
        (TOKEN_A, vec![line(carrots.id, 2), line(eggs.id, 2)]),
        (TOKEN_A, vec![line(carrots.id, 1)]),
        (TOKEN_B, vec![line(carrots.id, 4)]),
    ] {
        assert_eq!(app.post(&orders, token, &order_payload(ctx_org(), &orders, None, &lines)).await.0, 201);
    }
    let (_, _, headers) =
        app.post(&orders, TOKEN_B, &order_payload(ctx_org(), &orders, None, &[line(carrots.id, 3)])).await;
    assert_eq!(app.delete(headers["location"].to_str().expect("location"), TOKEN_B).await, 204);

    let data = app
        .graphql_ok(
            r#"{ enterprise(id: "farm") { incomingOrderGroups { clientPlatform buyer orders { id } totals { name quantity weightKg } } } }"#,
            json!({}),
        )
        .await;
    let groups = data["enterprise"]["incomingOrderGroups"].as_array().expect("groups");
    let group = |platform: &str| groups.iter().find(|g| g["clientPlatform"] == platform).cloned().expect(platform);
    let a = group("trader-a");
    assert_eq!(a["orders"].as_array().map(Vec::len), Some(2));
    assert_eq!(a["buyer"], "https://trader.example/api/dfc/enterprises/1003");
    assert_eq!(
        a["totals"],
        json!([{"name": "Carrots 1 kg", "quantity": 3, "weightKg": "3"}, {"name": "Eggs, half dozen", "quantity": 2, "weightKg": null}])
    );
    let b = group("trader-b");
    assert_eq!(b["orders"].as_array().map(Vec::len), Some(1), "the cancelled order is left out");
    assert_eq!(b["totals"], json!([{"name": "Carrots 1 kg", "quantity": 4, "weightKg": "4"}]));
}

/// A JSON array is a batch (as Apollo Router's subgraph batching sends it): its operations run in
/// order, each answered on its own, at most `max_batch_operations` of them.
#[tokio::test]
async fn a_batch_runs_its_operations_in_order_each_answered_on_its_own() {
    let app = spawn_app_with(|c| c.seed_file = Some(fixture("trader.json"))).await;
    let post = |body: serde_json::Value| {
        let request = app.http.post(app.url("/graphql")).bearer_auth(app.operator_token().expect("token")).json(&body);
        async move {
            let response = request.send().await.expect("sent");
            (response.status().as_u16(), response.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let create = "mutation { createSalesSession(input: {traderId: \"hub\", name: \"Batched\", beginsAt: \"2024-01-01T00:00:00Z\", endsAt: \"2099-01-01T00:00:00Z\", producerIds: []}) { name } }";
    let (status, answers) = post(json!([
        {"query": "{ salesSessions(traderId: \"hub\") { name } }"},
        {"query": create},
        {"query": "{ salesSessions(traderId: \"hub\") { name } }"},
        {"query": "{ salesSessions(traderId: \"hub\") { name "},
    ]))
    .await;
    assert_eq!(status, 200, "{answers}");
    let answers = answers.as_array().expect("an array of answers");
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0]["data"]["salesSessions"], json!([]));
    assert_eq!(answers[1]["data"]["createSalesSession"]["name"], "Batched");
    assert_eq!(answers[2]["data"]["salesSessions"], json!([{"name": "Batched"}]), "in order");
    assert_eq!(answers[3]["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED");
    assert!(answers[3].get("data").is_none(), "an operation that never ran has no data");

    let eleven: Vec<serde_json::Value> = (0..11).map(|_| json!({"query": "{ viewer { subject } }"})).collect();
    let (status, answer) = post(json!(eleven)).await;
    assert_eq!(
        (status, answer["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("BATCH_TOO_LARGE")),
        "{answer}"
    );
    let (status, answer) = post(json!([])).await;
    assert_eq!((status, answer["errors"][0]["extensions"]["code"].as_str()), (400, Some("BAD_REQUEST")), "{answer}");
}
