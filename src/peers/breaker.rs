//! A circuit breaker per producer platform: after a run of failed calls the peer is left alone
//! for a while (doubling, bounded), then one probe is let through (half-open); a success closes
//! it. A dead peer is neither hammered by every checkout nor allowed to burn retry budgets.
//! State is per process: each replica learns a peer's health from its own calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures in a row that open the circuit.
const FAILURES_TO_OPEN: u32 = 3;

#[derive(Clone, Debug, Default)]
struct Circuit {
    failures: u32,
    /// Closed while None; open until then; half-open after it (one probe at a time).
    open_until: Option<Instant>,
    probing: bool,
    openings: u32,
}

/// What a caller may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// Call: the circuit is closed, or this call is the half-open probe.
    Call,
    /// Do not call before this instant (the circuit is open, or another call is probing).
    Wait(Instant),
}

#[derive(Clone)]
pub struct Breakers {
    circuits: Arc<Mutex<HashMap<String, Circuit>>>,
    base: Duration,
    max: Duration,
}

impl Breakers {
    pub fn new(base: Duration, max: Duration) -> Breakers {
        Breakers { circuits: Arc::default(), base: base.max(Duration::from_millis(10)), max: max.max(base) }
    }

    pub fn permit(&self, peer: &str) -> Permit {
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        let circuit = circuits.entry(peer.to_owned()).or_default();
        let now = Instant::now();
        match circuit.open_until {
            None => Permit::Call,
            Some(until) if now < until => Permit::Wait(until),
            Some(_) if circuit.probing => Permit::Wait(now + self.base),
            Some(_) => {
                circuit.probing = true;
                Permit::Call
            }
        }
    }

    /// A call succeeded; returns whether the circuit was open (work held back may go now).
    pub fn success(&self, peer: &str) -> bool {
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        let circuit = circuits.entry(peer.to_owned()).or_default();
        let was_open = circuit.open_until.is_some();
        *circuit = Circuit::default();
        was_open
    }

    /// A person asks for a call now (a manual retry): the circuit closes, its history forgotten.
    pub fn reset(&self, peer: &str) {
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        circuits.remove(peer);
    }

    /// A call failed in a way that says the peer is unwell (not a refusal of our payload).
    pub fn failure(&self, peer: &str) {
        let mut circuits = self.circuits.lock().unwrap_or_else(PoisonError::into_inner);
        let circuit = circuits.entry(peer.to_owned()).or_default();
        circuit.failures += 1;
        circuit.probing = false;
        if circuit.failures >= FAILURES_TO_OPEN {
            let factor = 2u32.saturating_pow(circuit.openings.min(16));
            circuit.openings += 1;
            circuit.open_until = Some(Instant::now() + self.base.saturating_mul(factor).min(self.max));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_a_run_of_failures_then_probes_once_and_closes_on_success() {
        let breakers = Breakers::new(Duration::from_millis(30), Duration::from_secs(1));
        for _ in 0..FAILURES_TO_OPEN - 1 {
            breakers.failure("farm");
            assert_eq!(breakers.permit("farm"), Permit::Call, "still closed");
        }
        breakers.failure("farm");
        assert!(matches!(breakers.permit("farm"), Permit::Wait(_)), "open");
        assert_eq!(breakers.permit("mill"), Permit::Call, "per peer");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breakers.permit("farm"), Permit::Call, "half-open: one probe");
        assert!(matches!(breakers.permit("farm"), Permit::Wait(_)), "only one probe at a time");
        assert!(breakers.success("farm"), "it was open");
        assert_eq!(breakers.permit("farm"), Permit::Call);
        assert!(!breakers.success("farm"));
        for _ in 0..FAILURES_TO_OPEN {
            breakers.failure("farm");
        }
        breakers.reset("farm");
        assert_eq!(breakers.permit("farm"), Permit::Call, "a manual retry goes through at once");
    }

    #[test]
    fn a_failed_probe_opens_again_for_longer() {
        let breakers = Breakers::new(Duration::from_millis(20), Duration::from_secs(1));
        for _ in 0..FAILURES_TO_OPEN {
            breakers.failure("farm");
        }
        let Permit::Wait(first) = breakers.permit("farm") else { panic!("open") };
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(breakers.permit("farm"), Permit::Call);
        breakers.failure("farm");
        let Permit::Wait(second) = breakers.permit("farm") else { panic!("open again") };
        assert!(second.duration_since(first) >= Duration::from_millis(30), "doubled");
    }
}
