//! Orders placed with our producers: POST creates a Held order, PUT replaces it whole (or
//! completes or cancels it), DELETE cancels it. Each calling platform sees only its own orders.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, CallingPlatform, JsonLd, known_enterprise, ok};
use crate::dfc::model::{Document, Order};
use crate::dfc::urls::{LocalResource, Profile, Urls, parse_local_resource};
use crate::dfc::{read_document, writer};
use crate::domain::discounts::{self, CartLine};
use crate::domain::{OrderStatus, Quantity};
use crate::http::AppState;
use crate::store::{IncomingOrder, LineRequest, Oldest, OrderRequest, SaleSessionInfo, Store};

/// The longest `Idempotency-Key` we keep.
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Reads the body up to the configured limit and parses it as DFC JSON-LD; also gives the body's
/// digest (what an `Idempotency-Key` is bound to).
async fn read_payload(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Document, ApiError> {
    read_payload_with_digest(state, headers, body).await.map(|(document, _)| document)
}

async fn read_payload_with_digest(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Document, String), ApiError> {
    let limit = state.max_body_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge { limit })?;
    let document = read_document(&bytes)?;
    for warning in &document.warnings {
        tracing::info!(%warning, "tolerated in payload");
    }
    Ok((document, crate::store::digest_hex(&bytes)))
}

/// The request's `Idempotency-Key`, if it sent a usable one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY => Ok(Some(key)),
        _ => Err(ApiError::InvalidPayload {
            path: "Idempotency-Key".into(),
            message: format!("the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} visible characters"),
        }),
    }
}

fn the_order(document: &Document) -> Result<&Order, ApiError> {
    match document.orders.as_slice() {
        [order] => Ok(order),
        [] => Err(ApiError::InvalidPayload {
            path: "@graph".into(),
            message: "expected a dfc-b:Order, found none".into(),
        }),
        many => Err(ApiError::InvalidPayload {
            path: "@graph".into(),
            message: format!("expected one dfc-b:Order, found {}", many.len()),
        }),
    }
}

fn parse_order_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("order"))
}

/// Turns the payload's order into a request against `enterprise`'s catalogue: each line must
/// concern one of its offers (named by the offer, or by the offered product), with a whole,
/// non-negative quantity.
fn order_request(order: &Order, enterprise: &str) -> Result<OrderRequest, ApiError> {
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let line_name = line.id.as_deref().unwrap_or("(blank node)");
        let candidates = [line.offered_item.as_deref(), line.offer_id.as_deref()];
        let product_id = candidates.into_iter().flatten().find_map(|iri| match parse_local_resource(iri, enterprise) {
            Some(LocalResource::SuppliedProduct(id) | LocalResource::Offer(id) | LocalResource::CatalogItem(id)) => {
                Some(id)
            }
            None => None,
        });
        let Some(product_id) = product_id else {
            let named = line.offer_id.as_deref().unwrap_or("nothing");
            return Err(ApiError::Unprocessable {
                code: "UNKNOWN_OFFER",
                path: Some(format!("OrderLine <{line_name}> / dfc-b:concerns")),
                message: format!("the line concerns {named}, which is not an offer of enterprise `{enterprise}`"),
            });
        };
        let raw = line.quantity.ok_or_else(|| ApiError::InvalidPayload {
            path: line.quantity_path.clone(),
            message: "the line has no quantity".into(),
        })?;
        let quantity = Quantity::try_from(raw)
            .map_err(|message| ApiError::InvalidPayload { path: line.quantity_path.clone(), message })?;
        lines.push(LineRequest {
            product_id,
            quantity,
            // A producer's own rules decide what it takes off (see `with_producer_discounts`);
            // what a client proposes is not taken.
            discount: None,
            description: line.description.clone(),
        });
    }
    let session = order.sale_session.as_ref();
    Ok(OrderRequest {
        buyer: order.ordered_by.clone(),
        order_number: order.number.clone(),
        sale_session: SaleSessionInfo {
            reference: session
                .and_then(|s| s.id.clone())
                .or_else(|| order.sale_session_id.clone())
                .filter(|r| !is_placeholder(r)),
            begin: session.and_then(|s| s.begin),
            end: session.and_then(|s| s.end),
        },
        discount: None,
        lines,
    })
}

