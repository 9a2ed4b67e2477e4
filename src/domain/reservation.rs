//! The reservation rules: the state of a customer order's part at one producer, and how scarce
//! stock is shared out when a producer cannot hold a whole batch of waiting orders.
//!
//! When a producer refuses a send for stock, the waiting parts are admitted in the order their
//! checkouts committed, each as far as the stock the producer says is available goes, and only
//! those that do not fit are refused. Adding an order never lowers what a producer order asks for,
//! so a part refused at its turn would not fit at the end either: the admitted set is maximal, and
//! ten units for a hundred buyers give exactly ten.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

/// Whether a producer holds a customer order's part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartState {
    /// Committed, not yet decided by a send.
    Pending,
    /// The producer acknowledged a send that carried it: the stock is held.
    Reserved,
    /// The producer cannot hold it (stock, or a refusal of the payload).
    Refused,
    /// The producer could not be reached within the checkout's deadline; the send stays queued
    /// and will decide it.
    Unconfirmed,
    /// The order was cancelled, refused elsewhere or withdrawn: nothing of it is asked for.
    Released,
}

impl PartState {
    pub fn as_str(self) -> &'static str {
        match self {
            PartState::Pending => "PENDING",
            PartState::Reserved => "RESERVED",
            PartState::Refused => "REFUSED",
            PartState::Unconfirmed => "UNCONFIRMED",
            PartState::Released => "RELEASED",
        }
    }

    pub fn parse(text: &str) -> Option<PartState> {
        [PartState::Pending, PartState::Reserved, PartState::Refused, PartState::Unconfirmed, PartState::Released]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Waiting for a send to decide it.
    pub fn is_open(self) -> bool {
        matches!(self, PartState::Pending | PartState::Unconfirmed)
    }
}

/// What a checkout does with a part its producer did not confirm within the deadline (the
/// producer is down or slow; the send stays queued and will decide the part later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnconfirmedPolicy {
    /// Acknowledge it (UNCONFIRMED) only if the producer publishes no stock for any of the
    /// part's products (use case 7: it takes any quantity); otherwise withdraw the order, so
    /// no customer is told "ordered" for goods that may not exist.
    #[default]
    AcknowledgeUncounted,
    /// Always acknowledge it: a later refusal for stock refuses the order after the fact.
    Acknowledge,
    /// Never: the customer is told the producer could not confirm, and nothing is kept.
    Withdraw,
}

impl UnconfirmedPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            UnconfirmedPolicy::AcknowledgeUncounted => "acknowledge_uncounted",
            UnconfirmedPolicy::Acknowledge => "acknowledge",
            UnconfirmedPolicy::Withdraw => "withdraw",
        }
    }

    pub fn parse(text: &str) -> Option<UnconfirmedPolicy> {
        [UnconfirmedPolicy::AcknowledgeUncounted, UnconfirmedPolicy::Acknowledge, UnconfirmedPolicy::Withdraw]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// Whether a part not confirmed in time is acknowledged, given whether its producer
    /// publishes stock for any of its products.
    pub fn acknowledges(self, stock_counted: bool) -> bool {
        match self {
            UnconfirmedPolicy::Acknowledge => true,
            UnconfirmedPolicy::Withdraw => false,
            UnconfirmedPolicy::AcknowledgeUncounted => !stock_counted,
        }
    }
}

/// How the waiting parts of one send are shared out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation<K> {
    /// In the order they were admitted (the order of the candidates).
    pub admitted: Vec<K>,
    pub refused: Vec<K>,
}

/// Whether what a producer order would send fits the stock a producer says is available:
/// products it did not name as short are not limited.
pub fn fits(sent: &BTreeMap<String, i64>, available: &BTreeMap<String, Decimal>) -> bool {
    available.iter().all(|(product, limit)| Decimal::from(sent.get(product).copied().unwrap_or(0)) <= *limit)
}

