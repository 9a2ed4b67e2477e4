//! The producer's DFC REST API: the catalogue with stock, and the orders trader platforms place,
//! amend, complete and cancel. Every resource is served under both URL schemes (see
//! [`crate::dfc::urls`]): Open Food Network's `/api/dfc/enterprises/{e}/supplied_products` and the
//! Shopify apps' `/api/dfc/Enterprises/{e}/SuppliedProducts`; a document names its resources in
//! the scheme it was asked for, so a client that derives URLs from ids stays in its own.

mod auth;
mod error;
pub mod orders;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::Value;

pub use auth::{CallingPlatform, Clients};
pub use error::ApiError;

use crate::dfc::urls::{Profile, Urls};
use crate::dfc::writer;
use crate::http::AppState;
use crate::store::Product;

pub fn router() -> Router<AppState> {
    Profile::ALL.into_iter().fold(Router::new(), |router, profile| router.merge(routes(profile)))
}

/// The routes of one URL scheme; handlers learn which from the `Profile` extension.
fn routes(profile: Profile) -> Router<AppState> {
    // The paths are the IRIs of a placeholder enterprise with `{enterprise}` and `{id}` in them.
    let urls = Urls::new("").in_profile(profile);
    let e = "{enterprise}";
    let one = |collection: String| format!("{collection}/{{id}}");
    Router::new()
        .route(&urls.enterprise(e), get(enterprise))
        .route(&urls.supplied_products(e), get(catalogue))
        .route(&urls.catalog_items(e), get(catalogue))
        .route(&one(urls.supplied_products(e)), get(product_document))
        .route(&one(urls.catalog_items(e)), get(product_document))
        .route(&one(urls.offers(e)), get(product_document))
        .route(&urls.orders(e), get(orders::list).post(orders::create))
        .route(&one(urls.orders(e)), get(orders::show).put(orders::replace_handler).delete(orders::cancel))
        .layer(Extension(profile))
}

/// A known path asked with a method it does not take: 405, in JSON.
pub async fn no_such_method(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::NoMethod(method.to_string(), uri.path().chars().take(200).collect())
}

/// What any path that is no resource of ours answers: a 404 saying so, in JSON like every other
/// error of the API.
pub async fn no_such_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().chars().take(200).collect())
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
    Extension(profile): Extension<Profile>,
    _caller: CallingPlatform,
    Path(enterprise): Path<String>,
) -> Result<JsonLd, ApiError> {
    let found = state.store.enterprise(&enterprise).await?.ok_or(ApiError::NotFound("enterprise"))?;
    let urls = state.urls.in_profile(profile);
    let mut node = serde_json::json!({
        "@id": urls.enterprise(&found.id),
        "@type": "dfc-b:Enterprise",
        "dfc-b:name": found.name,
    });
    if let Some(description) = found.description {
        // The ontology names an agent's description `hasDescription` (a product's is `description`).
        node["dfc-b:hasDescription"] = description.into();
    }
    Ok(ok(writer::one(node)))
}

async fn catalogue(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    _caller: CallingPlatform,
    Path(enterprise): Path<String>,
) -> Result<JsonLd, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let products = state.store.products(&enterprise).await?;
    Ok(ok(writer::catalogue(&state.urls.in_profile(profile), &products)))
}

async fn one_product(state: &AppState, enterprise: &str, id: &str) -> Result<Product, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound("product"))?;
    state.store.product(enterprise, id).await?.ok_or(ApiError::NotFound("product"))
}

/// A product's SuppliedProduct, CatalogItem or Offer (they share the product's id): the same
/// self-contained document of all three, whichever was asked for.
async fn product_document(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    _caller: CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<JsonLd, ApiError> {
    let product = one_product(&state, &enterprise, &id).await?;
    Ok(ok(writer::product_document(&state.urls.in_profile(profile), &product)))
}