/// Clients name what does not exist yet by a placeholder id ending in `#` (`.../SalesSession/#`).
fn is_placeholder(iri: &str) -> bool {
    iri.ends_with('#')
}

/// The producer's order rules on a parsed payload, shared by the HTTP handlers and by traders
/// hosted on this same platform (which reach their producers without HTTP). Callers have checked
/// that the enterprise exists, first, as a 404 comes before any complaint about the payload.
pub async fn place(
    store: &Store,
    urls: &Urls,
    enterprise: &str,
    client: &str,
    document: &Document,
    idempotency: Option<(&str, &str)>,
) -> Result<IncomingOrder, ApiError> {
    let order = the_order(document)?;
    match order.order_status {
        None | Some(OrderStatus::Draft | OrderStatus::Held) => {}
        Some(other) => {
            return Err(ApiError::Unprocessable {
                code: "INVALID_STATE",
                path: Some("dfc-b:Order / dfc-b:hasOrderStatus".into()),
                message: format!("a new order is created Held, not {other}"),
            });
        }
    }
    let request = order_request(order, enterprise)?;
    if request.lines.iter().all(|line| line.quantity.is_zero()) {
        return Err(ApiError::Unprocessable {
            code: "EMPTY_ORDER",
            path: Some("dfc-b:Order / dfc-b:hasPart".into()),
            message: "a new order needs at least one line with a quantity above 0".into(),
        });
    }
    let placed = store
        .place_order(enterprise, client, request, idempotency)
        .await
        .map_err(|e| ApiError::from_order_error(e, |id| urls.supplied_product(enterprise, id)))?;
    tracing::info!(order = placed.id, lines = placed.lines.len(), "order placed");
    with_producer_discounts(store, urls, enterprise, placed).await
}

/// The producer's own discount rules (use case 9: e.g. 5 % on orders over 500 EUR), applied to
/// an order it holds, as the DFC answer states them: `dfc-b:discount` on the Order (the total)
/// and on each OrderLine (its share). Worked out again on every change of the order; a cancelled
/// order keeps what it had.
async fn with_producer_discounts(
    store: &Store,
    urls: &Urls,
    enterprise: &str,
    mut order: IncomingOrder,
) -> Result<IncomingOrder, ApiError> {
    if order.status == OrderStatus::Cancelled {
        return Ok(order);
    }
    let rules = store.rules_in_force(enterprise, uuid::Uuid::nil(), chrono::Utc::now()).await?;
    let had_any = order.discount.is_some() || order.lines.iter().any(|l| l.discount.is_some());
    if rules.is_empty() && !had_any {
        return Ok(order);
    }
    let Some(currency) = order.lines.first().map(|l| l.currency) else {
        store.set_incoming_discounts(order.id, None, &[]).await?;
        order.discount = None;
        return Ok(order);
    };
    let cart: Vec<CartLine> = order
        .lines
        .iter()
        .map(|l| CartLine {
            producer: enterprise.to_owned(),
            product: urls.in_profile(Profile::Ofn).supplied_product(enterprise, l.product_id),
            quantity: l.quantity,
            unit_price: l.unit_price,
            vat_rate: l.vat_rate,
            unit_grams: l.product_size.as_ref().and_then(|(value, unit)| unit.grams(*value)),
        })
        .collect();
    let priced = discounts::price(currency, &cart, &rules);
    let total = (!priced.discount_total.is_zero()).then_some(priced.discount_total);
    let lines: Vec<(i64, Option<rust_decimal::Decimal>)> = order
        .lines
        .iter()
        .zip(&priced.lines)
        .map(|(line, p)| (line.id, (!p.discount.is_zero()).then_some(p.discount)))
        .collect();
    store.set_incoming_discounts(order.id, total, &lines).await?;
    order.discount = total;
    for (line, (_, discount)) in order.lines.iter_mut().zip(&lines) {
        line.discount = *discount;
    }
    Ok(order)
}

