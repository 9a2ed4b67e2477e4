//! Consolidation settings and carried-over stock, for trader staff.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use rust_decimal::Decimal;

use super::loaders::{PeerKey, TraderLoader};
use super::producer_orders::kilograms;
use super::store_error;
use super::trader::{Producer, coded, store, trader};
use crate::store::consolidation::{CarriedStock, ConsolidationSettings};

/// How customer orders are grouped into producer orders.
#[derive(Enum, Copy, Clone, Debug, Default, Eq, PartialEq)]
#[graphql(name = "ConsolidationMode", remote = "crate::domain::ConsolidationMode")]
pub enum ConsolidationModeValue {
    /// Each customer order gives its own producer order.
    PerCustomerOrder,
    /// One producer order per session and producer, quantities summed per product.
    #[default]
    PerSession,
    /// As PER_SESSION, but per product the total weight is ordered as one bulk quantity, in whole
    /// packs where the producer sells a bigger pack; pack excess becomes carried-over stock.
    ByWeight,
}

/// A trader's consolidation: its default mode and the producers that override it.
pub struct Consolidation {
    trader: String,
    settings: ConsolidationSettings,
}

#[Object]
impl Consolidation {
    async fn trader_id(&self) -> &str {
        &self.trader
    }

    /// The mode of every producer without an override.
    async fn default_mode(&self) -> ConsolidationModeValue {
        self.settings.default.into()
    }

    async fn producer_overrides(&self) -> Vec<ProducerMode> {
        self.settings
            .overrides
            .iter()
            .map(|(peer, mode)| ProducerMode { producer_id: peer.clone(), mode: (*mode).into() })
            .collect()
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ProducerMode {
    #[graphql(skip)]
    producer_id: String,
    mode: ConsolidationModeValue,
}

#[async_graphql::ComplexObject]
impl ProducerMode {
    async fn producer(&self, ctx: &Context<'_>) -> Result<Option<Producer>> {
        let loader = ctx.data_unchecked::<DataLoader<TraderLoader>>();
        Ok(loader.load_one(PeerKey(self.producer_id.clone())).await?.map(Producer))
    }
}

/// Stock the trader holds from whole packs (the excess over what customers ordered), used first
/// by later orders before new packs are ordered.
pub struct CarriedOverStock(CarriedStock);

#[Object]
impl CarriedOverStock {
    async fn producer(&self, ctx: &Context<'_>) -> Result<Option<Producer>> {
        let loader = ctx.data_unchecked::<DataLoader<TraderLoader>>();
        Ok(loader.load_one(PeerKey(self.0.peer_id.clone())).await?.map(Producer))
    }

    /// The product held (the one customers order).
    async fn product_id(&self) -> &str {
        &self.0.product_iri
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Kg on hand from settled producer orders.
    async fn kg(&self) -> Decimal {
        kilograms(self.0.grams)
    }

    /// Of those, kg that open producer orders plan to use.
    async fn planned_use_kg(&self) -> Decimal {
        kilograms(self.0.planned_use_grams)
    }
}

#[derive(Default)]
pub struct ConsolidationQuery;

#[Object]
impl ConsolidationQuery {
    /// How a trader's customer orders are grouped into producer orders.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn consolidation(&self, ctx: &Context<'_>, trader_id: ID) -> Result<Consolidation> {
        super::access::trader_staff(ctx, &trader_id)?;
        let store = store(ctx);
        if store.enterprise(&trader_id).await.map_err(store_error)?.is_none() {
            return Err(coded("no such trader enterprise", "NOT_FOUND"));
        }
        let settings = store.consolidation_settings(&trader_id).await.map_err(store_error)?;
        Ok(Consolidation { trader: trader_id.to_string(), settings })
    }

    /// The stock a trader carries over from whole packs.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn carried_over_stock(&self, ctx: &Context<'_>, trader_id: ID) -> Result<Vec<CarriedOverStock>> {
        super::access::trader_staff(ctx, &trader_id)?;
        let stock = store(ctx).carried_stock(&trader_id).await.map_err(store_error)?;
        Ok(stock.into_iter().map(CarriedOverStock).collect())
    }
}

#[derive(Default)]
pub struct ConsolidationMutation;

#[Object]
impl ConsolidationMutation {
    /// Sets a trader's consolidation mode, or with `producerId` that producer's override (a null
    /// `mode` then removes it). The open sessions' producer orders are regrouped and sent at once.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn set_consolidation_mode(
        &self,
        ctx: &Context<'_>,
        trader_id: ID,
        producer_id: Option<ID>,
        mode: Option<ConsolidationModeValue>,
    ) -> Result<Consolidation> {
        super::access::trader_staff(ctx, &trader_id)?;
        let store = store(ctx);
        if store.enterprise(&trader_id).await.map_err(store_error)?.is_none() {
            return Err(coded("no such trader enterprise", "NOT_FOUND"));
        }
        if producer_id.is_none() && mode.is_none() {
            return Err(coded("a trader's mode cannot be removed, only changed", "BAD_USER_INPUT"));
        }
        let found = trader(ctx)
            .set_consolidation_mode(&trader_id, producer_id.as_ref().map(|p| p.as_str()), mode.map(Into::into))
            .await
            .map_err(store_error)?;
        if !found {
            return Err(coded("not a producer of this trader", "NOT_FOUND"));
        }
        let settings = store.consolidation_settings(&trader_id).await.map_err(store_error)?;
        Ok(Consolidation { trader: trader_id.to_string(), settings })
    }
}
