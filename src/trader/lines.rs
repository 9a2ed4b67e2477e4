//! The ids of a producer order's lines on the wire. Readers such as the TypeScript connector (the
//! Shopify app reads every request through it) cannot take blank-node lines, so every line is
//! named: `{order}/OrderLines/{n}` as Open Food Network names them, `n` fixed for the line's
//! product for as long as the order lives, until the producer answers with its own id for the line
//! (`.../orderLines/460`), which every later PUT then uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dfc::model::Order;
use crate::dfc::urls::Urls;

/// One line's id: our number under the order, or the producer's IRI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum LineId {
    Ours(usize),
    Theirs(String),
}

/// The line ids of one producer order, by the product each line orders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineIds {
    /// The next number of ours: never given twice in one order, even to a line removed since.
    next: usize,
    lines: BTreeMap<String, LineId>,
}

/// A line as sent: the product ordered, the offer, the id it went by, and how many.
#[derive(Clone, Debug)]
pub struct SentLine {
    pub product: String,
    pub offer: String,
    pub id: String,
    pub quantity: i64,
}

impl SentLine {
    /// Whether a line of the producer's answer is this one: it keeps our id, concerns our offer,
    /// or offers our product (the Shopify app answers with offer ids of its own, `.../Offers/{id}`).
    fn answered_by(&self, remote: &crate::dfc::model::OrderLine) -> bool {
        remote.id.as_deref() == Some(self.id.as_str())
            || remote.offer_id.as_deref() == Some(self.offer.as_str())
            || remote.offered_item.as_deref() == Some(self.product.as_str())
    }
}

/// The order a producer's answer is about: the one with `order_iri`, else its only (first) one.
pub fn answered_order<'d>(answer: &'d crate::dfc::Document, order_iri: &str) -> Option<&'d Order> {
    answer.orders.iter().find(|o| o.id.as_deref() == Some(order_iri)).or(answer.orders.first())
}

impl LineIds {
    /// What the database holds; anything unreadable starts afresh (ours are only names).
    pub fn parse(stored: Option<&str>) -> LineIds {
        stored.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The id of each product's line in the order named `order_iri` (a placeholder before the
    /// producer created it), numbering the new ones. Products no longer ordered lose their line.
    pub fn assign<'p>(&mut self, order_iri: &str, products: impl IntoIterator<Item = &'p str>) -> Vec<String> {
        let mut kept = BTreeMap::new();
        let ids = products
            .into_iter()
            .map(|product| {
                let id = match self.lines.get(product) {
                    Some(id) => id.clone(),
                    None => {
                        // A producer may name its lines as we do: never take one of its ids.
                        loop {
                            self.next += 1;
                            let candidate = Urls::placeholder_line(order_iri, self.next);
                            if !self.lines.values().any(|id| *id == LineId::Theirs(candidate.clone())) {
                                break;
                            }
                        }
                        LineId::Ours(self.next)
                    }
                };
                let iri = match &id {
                    LineId::Ours(n) => Urls::placeholder_line(order_iri, *n),
                    LineId::Theirs(iri) => iri.clone(),
                };
                kept.insert(product.to_owned(), id);
                iri
            })
            .collect();
        self.lines = kept;
        ids
    }

    /// Takes the producer's ids from its answer of the order (see [`SentLine::answered_by`]).
    pub fn learn(&mut self, sent: &[SentLine], answer: &Order) {
        for line in sent {
            let theirs = answer.lines.iter().find_map(|remote| {
                let id = remote.id.as_deref()?;
                (line.answered_by(remote) && !id.starts_with("_:")).then_some(id)
            });
            if let Some(id) = theirs {
                self.lines.insert(line.product.clone(), LineId::Theirs(id.to_owned()));
            }
        }
    }

    /// Learns from an order the producer lists, before anything was sent in this process (a
    /// creation whose answer was lost): its lines by the product their offer offers.
    pub fn learn_listed(&mut self, listed: &Order, offers: &BTreeMap<String, String>) {
        for remote in &listed.lines {
            let Some(id) = remote.id.as_deref().filter(|id| !id.starts_with("_:")) else { continue };
            let product = remote
                .offered_item
                .clone()
                .or_else(|| remote.offer_id.as_ref().and_then(|offer| offers.get(offer).cloned()));
            if let Some(product) = product {
                self.lines.insert(product, LineId::Theirs(id.to_owned()));
            }
        }
    }
}

/// What a producer says it takes off an order we keep with it: its `dfc-b:discount` on the
/// Order (the total) and on each line (by the product ordered), as its last answer gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteDiscounts {
    pub total: rust_decimal::Decimal,
    pub lines: BTreeMap<String, rust_decimal::Decimal>,
}

