//! A trader's reservation settings, for trader staff: whether checkout acknowledges an order a
//! producer could not confirm within the deadline.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use super::store_error;
use super::trader::{coded, store, trader};

/// What checkout does with a part its producer did not confirm within the deadline (the send
/// stays queued and decides the part later).
#[derive(Enum, Copy, Clone, Debug, Default, Eq, PartialEq)]
#[graphql(remote = "crate::domain::reservation::UnconfirmedPolicy")]
pub enum UnconfirmedOrders {
    /// Acknowledge it (UNCONFIRMED) only if the producer publishes no stock for its products;
    /// otherwise the checkout is withdrawn (PEER_UNAVAILABLE) and nothing is kept.
    #[default]
    AcknowledgeUncounted,
    /// Always acknowledge it; a later refusal for stock refuses the order after the fact.
    Acknowledge,
    /// Never: the customer is told the producer could not confirm.
    Withdraw,
}

/// A trader's choice, and whether it is its own or the platform's default.
#[derive(SimpleObject)]
pub struct UnconfirmedOrdersSetting {
    trader_id: ID,
    /// The policy checkout applies for this trader.
    policy: UnconfirmedOrders,
    /// False: the platform's default (`unconfirmed_orders`) applies.
    own_choice: bool,
}

async fn setting(ctx: &Context<'_>, trader_id: ID) -> Result<UnconfirmedOrdersSetting> {
    let store = store(ctx);
    if store.enterprise(&trader_id).await.map_err(store_error)?.is_none() {
        return Err(coded("no such trader enterprise", "NOT_FOUND"));
    }
    let own = store.unconfirmed_policy(&trader_id).await.map_err(store_error)?;
    let policy = own.unwrap_or(trader(ctx).default_unconfirmed_policy());
    Ok(UnconfirmedOrdersSetting { trader_id, policy: policy.into(), own_choice: own.is_some() })
}

#[derive(Default)]
pub struct ReservationQuery;

#[Object]
impl ReservationQuery {
    /// Whether checkout acknowledges an order a producer could not confirm in time.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn unconfirmed_orders(&self, ctx: &Context<'_>, trader_id: ID) -> Result<UnconfirmedOrdersSetting> {
        super::access::trader_staff(ctx, &trader_id)?;
        setting(ctx, trader_id).await
    }
}

#[derive(Default)]
pub struct ReservationMutation;

#[Object]
impl ReservationMutation {
    /// Sets whether checkout acknowledges an order a producer could not confirm in time (a null
    /// `policy`: the platform's default again).
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn set_unconfirmed_orders(
        &self,
        ctx: &Context<'_>,
        trader_id: ID,
        policy: Option<UnconfirmedOrders>,
    ) -> Result<UnconfirmedOrdersSetting> {
        super::access::trader_staff(ctx, &trader_id)?;
        let store = store(ctx);
        if store.enterprise(&trader_id).await.map_err(store_error)?.is_none() {
            return Err(coded("no such trader enterprise", "NOT_FOUND"));
        }
        store.set_unconfirmed_policy(&trader_id, policy.map(Into::into)).await.map_err(store_error)?;
        setting(ctx, trader_id).await
    }
}