/// A full replacement (or a state change) of one of `client`'s orders (the enterprise checked, as
/// for [`place`]).
pub async fn replace(
    store: &Store,
    urls: &Urls,
    enterprise: &str,
    client: &str,
    id: i64,
    document: &Document,
) -> Result<IncomingOrder, ApiError> {
    let order = the_order(document)?;
    let requested = order.order_status.unwrap_or(OrderStatus::Held);
    // The line list of a PUT is the whole truth: an order without lines has none any more.
    // Open Food Network completes an order by removing the lines it no longer needs, and PUTs
    // Complete with no line at all when it needs none: what it released is never sold.
    // Cancelling releases everything whatever lines come with it.
    let request = if requested == OrderStatus::Cancelled { None } else { Some(order_request(order, enterprise)?) };
    let updated = store
        .update_order(enterprise, client, id, requested, request)
        .await
        .map_err(|e| ApiError::from_order_error(e, |pid| urls.supplied_product(enterprise, pid)))?;
    tracing::info!(order = updated.id, status = %updated.status, lines = updated.lines.len(), "order replaced");
    with_producer_discounts(store, urls, enterprise, updated).await
}

pub async fn create(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    CallingPlatform(client): CallingPlatform,
    Path(enterprise): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let key = idempotency_key(&headers)?;
    let (document, digest) = read_payload_with_digest(&state, &headers, body).await?;
    let idempotency = key.map(|k| (k, digest.as_str()));
    let urls = state.urls.in_profile(profile);
    let placed = place(&state.store, &urls, &enterprise, &client, &document, idempotency).await?;
    let location = urls.order(&enterprise, placed.id);
    let mut response = JsonLd(StatusCode::CREATED, writer::order(&urls, &placed)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

pub async fn replace_handler(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    CallingPlatform(client): CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<JsonLd, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let id = parse_order_id(&id)?;
    let document = read_payload(&state, &headers, body).await?;
    let urls = state.urls.in_profile(profile);
    let updated = replace(&state.store, &urls, &enterprise, &client, id, &document).await?;
    Ok(ok(writer::order(&urls, &updated)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    CallingPlatform(client): CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let id = parse_order_id(&id)?;
    state.store.cancel_order(&enterprise, &client, id).await.map_err(|e| {
        ApiError::from_order_error(e, |pid| state.urls.in_profile(profile).supplied_product(&enterprise, pid))
    })?;
    tracing::info!(order = id, "order cancelled");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn show(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    CallingPlatform(client): CallingPlatform,
    Path((enterprise, id)): Path<(String, String)>,
) -> Result<JsonLd, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let id = parse_order_id(&id)?;
    let order = state.store.incoming_order(&enterprise, Some(&client), id).await?.ok_or(ApiError::NotFound("order"))?;
    Ok(ok(writer::order(&state.urls.in_profile(profile), &order)))
}

/// The caller's orders, oldest first, as the Shopify app lists them: Open Food Network amends the
/// last Held order of this list, which must then be the newest.
pub async fn list(
    State(state): State<AppState>,
    Extension(profile): Extension<Profile>,
    CallingPlatform(client): CallingPlatform,
    Path(enterprise): Path<String>,
) -> Result<JsonLd, ApiError> {
    known_enterprise(&state, &enterprise).await?;
    let orders = state.store.incoming_orders(&enterprise, Some(&client), None, Oldest::First).await?;
    Ok(ok(writer::orders(&state.urls.in_profile(profile), &orders)))
}