/// Admits `candidates` in their order as far as `available` goes. `sent` gives what the
/// producer order sends with the already held parts plus a set of admitted candidates, per
/// ordered product; it must not decrease when a candidate is added.
pub fn allocate<K: Ord + Clone>(
    candidates: &[K],
    available: &BTreeMap<String, Decimal>,
    mut sent: impl FnMut(&BTreeSet<K>) -> BTreeMap<String, i64>,
) -> Allocation<K> {
    let mut allocation = Allocation { admitted: Vec::new(), refused: Vec::new() };
    let mut admitted = BTreeSet::new();
    if !fits(&sent(&admitted), available) {
        // What the producer already holds does not fit any more: nothing waiting can.
        allocation.refused = candidates.to_vec();
        return allocation;
    }
    for candidate in candidates {
        admitted.insert(candidate.clone());
        if fits(&sent(&admitted), available) {
            allocation.admitted.push(candidate.clone());
        } else {
            admitted.remove(candidate);
            allocation.refused.push(candidate.clone());
        }
    }
    allocation
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sums(
        held: &BTreeMap<String, i64>,
        wants: &[BTreeMap<String, i64>],
        set: &BTreeSet<usize>,
    ) -> BTreeMap<String, i64> {
        let mut sent = held.clone();
        for i in set {
            for (product, q) in &wants[*i] {
                *sent.entry(product.clone()).or_default() += q;
            }
        }
        sent
    }

    #[test]
    fn ten_units_for_a_hundred_buyers_of_one() {
        let wants: Vec<BTreeMap<String, i64>> = (0..100).map(|_| BTreeMap::from([("eggs".to_owned(), 1)])).collect();
        let available = BTreeMap::from([("eggs".to_owned(), Decimal::from(10))]);
        let candidates: Vec<usize> = (0..100).collect();
        let allocation = allocate(&candidates, &available, |set| sums(&BTreeMap::new(), &wants, set));
        assert_eq!(allocation.admitted, (0..10).collect::<Vec<_>>(), "first come, first served");
        assert_eq!(allocation.refused.len(), 90);
    }

    #[test]
    fn a_smaller_later_order_takes_what_a_larger_earlier_one_cannot() {
        let wants = vec![
            BTreeMap::from([("eggs".to_owned(), 4)]),
            BTreeMap::from([("eggs".to_owned(), 5)]),
            BTreeMap::from([("eggs".to_owned(), 2)]),
        ];
        let available = BTreeMap::from([("eggs".to_owned(), Decimal::from(7))]);
        let held = BTreeMap::from([("eggs".to_owned(), 1)]);
        let allocation = allocate(&[0, 1, 2], &available, |set| sums(&held, &wants, set));
        assert_eq!(allocation, Allocation { admitted: vec![0, 2], refused: vec![1] });
    }

    #[test]
    fn nothing_waiting_fits_when_what_is_held_does_not() {
        let wants = vec![BTreeMap::from([("eggs".to_owned(), 1)])];
        let available = BTreeMap::from([("eggs".to_owned(), Decimal::from(2))]);
        let held = BTreeMap::from([("eggs".to_owned(), 3)]);
        let allocation = allocate(&[0], &available, |set| sums(&held, &wants, set));
        assert_eq!(allocation, Allocation { admitted: vec![], refused: vec![0] });
    }

    #[test]
    fn unconfirmed_parts_are_acknowledged_as_the_policy_says() {
        use UnconfirmedPolicy::*;
        assert_eq!(UnconfirmedPolicy::default(), AcknowledgeUncounted, "the safe default");
        assert!(AcknowledgeUncounted.acknowledges(false) && !AcknowledgeUncounted.acknowledges(true));
        assert!(Acknowledge.acknowledges(true) && Acknowledge.acknowledges(false));
        assert!(!Withdraw.acknowledges(true) && !Withdraw.acknowledges(false));
        for policy in [AcknowledgeUncounted, Acknowledge, Withdraw] {
            assert_eq!(UnconfirmedPolicy::parse(policy.as_str()), Some(policy));
        }
    }

    #[test]
    fn part_states_round_trip() {
        for state in
            [PartState::Pending, PartState::Reserved, PartState::Refused, PartState::Unconfirmed, PartState::Released]
        {
            assert_eq!(PartState::parse(state.as_str()), Some(state));
        }
        assert_eq!(PartState::parse("HELD"), None);
    }

    proptest! {
        /// Whatever the orders and the stock: what is admitted fits, nothing refused could still
        /// be added, and an order is never refused while a later one that needs the same
        /// short product no less is admitted.
        #[test]
        fn admitted_fit_and_no_refused_order_would(
            held in proptest::collection::btree_map("[abc]", 0i64..5, 0..3),
            wants in proptest::collection::vec(proptest::collection::btree_map("[abcd]", 1i64..6, 1..3), 0..30),
            limits in proptest::collection::btree_map("[abc]", 0i64..30, 0..3),
        ) {
            let available: BTreeMap<String, Decimal> = limits.iter().map(|(p, q)| (p.clone(), Decimal::from(*q))).collect();
            let candidates: Vec<usize> = (0..wants.len()).collect();
            let allocation = allocate(&candidates, &available, |set| sums(&held, &wants, set));
            prop_assert_eq!(allocation.admitted.len() + allocation.refused.len(), wants.len());
            let admitted: BTreeSet<usize> = allocation.admitted.iter().copied().collect();
            let baseline_fits = fits(&sums(&held, &wants, &BTreeSet::new()), &available);
            if baseline_fits {
                prop_assert!(fits(&sums(&held, &wants, &admitted), &available));
            } else {
                prop_assert!(admitted.is_empty());
            }
            for refused in &allocation.refused {
                let mut more = admitted.clone();
                more.insert(*refused);
                prop_assert!(!fits(&sums(&held, &wants, &more), &available), "order {} would still fit", refused);
            }
        }
    }
}
