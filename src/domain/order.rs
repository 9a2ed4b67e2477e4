//! Order, fulfilment and payment states (`dfc-v:` vocabulary) and what a producer does when a
//! trader asks for a state.

use std::fmt;

macro_rules! vocabulary_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The local name in the `dfc-v:` vocabulary.
            pub fn dfc_name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($variant) => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.dfc_name())
            }
        }
    };
}

vocabulary_enum!(OrderStatus { Draft, Held, Complete, Cancelled });
vocabulary_enum!(FulfilmentStatus { Held, Unfulfilled, Fulfilled, Cancelled });
vocabulary_enum!(PaymentStatus { Unpaid, Paid, Cancelled });

/// What a request for `requested` means for an order that is `current`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// Replace the lines and keep (or reserve) stock: the order stays Held.
    Amend,
    /// Replace the lines, then turn the reservations into sales.
    Complete,
    /// Release everything.
    Cancel,
    /// Asking again for the final state the order is already in: answer it unchanged.
    Repeat,
}

/// Why a state change is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    #[error("the order is complete and can no longer be changed")]
    AlreadyComplete,
    #[error("the order is cancelled and can no longer be changed")]
    AlreadyCancelled,
}

impl OrderStatus {
    /// The producer's rules: Held orders may be amended, completed or cancelled; Complete and
    /// Cancelled are final. Draft is treated as Held, since a producer reserves for both.
    pub fn change_to(self, requested: OrderStatus) -> Result<StatusChange, StatusChangeError> {
        use OrderStatus::*;
        match (self, requested) {
            (Draft | Held, Draft | Held) => Ok(StatusChange::Amend),
            (Draft | Held, Complete) => Ok(StatusChange::Complete),
            (Draft | Held, Cancelled) => Ok(StatusChange::Cancel),
            (Complete, Complete) | (Cancelled, Cancelled) => Ok(StatusChange::Repeat),
            (Complete, _) => Err(StatusChangeError::AlreadyComplete),
            (Cancelled, _) => Err(StatusChangeError::AlreadyCancelled),
        }
    }

    /// The fulfilment state a producer reports for an order in this state.
    pub fn fulfilment(self) -> FulfilmentStatus {
        match self {
            OrderStatus::Draft | OrderStatus::Held => FulfilmentStatus::Held,
            OrderStatus::Complete => FulfilmentStatus::Unfulfilled,
            OrderStatus::Cancelled => FulfilmentStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [OrderStatus; 4] =
        [OrderStatus::Draft, OrderStatus::Held, OrderStatus::Complete, OrderStatus::Cancelled];

    #[test]
    fn final_states_refuse_every_other_state() {
        for requested in ALL {
            let from_complete = OrderStatus::Complete.change_to(requested);
            let from_cancelled = OrderStatus::Cancelled.change_to(requested);
            match requested {
                OrderStatus::Complete => assert_eq!(from_complete, Ok(StatusChange::Repeat)),
                _ => assert_eq!(from_complete, Err(StatusChangeError::AlreadyComplete)),
            }
            match requested {
                OrderStatus::Cancelled => assert_eq!(from_cancelled, Ok(StatusChange::Repeat)),
                _ => assert_eq!(from_cancelled, Err(StatusChangeError::AlreadyCancelled)),
            }
        }
    }

    #[test]
    fn held_orders_move_anywhere() {
        assert_eq!(OrderStatus::Held.change_to(OrderStatus::Held), Ok(StatusChange::Amend));
        assert_eq!(OrderStatus::Held.change_to(OrderStatus::Complete), Ok(StatusChange::Complete));
        assert_eq!(OrderStatus::Held.change_to(OrderStatus::Cancelled), Ok(StatusChange::Cancel));
        assert_eq!(OrderStatus::Complete.fulfilment(), FulfilmentStatus::Unfulfilled);
    }

    #[test]
    fn vocabulary_names_round_trip() {
        for status in ALL {
            assert_eq!(OrderStatus::from_name(status.dfc_name()), Some(status));
        }
        assert_eq!(FulfilmentStatus::from_name("Unfulfilled"), Some(FulfilmentStatus::Unfulfilled));
        assert_eq!(PaymentStatus::from_name("Paid"), Some(PaymentStatus::Paid));
        assert_eq!(OrderStatus::from_name("held"), None);
    }
}
