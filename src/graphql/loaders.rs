//! Batched loads of the trader side's entities: one query per kind per batch, never one per row.

use std::collections::HashMap;

use async_graphql::Result;
use async_graphql::dataloader::Loader;
use entity::{customer_order, customer_order_line, order_part, peer, producer_order, sales_session};
use uuid::Uuid;

use super::store_error;
use crate::store::{Store, StoreError};

/// Batches the trader side's entity loads: one query per kind per batch, never one per row.
pub struct TraderLoader(pub Store);

#[derive(Clone, Hash, PartialEq, Eq)]
pub struct OrderKey(pub(super) Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct SessionKey(pub(super) Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct LinesKey(pub(super) Uuid);
/// An order with its lines, read in the same batch (what a gateway's `_entities` most often
/// asks for).
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct OrderWithLinesKey(pub(super) Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct PartsKey(pub(super) Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct PeerKey(pub(super) String);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct SessionProducerOrdersKey(pub(super) Uuid);

/// The newest `limit` orders of a customer, of all traders or of those named.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct CustomerOrdersKey {
    pub(super) customer: String,
    pub(super) traders: Option<Vec<String>>,
    pub(super) limit: u64,
}

fn loader_error(err: StoreError) -> async_graphql::Error {
    store_error(err)
}

impl Loader<OrderKey> for TraderLoader {
    type Value = customer_order::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OrderKey]) -> Result<HashMap<OrderKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.customer_orders_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|o| (OrderKey(o.id), o)).collect())
    }
}

impl Loader<CustomerOrdersKey> for TraderLoader {
    type Value = Vec<customer_order::Model>;
    type Error = async_graphql::Error;

    /// One query per (traders, limit) asked in the batch: a gateway's customers share them.
    async fn load(&self, keys: &[CustomerOrdersKey]) -> Result<HashMap<CustomerOrdersKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(Option<Vec<String>>, u64), Vec<String>> = HashMap::new();
        for key in keys {
            groups.entry((key.traders.clone(), key.limit)).or_default().push(key.customer.clone());
        }
        let mut found = HashMap::with_capacity(keys.len());
        for ((traders, limit), customers) in groups {
            let mut orders =
                self.0.newest_orders_of(&customers, traders.as_deref(), limit).await.map_err(loader_error)?;
            for customer in customers {
                let theirs = orders.remove(&customer).unwrap_or_default();
                found.insert(CustomerOrdersKey { customer, traders: traders.clone(), limit }, theirs);
            }
        }
        Ok(found)
    }
}

impl Loader<SessionKey> for TraderLoader {
    type Value = sales_session::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.sales_sessions_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|s| (SessionKey(s.id), s)).collect())
    }
}

/// Lines by the order they belong to, in the order read.
fn lines_by_order(lines: Vec<customer_order_line::Model>) -> HashMap<Uuid, Vec<customer_order_line::Model>> {
    let mut by_order: HashMap<Uuid, Vec<customer_order_line::Model>> = HashMap::new();
    for line in lines {
        by_order.entry(line.order_id).or_default().push(line);
    }
    by_order
}

impl Loader<OrderWithLinesKey> for TraderLoader {
    type Value = (customer_order::Model, Vec<customer_order_line::Model>);
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OrderWithLinesKey]) -> Result<HashMap<OrderWithLinesKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let (orders, lines) = tokio::join!(self.0.customer_orders_by_ids(&ids), self.0.customer_order_lines(&ids));
        let mut lines = lines_by_order(lines.map_err(loader_error)?);
        Ok(orders
            .map_err(loader_error)?
            .into_iter()
            .map(|o| {
                let of_order = lines.remove(&o.id).unwrap_or_default();
                (OrderWithLinesKey(o.id), (o, of_order))
            })
            .collect())
    }
}

impl Loader<LinesKey> for TraderLoader {
    type Value = Vec<customer_order_line::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[LinesKey]) -> Result<HashMap<LinesKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let lines = self.0.customer_order_lines(&ids).await.map_err(loader_error)?;
        Ok(lines_by_order(lines).into_iter().map(|(order, lines)| (LinesKey(order), lines)).collect())
    }
}

impl Loader<PartsKey> for TraderLoader {
    type Value = Vec<order_part::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PartsKey]) -> Result<HashMap<PartsKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<PartsKey, Self::Value> = HashMap::new();
        for part in self.0.order_parts(&ids).await.map_err(loader_error)? {
            out.entry(PartsKey(part.order_id)).or_default().push(part);
        }
        Ok(out)
    }
}

impl Loader<PeerKey> for TraderLoader {
    type Value = peer::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PeerKey]) -> Result<HashMap<PeerKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = self.0.peers_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|p| (PeerKey(p.id.clone()), p)).collect())
    }
}

impl Loader<SessionProducerOrdersKey> for TraderLoader {
    type Value = Vec<producer_order::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[SessionProducerOrdersKey],
    ) -> Result<HashMap<SessionProducerOrdersKey, Self::Value>, Self::Error> {
        let sessions: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<SessionProducerOrdersKey, Self::Value> = HashMap::new();
        for po in self.0.producer_orders_of_sessions(&sessions).await.map_err(loader_error)? {
            out.entry(SessionProducerOrdersKey(po.sales_session_id)).or_default().push(po);
        }
        Ok(out)
    }
}
