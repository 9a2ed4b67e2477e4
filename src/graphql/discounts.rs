//! A trader's sales-based discount rules (use case 9) and a cart's price before checkout.

use std::collections::BTreeSet;
use std::str::FromStr;

use async_graphql::{Context, Enum, ErrorExtensions, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::discount_rule;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::producer::Money;
use super::store_error;
use super::trader::{CheckoutLineInput, checkout_error, coded, store, trader};
use crate::domain::Currency;
use crate::domain::discounts::{Combination, Effect, Metric, Schedule, Scope, Tier};
use crate::store::discounts::{RULE_ACTIVE, RULE_ARCHIVED, RULE_PAUSED, RuleDefinition, RuleSpec, parse_rule};
use crate::trader::CheckoutLineRequest;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountMetric {
    /// The value of the scoped lines, VAT excluded.
    OrderValueExclVat,
    /// The value of the scoped lines, VAT included.
    OrderValueInclVat,
    /// Their units.
    Quantity,
    /// Their weight in kilograms.
    WeightKg,
}

impl From<Metric> for DiscountMetric {
    fn from(metric: Metric) -> DiscountMetric {
        match metric {
            Metric::Value { vat_included: false } => DiscountMetric::OrderValueExclVat,
            Metric::Value { vat_included: true } => DiscountMetric::OrderValueInclVat,
            Metric::Quantity => DiscountMetric::Quantity,
            Metric::WeightKg => DiscountMetric::WeightKg,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountScopeKind {
    /// The whole order.
    Order,
    /// The lines of the producers named in `scopeIds`.
    Producers,
    /// The lines of the products named in `scopeIds` (their ids as the catalogue gives them).
    Products,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountCombination {
    /// Applies with the other stacking rules, one after the other by priority.
    Stacks,
    /// Applies alone, if it takes off more than the stacking rules together.
    Exclusive,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountRuleStatus {
    Active,
    Paused,
    Archived,
}

#[derive(InputObject)]
pub struct DiscountTierInput {
    /// Where the tier starts, in the metric's unit (an amount, units or kilograms).
    pub from: Decimal,
    /// Exactly one of these three.
    pub percent_off: Option<Decimal>,
    pub amount_off: Option<Decimal>,
    pub amount_off_per_unit: Option<Decimal>,
}

#[derive(InputObject)]
pub struct DiscountRuleInput {
    pub trader_id: ID,
    /// Shown to customers.
    pub name: String,
    /// ISO code: the trader's currency.
    pub currency: String,
    #[graphql(default)]
    pub priority: i32,
    #[graphql(default_with = "DiscountCombination::Stacks")]
    pub combination: DiscountCombination,
    /// In force from (included) and until (excluded); open when absent.
    pub applies_from: Option<DateTime<Utc>>,
    pub applies_until: Option<DateTime<Utc>>,
    /// In force in these sales sessions only (then no dates).
    #[graphql(default)]
    pub sales_session_ids: Vec<ID>,
    #[graphql(default_with = "DiscountScopeKind::Order")]
    pub scope: DiscountScopeKind,
    #[graphql(default)]
    pub scope_ids: Vec<String>,
    #[graphql(default_with = "DiscountMetric::OrderValueExclVat")]
    pub metric: DiscountMetric,
    /// One tier from 0 applies always; several give more as the order grows.
    pub tiers: Vec<DiscountTierInput>,
    /// The most the rule takes off one order.
    pub cap: Option<Decimal>,
}

fn bad(message: impl Into<String>) -> async_graphql::Error {
    coded(message, "BAD_USER_INPUT")
}

impl DiscountRuleInput {
    fn spec(self) -> Result<(String, RuleSpec)> {
        let currency = Currency::from_name(&self.currency)
            .ok_or_else(|| bad(format!("currency: `{}` is not a currency DFC knows", self.currency)))?;
        let schedule = match (self.sales_session_ids.is_empty(), self.applies_from, self.applies_until) {
            (true, None, None) => Schedule::Always,
            (true, from, until) => {
                if let (Some(f), Some(u)) = (from, until)
                    && u <= f
                {
                    return Err(bad("appliesUntil: must come after appliesFrom"));
                }
                Schedule::Between { from, until }
            }
            (false, None, None) => Schedule::Sessions(
                self.sales_session_ids
                    .iter()
                    .map(|id| {
                        Uuid::from_str(id)
                            .map(|u| u.to_string())
                            .map_err(|_| bad(format!("salesSessionIds: `{}` is not a session id", id.as_str())))
                    })
                    .collect::<Result<BTreeSet<_>>>()?,
            ),
            (false, _, _) => return Err(bad("a rule applies in chosen sessions or between dates, not both")),
        };
        let ids: BTreeSet<String> = self.scope_ids.into_iter().collect();
        let scope = match self.scope {
            DiscountScopeKind::Order if !ids.is_empty() => return Err(bad("scopeIds: an ORDER scope names nothing")),
            DiscountScopeKind::Order => Scope::Order,
            DiscountScopeKind::Producers => Scope::Producers(ids),
            DiscountScopeKind::Products => Scope::Products(ids),
        };
        let metric = match self.metric {
            DiscountMetric::OrderValueExclVat => Metric::Value { vat_included: false },
            DiscountMetric::OrderValueInclVat => Metric::Value { vat_included: true },
            DiscountMetric::Quantity => Metric::Quantity,
            DiscountMetric::WeightKg => Metric::WeightKg,
        };
        let tiers = self
            .tiers
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let effect = match (t.percent_off, t.amount_off, t.amount_off_per_unit) {
                    (Some(p), None, None) => Effect::PercentOff(p),
                    (None, Some(a), None) => Effect::AmountOff(a),
                    (None, None, Some(a)) => Effect::AmountOffPerUnit(a),
                    _ => {
                        return Err(bad(format!(
                            "tiers[{i}]: give exactly one of percentOff, amountOff, amountOffPerUnit"
                        )));
                    }
                };
                Ok(Tier { from: t.from, effect })
            })
            .collect::<Result<Vec<_>>>()?;
        let combination = match self.combination {
            DiscountCombination::Stacks => Combination::Stacks,
            DiscountCombination::Exclusive => Combination::Exclusive,
        };
        let definition = RuleDefinition { schedule, scope, metric, tiers, cap: self.cap, combination };
        Ok((self.trader_id.to_string(), RuleSpec { name: self.name, currency, priority: self.priority, definition }))
    }
}

/// Refuses what no checkout could use: the validation of the rule itself, and a currency the
/// trader's producers do not price in (the trader's currency).
async fn validated(ctx: &Context<'_>, trader_id: &str, spec: &RuleSpec) -> Result<()> {
    let field =
        |e: crate::domain::discounts::RuleError| bad(e.to_string()).extend_with(|_, ext| ext.set("field", e.field));
    let currencies = store(ctx).trader_currencies(trader_id).await.map_err(store_error)?;
    if !currencies.is_empty() && !currencies.contains(spec.currency.iso_code()) {
        let sold_in = currencies.iter().cloned().collect::<Vec<_>>().join(", ");
        return Err(field(crate::domain::discounts::RuleError {
            field: "currency",
            message: format!("the trader sells in {sold_in}; a rule in {} would never apply", spec.currency),
        }));
    }
    spec.rule("new").validate(spec.currency).map_err(field)
}

fn status_of(text: &str) -> DiscountRuleStatus {
    match text {
        RULE_PAUSED => DiscountRuleStatus::Paused,
        RULE_ARCHIVED => DiscountRuleStatus::Archived,
        _ => DiscountRuleStatus::Active,
    }
}

fn parse_rule_id(id: &ID) -> Result<Uuid> {
    Uuid::from_str(id)
        .map_err(|_| bad(format!("`{}` is not a discount rule id", id.chars().take(64).collect::<String>())))
}

/// A trader's discount rule.
pub struct DiscountRule {
    model: discount_rule::Model,
    /// Its terms, read once from the stored definition; None when it cannot be read (logged).
    terms: Option<(crate::domain::discounts::Rule, RuleDefinition)>,
}

impl From<discount_rule::Model> for DiscountRule {
    fn from(model: discount_rule::Model) -> DiscountRule {
        let terms = parse_rule(&model)
            .map_err(|error| tracing::error!(rule = %model.id, %error, "unreadable discount rule"))
            .ok();
        DiscountRule { model, terms }
    }
}

impl DiscountRule {
    fn terms(&self) -> Result<&(crate::domain::discounts::Rule, RuleDefinition)> {
        self.terms.as_ref().ok_or_else(|| coded("internal error", "INTERNAL"))
    }
}

#[derive(SimpleObject)]
pub struct DiscountTier {
    pub from: Decimal,
    pub percent_off: Option<Decimal>,
    pub amount_off: Option<Decimal>,
    pub amount_off_per_unit: Option<Decimal>,
}

impl DiscountTier {
    fn of(tier: &Tier) -> DiscountTier {
        let (mut percent_off, mut amount_off, mut amount_off_per_unit) = (None, None, None);
        match tier.effect {
            Effect::PercentOff(p) => percent_off = Some(p),
            Effect::AmountOff(a) => amount_off = Some(a),
            Effect::AmountOffPerUnit(a) => amount_off_per_unit = Some(a),
        }
        DiscountTier { from: tier.from, percent_off, amount_off, amount_off_per_unit }
    }
}

#[Object]
impl DiscountRule {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }

    async fn trader_id(&self) -> &str {
        &self.model.trader_enterprise_id
    }

    async fn name(&self) -> &str {
        &self.model.name
    }

    async fn status(&self) -> DiscountRuleStatus {
        status_of(&self.model.status)
    }

    async fn currency(&self) -> &str {
        &self.model.currency
    }

    async fn priority(&self) -> i32 {
        self.model.priority
    }

    async fn combination(&self) -> Result<DiscountCombination> {
        let (rule, _) = self.terms()?;
        Ok(match rule.combination {
            Combination::Stacks => DiscountCombination::Stacks,
            Combination::Exclusive => DiscountCombination::Exclusive,
        })
    }

    async fn metric(&self) -> Result<DiscountMetric> {
        Ok(self.terms()?.0.metric.into())
    }

    async fn scope(&self) -> Result<DiscountScopeKind> {
        let (rule, _) = self.terms()?;
        Ok(match rule.scope {
            Scope::Order => DiscountScopeKind::Order,
            Scope::Producers(_) => DiscountScopeKind::Producers,
            Scope::Products(_) => DiscountScopeKind::Products,
        })
    }

    async fn scope_ids(&self) -> Result<Vec<String>> {
        let (rule, _) = self.terms()?;
        Ok(match &rule.scope {
            Scope::Order => Vec::new(),
            Scope::Producers(ids) | Scope::Products(ids) => ids.iter().cloned().collect(),
        })
    }

    async fn tiers(&self) -> Result<Vec<DiscountTier>> {
        let (rule, _) = self.terms()?;
        Ok(rule.tiers.iter().map(DiscountTier::of).collect())
    }

    async fn cap(&self) -> Result<Option<Money>> {
        let (rule, _) = self.terms()?;
        Ok(rule.cap.map(|cap| Money::of(cap, &self.model.currency)))
    }

    async fn applies_from(&self) -> Result<Option<DateTime<Utc>>> {
        let (_, definition) = self.terms()?;
        Ok(match definition.schedule {
            Schedule::Between { from, .. } => from,
            _ => None,
        })
    }

    async fn applies_until(&self) -> Result<Option<DateTime<Utc>>> {
        let (_, definition) = self.terms()?;
        Ok(match definition.schedule {
            Schedule::Between { until, .. } => until,
            _ => None,
        })
    }

    async fn sales_session_ids(&self) -> Result<Vec<ID>> {
        let (_, definition) = self.terms()?;
        Ok(match &definition.schedule {
            Schedule::Sessions(ids) => ids.iter().cloned().map(ID).collect(),
            _ => Vec::new(),
        })
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

/// A discount applied to an order or a cart.
#[derive(SimpleObject)]
pub struct AppliedDiscount {
    /// The rule's id (the rule may have changed or gone since; this is what was applied).
    pub rule: ID,
    pub name: String,
    pub amount: Money,
}

/// VAT of one rate, on the discounted base. Shareable, as invoices and payments report it too.
#[derive(SimpleObject)]
#[graphql(shareable)]
pub struct VatAmount {
    pub rate: Decimal,
    pub base: Money,
    pub amount: Money,
}

#[derive(SimpleObject)]
pub struct CartLinePrice {
    pub offer_id: ID,
    pub quantity: i64,
    pub unit_price: Money,
    pub gross: Money,
    pub discount: Money,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
}

/// What the next tier of a rule would give the cart.
#[derive(SimpleObject)]
pub struct NextDiscount {
    pub rule: ID,
    pub name: String,
    pub metric: DiscountMetric,
    /// How much more the cart needs: an amount (with `missingAmount`), units or kilograms.
    pub missing: Decimal,
    pub missing_amount: Option<Money>,
    pub tier: DiscountTier,
}

/// A cart priced as checkout would price it now, nothing placed.
#[derive(SimpleObject)]
pub struct CartPrice {
    pub lines: Vec<CartLinePrice>,
    pub subtotal: Money,
    pub discounts: Vec<AppliedDiscount>,
    pub discount_total: Money,
    pub vat: Vec<VatAmount>,
    pub total: Money,
    pub next_discounts: Vec<NextDiscount>,
}

#[derive(Default)]
pub struct DiscountQuery;

#[Object]
impl DiscountQuery {
    /// A trader's discount rules, highest priority first; archived ones when asked for.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn discount_rules(
        &self,
        ctx: &Context<'_>,
        trader_id: ID,
        #[graphql(default)] include_archived: bool,
    ) -> Result<Vec<DiscountRule>> {
        super::access::enterprise_staff(ctx, &trader_id)?;
        let rules = store(ctx).discount_rules(&trader_id, include_archived).await.map_err(store_error)?;
        Ok(rules.into_iter().map(DiscountRule::from).collect())
    }

    /// Prices a cart of a session as checkout would now (same function, same rules), placing
    /// nothing, and says what the next tier of each rule would give.
    async fn price_cart(
        &self,
        ctx: &Context<'_>,
        sales_session_id: ID,
        lines: Vec<CheckoutLineInput>,
    ) -> Result<CartPrice> {
        let id = Uuid::from_str(&sales_session_id).map_err(|_| bad("salesSessionId: not a session id"))?;
        let session = store(ctx)
            .sales_session(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| coded("no such sales session", "NOT_FOUND"))?;
        let peers = store(ctx).session_peers(session.id).await.map_err(store_error)?;
        let requested: Vec<CheckoutLineRequest> = lines
            .into_iter()
            .map(|l| CheckoutLineRequest { offer: l.offer_id.to_string(), quantity: i64::from(l.quantity) })
            .collect();
        let priced = trader(ctx).price_lines(&session, &peers, &requested).await.map_err(checkout_error)?;
        let currency = priced.currency.clone();
        let money = |amount: Decimal| Money::of(amount, &currency);
        let order = &priced.priced;
        Ok(CartPrice {
            lines: requested
                .iter()
                .zip(&priced.lines)
                .zip(&order.lines)
                .map(|((asked, line), p)| CartLinePrice {
                    offer_id: ID(asked.offer.clone()),
                    quantity: line.quantity,
                    unit_price: money(Decimal::from_str(&line.unit_price).unwrap_or_default()),
                    gross: money(p.gross),
                    discount: money(p.discount),
                    net: money(p.net),
                    vat: money(p.vat),
                    total: money(p.total),
                })
                .collect(),
            subtotal: money(order.subtotal),
            discounts: order
                .applied
                .iter()
                .map(|a| {
                    let rule = priced.rule_of(a);
                    AppliedDiscount { rule: ID(rule.id.clone()), name: rule.name.clone(), amount: money(a.amount) }
                })
                .collect(),
            discount_total: money(order.discount_total),
            vat: order
                .vat
                .iter()
                .map(|v| VatAmount { rate: v.rate, base: money(v.base), amount: money(v.amount) })
                .collect(),
            total: money(order.total),
            next_discounts: priced
                .next_tiers()
                .iter()
                .map(|n| NextDiscount {
                    rule: ID(n.rule_id.clone()),
                    name: n.name.clone(),
                    metric: n.metric.into(),
                    missing: n.missing,
                    missing_amount: matches!(n.metric, Metric::Value { .. }).then(|| money(n.missing)),
                    tier: DiscountTier::of(&Tier { from: Decimal::ZERO, effect: n.effect }),
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct DiscountMutation;

#[Object]
impl DiscountMutation {
    /// A new rule, active at once. Refused (BAD_USER_INPUT, `extensions.field`) when it could never
    /// be applied as written.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn create_discount_rule(&self, ctx: &Context<'_>, input: DiscountRuleInput) -> Result<DiscountRule> {
        super::access::enterprise_staff(ctx, &input.trader_id)?;
        let (trader_id, spec) = input.spec()?;
        if store(ctx).enterprise(&trader_id).await.map_err(store_error)?.is_none() {
            return Err(coded(format!("no trader `{trader_id}`"), "NOT_FOUND"));
        }
        validated(ctx, &trader_id, &spec).await?;
        store(ctx).create_discount_rule(&trader_id, &spec).await.map(DiscountRule::from).map_err(store_error)
    }

    /// New terms for a rule. Orders already placed keep the discount they were given.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn update_discount_rule(&self, ctx: &Context<'_>, id: ID, input: DiscountRuleInput) -> Result<DiscountRule> {
        let id = parse_rule_id(&id)?;
        let existing = own_rule(ctx, id).await?;
        let (trader_id, spec) = input.spec()?;
        if trader_id != existing.trader_enterprise_id {
            return Err(bad("traderId: a rule stays with its trader"));
        }
        validated(ctx, &trader_id, &spec).await?;
        let updated = store(ctx).update_discount_rule(id, &spec).await.map_err(store_error)?;
        updated.map(DiscountRule::from).ok_or_else(|| coded("no such discount rule", "NOT_FOUND"))
    }

    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn pause_discount_rule(&self, ctx: &Context<'_>, id: ID) -> Result<DiscountRule> {
        set_status(ctx, &id, RULE_PAUSED).await
    }

    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn resume_discount_rule(&self, ctx: &Context<'_>, id: ID) -> Result<DiscountRule> {
        set_status(ctx, &id, RULE_ACTIVE).await
    }

    /// Retires a rule for good (it is listed only when archived ones are asked for).
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn archive_discount_rule(&self, ctx: &Context<'_>, id: ID) -> Result<DiscountRule> {
        set_status(ctx, &id, RULE_ARCHIVED).await
    }
}

/// The rule, if the caller works for its enterprise.
async fn own_rule(ctx: &Context<'_>, id: Uuid) -> Result<discount_rule::Model> {
    let rule = store(ctx).discount_rule(id).await.map_err(store_error)?;
    super::access::found(
        ctx,
        rule,
        |identity, rule| super::access::works_for(identity, &rule.trader_enterprise_id),
        || coded("no such discount rule", "NOT_FOUND"),
    )
}

async fn set_status(ctx: &Context<'_>, id: &ID, status: &str) -> Result<DiscountRule> {
    let id = parse_rule_id(id)?;
    let existing = own_rule(ctx, id).await?;
    if existing.status == RULE_ARCHIVED && status != RULE_ARCHIVED {
        return Err(coded("an archived rule cannot be used again; create a new one", "RULE_ARCHIVED"));
    }
    let updated = store(ctx).set_discount_rule_status(id, status).await.map_err(store_error)?;
    updated.map(DiscountRule::from).ok_or_else(|| coded("no such discount rule", "NOT_FOUND"))
}