impl RemoteDiscounts {
    pub fn parse(stored: Option<&str>) -> RemoteDiscounts {
        stored.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
    }

    /// From the producer's answer for the lines sent (see [`SentLine::answered_by`]); None when it
    /// gives nothing.
    pub fn from_answer(sent: &[SentLine], answer: &Order) -> Option<String> {
        let mut discounts = RemoteDiscounts { total: answer.discount.unwrap_or_default(), lines: BTreeMap::new() };
        for line in sent {
            let given = answer.lines.iter().find(|remote| line.answered_by(remote));
            if let Some(discount) = given.and_then(|l| l.discount).filter(|d| !d.is_zero()) {
                discounts.lines.insert(line.product.clone(), discount);
            }
        }
        (!discounts.total.is_zero() || !discounts.lines.is_empty())
            .then(|| serde_json::to_string(&discounts).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfc::model::OrderLine;

    fn remote_line(id: &str, offer: &str, item: Option<&str>) -> OrderLine {
        OrderLine {
            id: Some(id.into()),
            offer_id: Some(offer.into()),
            offered_item: item.map(str::to_owned),
            quantity: None,
            quantity_path: String::new(),
            price: None,
            discount: None,
            description: None,
        }
    }

    fn answer(lines: Vec<OrderLine>) -> Order {
        Order {
            id: Some("http://p/Orders/9".into()),
            number: None,
            date: None,
            sale_session: None,
            sale_session_id: None,
            lines,
            ordered_by: None,
            sold_by: None,
            order_status: None,
            fulfilment_status: None,
            payment_status: None,
            discount: None,
        }
    }

    #[test]
    fn lines_keep_their_number_and_take_the_producers_id() {
        let mut ids = LineIds::default();
        let placeholder = "http://p/api/dfc/Enterprises/e/Orders";
        assert_eq!(
            ids.assign(placeholder, ["beans", "oats"]),
            [
                "http://p/api/dfc/Enterprises/e/Orders/OrderLines/1",
                "http://p/api/dfc/Enterprises/e/Orders/OrderLines/2"
            ]
        );
        let sent = [
            SentLine { product: "beans".into(), offer: "http://p/beans/Offer".into(), id: "x".into(), quantity: 1 },
            SentLine { product: "oats".into(), offer: "http://p/oats/Offer".into(), id: "y".into(), quantity: 1 },
        ];
        // The producer names the beans line (matched by the product its own offer offers) and
        // says nothing of the oats one.
        ids.learn(
            &sent,
            &answer(vec![remote_line("http://p/Orders/9/orderLines/460", "http://p/Offers/1", Some("beans"))]),
        );
        let order = "http://p/Orders/9";
        assert_eq!(
            ids.assign(order, ["beans", "oats", "rice"]),
            ["http://p/Orders/9/orderLines/460", "http://p/Orders/9/OrderLines/2", "http://p/Orders/9/OrderLines/3"]
        );
        // Oats dropped, then ordered again: a number never given before.
        ids.assign(order, ["beans", "rice"]);
        assert_eq!(ids.assign(order, ["oats"]), ["http://p/Orders/9/OrderLines/4"]);
        let stored = ids.to_json();
        assert_eq!(LineIds::parse(Some(&stored)), ids);
        assert_eq!(LineIds::parse(Some("not json")), LineIds::default());
    }

    #[test]
    fn a_new_line_never_takes_an_id_the_producer_gave_another() {
        let mut ids = LineIds::default();
        let sent_ids = ids.assign("http://p/Orders/1", ["beans"]);
        let sent = [SentLine { product: "beans".into(), offer: "o".into(), id: sent_ids[0].clone(), quantity: 1 }];
        ids.learn(&sent, &answer(vec![remote_line("http://p/Orders/1/OrderLines/2", "o", None)]));
        assert_eq!(
            ids.assign("http://p/Orders/1", ["beans", "oats"]),
            ["http://p/Orders/1/OrderLines/2", "http://p/Orders/1/OrderLines/3"]
        );
    }

    #[test]
    fn blank_node_answers_teach_nothing() {
        let mut ids = LineIds::default();
        let sent_ids = ids.assign("http://p/Orders", ["beans"]);
        let sent = [SentLine { product: "beans".into(), offer: "o".into(), id: sent_ids[0].clone(), quantity: 1 }];
        ids.learn(&sent, &answer(vec![remote_line("_:b1", "o", None)]));
        assert_eq!(ids.assign("http://p/Orders/1", ["beans"]), ["http://p/Orders/1/OrderLines/1"]);
    }
}
