//! Who may read and change what: a rule for every field of the schema, enforced before the
//! field resolves, and the checks on whose enterprise or order an object is, made where the
//! object is found.
//!
//! Deny by default: a field without a rule in [`RULES`] is refused (`FORBIDDEN`, and logged as
//! the bug it is), and a test walks the schema so that such a field fails the build first.
//!
//! The roles are a token's roles (`auth.roles_claim`): `customer`, `trader_staff`,
//! `producer_staff` and `operator` (the platform operator, who may do everything staff may).
//! Staff act for the enterprises their token names (`auth.enterprises_claim`). To anyone but an
//! operator, an id that does not exist and one that is not theirs get the same `FORBIDDEN`, so
//! refusals reveal nothing of what exists.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{Context, ErrorExtensions, ServerError, ServerResult, Value};

use crate::auth::Identity;

pub const CUSTOMER: &str = "customer";
pub const TRADER_STAFF: &str = "trader_staff";
pub const PRODUCER_STAFF: &str = "producer_staff";
pub const OPERATOR: &str = "operator";

/// What a field asks of its caller before it resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with a token or without.
    Anyone,
    /// Sales sessions and what they offer: anyone when the platform allows anonymous browsing
    /// (`auth.anonymous_browsing`), else a signed-in caller.
    Browse,
    /// Part of an object the caller was allowed to reach: the check was made where it was found.
    Parent,
    /// A signed-in caller with one of these roles; the resolver then checks the enterprise or
    /// the owner. The schema says the same to gateways with `@requiresScopes`.
    Roles(&'static [&'static str]),
}

const STAFF: Access = Access::Roles(&[TRADER_STAFF, OPERATOR]);
const PRODUCER: Access = Access::Roles(&[PRODUCER_STAFF, OPERATOR]);
const ENTERPRISE: Access = Access::Roles(&[TRADER_STAFF, PRODUCER_STAFF, OPERATOR]);
const BUYER: Access = Access::Roles(&[CUSTOMER, TRADER_STAFF, OPERATOR]);
const SIGNED_IN: Access = Access::Roles(&[CUSTOMER, TRADER_STAFF, PRODUCER_STAFF, OPERATOR]);

