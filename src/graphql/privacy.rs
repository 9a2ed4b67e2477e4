//! A customer's rights over their personal data (GDPR, use case 2): an export of everything kept
//! about them, and erasure of their contact details, recorded without them.
//!
//! The customer themselves may export and erase (all their orders, at every trader here); a
//! trader's staff may for that trader's orders (`traderId`); an operator for any.

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::access::{self, TRADER_STAFF};
use super::store_error;
use super::trader::{coded, store};

#[derive(Default)]
pub struct PrivacyQuery;

#[derive(Default)]
pub struct PrivacyMutation;

/// Whose data, and at which trader: the customer's own (`customerId` left out or theirs), or as
/// staff of `traderId`, or as operator.
fn scope(ctx: &Context<'_>, customer_id: Option<&ID>, trader_id: Option<&ID>) -> Result<(String, Option<String>)> {
    let identity = access::caller(ctx)?;
    let customer = match customer_id {
        Some(id) => id.to_string(),
        None if identity.roles.contains(access::CUSTOMER) => identity.subject.clone(),
        None => return Err(coded("name the customer (`customerId`)", "BAD_USER_INPUT")),
    };
    let trader = trader_id.map(|t| t.to_string());
    // staff_of holds for an operator too.
    let allowed = access::is_customer(identity, &customer)
        || access::operator(ctx)
        || trader.as_deref().is_some_and(|t| access::staff_of(identity, TRADER_STAFF, t));
    if allowed { Ok((customer, trader)) } else { Err(access::forbidden()) }
}

/// An erasure as recorded: no personal data.
#[derive(SimpleObject)]
pub struct CustomerErasure {
    id: ID,
    customer_id: Option<String>,
    /// The trader whose orders it touched; null: every trader's.
    trader_id: Option<String>,
    /// `request` or `retention`.
    reason: String,
    /// How many orders lost their contact details.
    orders: i64,
    erased_at: DateTime<Utc>,
}

impl From<entity::customer_erasure::Model> for CustomerErasure {
    fn from(record: entity::customer_erasure::Model) -> CustomerErasure {
        CustomerErasure {
            id: ID(record.id.to_string()),
            customer_id: record.customer_id,
            trader_id: record.trader_enterprise_id,
            reason: record.reason,
            orders: record.orders,
            erased_at: record.erased_at,
        }
    }
}

#[Object]
impl PrivacyQuery {
    /// Everything kept about a customer, as JSON: their orders with contact details, lines and
    /// amounts, and the erasures done. Of one trader's orders with `traderId`.
    #[graphql(requires_scopes = "customer", requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn customer_export(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<ID>,
        trader_id: Option<ID>,
    ) -> Result<Json<Value>> {
        let (customer, trader) = scope(ctx, customer_id.as_ref(), trader_id.as_ref())?;
        let store = store(ctx);
        let orders = store.orders_of_customer(&customer, trader.as_deref()).await.map_err(store_error)?;
        let ids: Vec<uuid::Uuid> = orders.iter().map(|o| o.id).collect();
        let lines = store.customer_order_lines(&ids).await.map_err(store_error)?;
        let erasures = store.erasures_of_customer(&customer).await.map_err(store_error)?;
        let orders: Vec<Value> = orders
            .iter()
            .map(|order| {
                let lines: Vec<Value> = lines
                    .iter()
                    .filter(|l| l.order_id == order.id)
                    .map(|l| {
                        json!({"name": l.name, "productId": l.product_iri, "offerId": l.offer_iri,
                            "quantity": l.quantity, "unitPrice": l.unit_price, "currency": l.currency,
                            "vatRate": l.vat_rate, "discount": l.discount})
                    })
                    .collect();
                let discounts = order.discounts.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok());
                json!({
                    "id": order.id, "traderId": order.trader_enterprise_id,
                    "salesSessionId": order.sales_session_id, "status": order.status,
                    "paymentStatus": order.payment_status, "createdAt": order.created_at,
                    "updatedAt": order.updated_at,
                    "contact": {"name": order.contact_name, "email": order.contact_email,
                        "address": order.delivery_address},
                    "total": order.total, "currency": order.currency, "discounts": discounts, "lines": lines,
                })
            })
            .collect();
        let erasures: Vec<Value> = erasures
            .iter()
            .filter(|e| trader.is_none() || e.trader_enterprise_id.is_none() || e.trader_enterprise_id == trader)
            .map(|e| json!({"erasedAt": e.erased_at, "traderId": e.trader_enterprise_id, "orders": e.orders, "reason": e.reason}))
            .collect();
        Ok(Json(json!({
            "customerId": customer, "traderId": trader, "exportedAt": Utc::now(),
            "orders": orders, "erasures": erasures,
        })))
    }
}

#[Object]
impl PrivacyMutation {
    /// Erases a customer's contact details (name, e-mail, address) from their orders, at one
    /// trader with `traderId`. The orders stay for the accounts (lines, amounts, payment); the
    /// erasure is recorded with who asked, never with what was erased.
    #[graphql(requires_scopes = "customer", requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn erase_customer(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<ID>,
        trader_id: Option<ID>,
    ) -> Result<CustomerErasure> {
        let (customer, trader) = scope(ctx, customer_id.as_ref(), trader_id.as_ref())?;
        let identity = access::caller(ctx)?;
        let requested_by = format!("{} {}", identity.issuer, identity.subject);
        let record =
            store(ctx).erase_customer(&customer, trader.as_deref(), &requested_by).await.map_err(store_error)?;
        tracing::info!(erasure = %record.id, orders = record.orders, "a customer's contact details were erased");
        Ok(record.into())
    }
}
