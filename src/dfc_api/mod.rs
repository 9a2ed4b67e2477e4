//! The producer's DFC REST API: the catalogue with stock, and the orders trader platforms place,
//! amend, complete and cancel. URLs follow Open Food Network's scheme (see [`crate::dfc::urls`]).

mod auth;
mod error;
pub mod orders;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

pub use auth::{CallingPlatform, Clients};
pub use error::ApiError;

use crate::dfc::writer;
use crate::http::AppState;
use crate::store::Product;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dfc/enterprises/{enterprise}", get(enterprise))
        .route("/api/dfc/enterprises/{enterprise}/supplied_products", get(catalogue))
        .route("/api/dfc/enterprises/{enterprise}/catalog_items", get(catalogue))
        .route("/api/dfc/enterprises/{enterprise}/supplied_products/{id}", get(supplied_product))
        .route("/api/dfc/enterprises/{enterprise}/catalog_items/{id}", get(catalog_item))
        .route("/api/dfc/enterprises/{enterprise}/offers/{id}", get(offer))
        .route("/api/dfc/enterprises/{enterprise}/orders", get(orders::list).post(orders::create))
        .route(
            "/api/dfc/enterprises/{enterprise}/orders/{id}",
            get(orders::show).put(orders::replace_handler).delete(orders::cancel),
        )
}

/// A JSON-LD answer.
pub struct JsonLd(pub axum::http::StatusCode, pub Value);

impl IntoResponse for JsonLd {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(self.1)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(writer::CONTENT_TYPE));
        response
    }
}

fn ok(value: Value) -> JsonLd {
    JsonLd(axum::http::StatusCode::OK, value)
}

/// Answers 404 unless the enterprise is hosted here.
async fn known_enterprise(state: &AppState, enterprise: &str) -> Result<(), ApiError> {
    match state.store.enterprise(enterprise).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("enterprise")),
    }
}

async fn enterprise(
    State(state): State<AppState>,
    _caller: CallingPlatform,
    Path(enterprise): Path<String>,
) -> Result<JsonLd, ApiError> {
    let found = state.store.enterprise(&enterprise).await?.ok_or(ApiError::NotFound("enterprise"))?;
    let mut node = serde_json::json!({
        "@id": state.urls.enterprise(&found.id),
        "@type": "dfc-b:Enterprise",
        "dfc-b:name": found.name,
        "dfc-b:supplies": state.urls.supplied_products(&found.id),
    });
    if let Some(description) = found.description {
        node["dfc-b:description"] = description.into();
    }
    Ok(ok(writer::one(node)))
}

async fn catalogue(
    State(state): State<AppState>,
    _caller: CallingPlatform,
    Path(enterprise): Path<String>,
) -> Result<JsonLd, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let products = state.store.products(&enterprise).await?;
    Ok(ok(writer::catalogue(&state.urls, &products)))
}

async fn one_product(state: &AppState, enterprise: &str, id: &str) -> Result<Product, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("product"))?;
    state.store.product(enterprise, id).await?.ok_or(ApiError::NotFound("product"))
}

async fn supplied_product(
    State(state): State<AppState>,
    _caller: CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<JsonLd, ApiError> {
    let product = one_product(&state, &enterprise, &id).await?;
    Ok(ok(writer::one(writer::supplied_product(&state.urls, &product))))
}

async fn catalog_item(
    State(state): State<AppState>,
    _caller: CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<JsonLd, ApiError> {
    let product = one_product(&state, &enterprise, &id).await?;
    Ok(ok(writer::one(writer::catalog_item(&state.urls, &product))))
}

async fn offer(
    State(state): State<AppState>,
    _caller: CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<JsonLd, ApiError> {
    let product = one_product(&state, &enterprise, &id).await?;
    Ok(ok(writer::one(writer::offer(&state.urls, &product))))
}