/// Every field of the schema: its type, its fields (space-separated) and their rule.
pub const RULES: &[(&str, &str, Access)] = &[
    ("Query", "_service viewer enterprises enterprise", Access::Anyone),
    // Each representation is checked by the entity's own resolver.
    ("Query", "_entities", Access::Anyone),
    ("Query", "salesSession salesSessions priceCart", Access::Browse),
    ("Query", "order orders", SIGNED_IN),
    ("Query", "consolidation carriedOverStock unconfirmedOrders", STAFF),
    ("Query", "discountRules", ENTERPRISE),
    ("Mutation", "checkout amendOrder cancelOrder", BUYER),
    // Checked by the resolvers too, as the stream starts (the rules apply to each update).
    ("Subscription", "orderUpdated", SIGNED_IN),
    ("Subscription", "producerOrderUpdated", STAFF),
    // The customer themselves, the trader's staff, an operator (the resolver checks which).
    ("Query", "customerExport", BUYER),
    ("Mutation", "eraseCustomer", BUYER),
    ("CustomerErasure", "id customerId traderId reason orders erasedAt", Access::Parent),
    (
        "Mutation",
        "createSalesSession endSalesSession closeSalesSession retryProducerOrder markOrderPaid \
         setConsolidationMode setUnconfirmedOrders",
        STAFF,
    ),
    (
        "Mutation",
        "createDiscountRule updateDiscountRule pauseDiscountRule resumeDiscountRule archiveDiscountRule",
        ENTERPRISE,
    ),
    ("_Service", "sdl", Access::Anyone),
    ("Viewer", "issuer subject roles enterprises", Access::Parent),
    ("Enterprise", "id name description", Access::Parent),
    ("Enterprise", "products incomingOrders incomingOrderGroups", PRODUCER),
    (
        "Product",
        "id enterpriseId sku name description unitValue unit price vatRate stockManaged onHand reserved available",
        Access::Parent,
    ),
    (
        "IncomingOrder",
        "id number enterpriseId clientPlatform buyer orderNumber saleSession saleSessionEnd status \
         fulfilmentStatus createdAt updatedAt lines",
        Access::Parent,
    ),
    ("IncomingOrderLine", "id product productName quantity reserved unitPrice vatRate", Access::Parent),
    ("IncomingOrderGroup", "clientPlatform buyer saleSession orders totals", Access::Parent),
    ("ProductTotal", "name quantity weightKg", Access::Parent),
    ("Money", "amount currency", Access::Parent),
    ("SaleSession", "id name traderId beginsAt endsAt closedAt open producers catalogue", Access::Parent),
    ("SaleSession", "producerOrders", STAFF),
    ("Producer", "id name enterprise platformUrl", Access::Parent),
    ("SessionCatalogue", "offers errors", Access::Parent),
    (
        "SessionOffer",
        "id productId offer producer name sku price vatRate unitValue unit stockManaged available",
        Access::Parent,
    ),
    ("PlatformError", "producer code message", Access::Parent),
    ("CartPrice", "lines subtotal discounts discountTotal vat total nextDiscounts", Access::Parent),
    ("CartLinePrice", "offerId quantity unitPrice gross discount net vat total", Access::Parent),
    ("NextDiscount", "rule name metric missing missingAmount tier", Access::Parent),
    ("AppliedDiscount", "rule name amount", Access::Parent),
    ("VatAmount", "rate base amount", Access::Parent),
    ("OrderPage", "items totalCount nextCursor", Access::Parent),
    (
        "Order",
        "id customer saleSession status paymentStatus total subtotal discounts discountTotal vat createdAt \
         lines reservations",
        Access::Parent,
    ),
    (
        "OrderLine",
        "id producer productId offerId offer name quantity unitPrice gross discount net vat total vatRate",
        Access::Parent,
    ),
    // A producer order gathers other customers' lines: the trader's staff only.
    ("OrderLine", "producerOrder", STAFF),
    ("Reservation", "producer state reason updatedAt", Access::Parent),
    ("Customer", "id", Access::Parent),
    // An offer's IRI is public catalogue data.
    ("Offer", "id", Access::Parent),
    ("Customer", "orders", BUYER),
    (
        "ProducerOrder",
        "id producer remoteId status fulfilmentStatus deliveryState attempts lastError nextAttemptAt \
         customerOrder settledAt lines discount consolidationMode",
        Access::Parent,
    ),
    (
        "ProducerOrderLine",
        "discount productId orderedProductId offerId name quantity neededUnits neededKg carriedOverUsedKg \
         carriedOverAddedKg basis note",
        Access::Parent,
    ),
    ("Consolidation", "traderId defaultMode producerOverrides", Access::Parent),
    ("ProducerMode", "mode producer", Access::Parent),
    ("CarriedOverStock", "producer productId name kg plannedUseKg", Access::Parent),
    ("UnconfirmedOrdersSetting", "traderId policy ownChoice", Access::Parent),
    (
        "DiscountRule",
        "id traderId name status currency priority combination metric scope scopeIds tiers cap appliesFrom \
         appliesUntil salesSessionIds updatedAt",
        Access::Parent,
    ),
    ("DiscountTier", "from percentOff amountOff amountOffPerUnit", Access::Parent),
];

static RULE_OF: LazyLock<HashMap<(&'static str, &'static str), Access>> = LazyLock::new(|| {
    let mut rules = HashMap::new();
    for (ty, fields, access) in RULES {
        for field in fields.split_whitespace() {
            let previous = rules.insert((*ty, field), *access);
            assert!(previous.is_none(), "{ty}.{field} has two rules");
        }
    }
    rules
});

/// The rule of a field; none: the field is refused.
pub fn rule(ty: &str, field: &str) -> Option<Access> {
    RULE_OF.get(&(ty, field)).copied()
}

/// Whether the platform lets anonymous callers browse sessions (schema data).
#[derive(Clone, Copy)]
pub struct Browsing {
    pub anonymous: bool,
}

pub fn unauthenticated() -> async_graphql::Error {
    async_graphql::Error::new("sign in: this needs a valid token").extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
}

pub fn forbidden() -> async_graphql::Error {
    async_graphql::Error::new("not allowed, or no such thing").extend_with(|_, e| e.set("code", "FORBIDDEN"))
}

/// Enforces [`RULES`] on every field.
pub struct Authorisation;

impl ExtensionFactory for Authorisation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Authorisation)
    }
}

fn refusal(error: async_graphql::Error, info: &ResolveInfo<'_>) -> ServerError {
    let mut error = error.into_server_error(info.field.name.pos);
    error.path = super::propagation::response_path_of(info);
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for Authorisation {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // Introspection has its own switch; a list's items were checked as the list's field.
        let list_item = matches!(info.path_node.segment, async_graphql::QueryPathSegment::Index(_));
        if list_item || info.is_for_introspection || info.name.starts_with("__") || info.parent_type.starts_with("__") {
            return next.run(ctx, info).await;
        }
        let identity = ctx.data_opt::<Identity>();
        let verdict = match rule(info.parent_type, info.name) {
            None => {
                tracing::error!(ty = info.parent_type, field = info.name, "a field without an access rule was refused");
                Err(forbidden())
            }
            Some(Access::Anyone | Access::Parent) => Ok(()),
            Some(Access::Browse) => {
                if browsing_open(ctx.data_opt::<Browsing>(), identity) {
                    Ok(())
                } else {
                    Err(unauthenticated())
                }
            }
            Some(Access::Roles(roles)) => match identity {
                None => Err(unauthenticated()),
                Some(identity) if roles.iter().any(|r| identity.roles.contains(*r)) => Ok(()),
                Some(_) => Err(forbidden()),
            },
        };
        match verdict {
            Ok(()) => next.run(ctx, info).await,
            Err(error) => Err(refusal(error, &info)),
        }
    }
}

/// The verified caller of a field that requires one (its rule let it through only with one).
pub fn caller<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Identity> {
    ctx.data_opt::<Identity>().ok_or_else(unauthenticated)
}

fn is_operator(identity: &Identity) -> bool {
    identity.roles.contains(OPERATOR)
}

pub fn staff_of(identity: &Identity, role: &str, enterprise: &str) -> bool {
    is_operator(identity) || (identity.roles.contains(role) && identity.enterprises.contains(enterprise))
}

/// The caller works for the trader `enterprise` (or operates the platform).
pub fn trader_staff<'c>(ctx: &Context<'c>, enterprise: &str) -> async_graphql::Result<&'c Identity> {
    let identity = caller(ctx)?;
    if staff_of(identity, TRADER_STAFF, enterprise) { Ok(identity) } else { Err(forbidden()) }
}

/// The caller works for the producer `enterprise` (or operates the platform).
pub fn producer_staff(ctx: &Context<'_>, enterprise: &str) -> async_graphql::Result<()> {
    let identity = caller(ctx)?;
    if staff_of(identity, PRODUCER_STAFF, enterprise) { Ok(()) } else { Err(forbidden()) }
}

/// Whether `identity` works for `enterprise` as a trader or a producer (or operates the platform).
pub fn works_for(identity: &Identity, enterprise: &str) -> bool {
    staff_of(identity, TRADER_STAFF, enterprise) || staff_of(identity, PRODUCER_STAFF, enterprise)
}

/// The caller works for `enterprise` as a trader or a producer: its own discount rules and
/// settings.
pub fn enterprise_staff(ctx: &Context<'_>, enterprise: &str) -> async_graphql::Result<()> {
    if works_for(caller(ctx)?, enterprise) { Ok(()) } else { Err(forbidden()) }
}

/// The caller is the customer `customer_id` (the token's subject is the customer id).
pub fn is_customer(identity: &Identity, customer_id: &str) -> bool {
    identity.roles.contains(CUSTOMER) && identity.subject == customer_id
}

/// Who may see and act on a customer order: its customer, its trader's staff, an operator.
pub fn may_see_order(identity: &Identity, order: &entity::customer_order::Model) -> bool {
    is_customer(identity, &order.customer_id) || staff_of(identity, TRADER_STAFF, &order.trader_enterprise_id)
}

/// What was found by id, if the caller may have it. Operators learn that an id does not exist;
/// anyone else gets the same refusal for a missing id as for another's.
pub fn found<T>(
    ctx: &Context<'_>,
    found: Option<T>,
    allowed: impl FnOnce(&Identity, &T) -> bool,
    missing: impl FnOnce() -> async_graphql::Error,
) -> async_graphql::Result<T> {
    let identity = caller(ctx)?;
    match found {
        Some(item) if allowed(identity, &item) => Ok(item),
        None if is_operator(identity) => Err(missing()),
        _ => Err(forbidden()),
    }
}

/// Whether the caller may browse sales sessions: anyone where the platform allows it, else a
/// signed-in caller.
fn browsing_open(browsing: Option<&Browsing>, identity: Option<&Identity>) -> bool {
    browsing.is_none_or(|b| b.anonymous) || identity.is_some()
}

pub fn may_browse(ctx: &Context<'_>) -> bool {
    browsing_open(ctx.data_opt::<Browsing>(), ctx.data_opt::<Identity>())
}

/// An entity a gateway asked for, if the caller may have it; null for an operator asking for a
/// missing one; otherwise the refusal, which the query root reports at the representation's place.
pub fn entity<T>(
    ctx: &Context<'_>,
    found: Option<T>,
    allowed: impl FnOnce(&Identity, &T) -> bool,
) -> async_graphql::Result<Option<T>> {
    match (ctx.data_opt::<Identity>(), found) {
        (None, _) => Err(unauthenticated()),
        (Some(identity), Some(item)) if allowed(identity, &item) => Ok(Some(item)),
        (Some(identity), None) if is_operator(identity) => Ok(None),
        _ => Err(forbidden()),
    }
}

/// Whether the caller operates the platform.
pub fn operator(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<Identity>().is_some_and(is_operator)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    use super::*;

    /// Object fields of the served schema, with the scopes `@requiresScopes` gives each.
    fn schema_fields() -> Vec<(String, String, BTreeSet<String>)> {
        let document = async_graphql::parser::parse_schema(crate::graphql::sdl()).expect("our SDL parses");
        let mut fields = Vec::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else { continue };
            let TypeKind::Object(object) = &ty.node.kind else { continue };
            for field in &object.fields {
                let scopes = field
                    .node
                    .directives
                    .iter()
                    .filter(|d| d.node.name.node == "requiresScopes")
                    .flat_map(|d| d.node.arguments.iter().map(|(_, v)| v.node.to_string()))
                    .flat_map(|text| {
                        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .filter(|w| !w.is_empty() && *w != "scopes")
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .collect();
                fields.push((ty.node.name.node.to_string(), field.node.name.node.to_string(), scopes));
            }
        }
        fields
    }

    #[test]
    fn every_field_of_the_schema_has_a_rule_and_tells_gateways_the_same() {
        let fields = schema_fields();
        assert!(fields.len() > 200, "the walk sees the schema ({} fields)", fields.len());
        let mut missing = Vec::new();
        let mut disagreeing = Vec::new();
        for (ty, field, scopes) in &fields {
            match rule(ty, field) {
                None => missing.push(format!("{ty}.{field}")),
                // async-graphql cannot give subscription fields `@requiresScopes`: gateways let
                // them through, and the resolvers check the rule when the stream starts.
                Some(_) if ty == "Subscription" => assert!(scopes.is_empty()),
                Some(access) => {
                    let wanted: BTreeSet<String> = match access {
                        Access::Roles(roles) => roles.iter().map(|r| (*r).to_owned()).collect(),
                        _ => BTreeSet::new(),
                    };
                    if &wanted != scopes {
                        disagreeing.push(format!("{ty}.{field}: rule {wanted:?}, @requiresScopes {scopes:?}"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "fields without an access rule (add them to RULES): {missing:?}");
        assert!(disagreeing.is_empty(), "the SDL must tell gateways what the rule says: {disagreeing:?}");
    }

    #[test]
    fn no_rule_names_a_field_the_schema_lacks() {
        let fields: BTreeSet<(String, String)> = schema_fields().into_iter().map(|(t, f, _)| (t, f)).collect();
        // The federation fields are served but not exported in the subgraph SDL.
        let federation = [("Query", "_service"), ("Query", "_entities"), ("_Service", "sdl")];
        for (ty, names, _) in RULES {
            for name in names.split_whitespace() {
                let known = fields.contains(&((*ty).to_owned(), name.to_owned())) || federation.contains(&(*ty, name));
                assert!(known, "RULES names {ty}.{name}, which the schema does not have");
            }
        }
    }

    #[test]
    fn a_field_without_a_rule_is_refused() {
        assert_eq!(rule("Order", "contactEmail"), None);
        assert_eq!(rule("Order", "id"), Some(Access::Parent));
    }
}
