//! A circuit breaker: after `threshold` consecutive outages the server is not asked at all
//! for `cooldown` (every call is an instant miss), then one probe decides whether traffic
//! resumes. A dead Redis then costs nothing per request instead of a timeout each.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; others wait for its verdict (or for it to be lost: `since` + cooldown).
    HalfOpen {
        since: Instant,
    },
}

pub(crate) struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

/// What a failure did to the breaker, so the caller can count openings.
#[derive(PartialEq, Eq, Debug)]
pub(crate) enum Tripped {
    Opened,
    No,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold,
            cooldown,
        }
    }

    /// Whether a call may go to the server now.
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now < until => false,
            State::HalfOpen { since } if now < since + self.cooldown => false,
            State::Open { .. } | State::HalfOpen { .. } => {
                *state = State::HalfOpen { since: now };
                true
            }
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.state.lock(), State::Closed { .. })
    }

    pub fn success(&self) {
        *self.state.lock() = State::Closed { failures: 0 };
    }

    pub fn failure(&self) -> Tripped {
        let mut state = self.state.lock();
        let open = State::Open {
            until: Instant::now() + self.cooldown,
        };
        match *state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                Tripped::No
            }
            State::Closed { .. } | State::HalfOpen { .. } => {
                *state = open;
                Tripped::Opened
            }
            // Late failures of calls let through before it opened change nothing.
            State::Open { .. } => Tripped::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let breaker = Breaker::new(3, Duration::from_millis(30));
        assert!(breaker.allow());
        assert_eq!(breaker.failure(), Tripped::No);
        breaker.success();
        assert_eq!(breaker.failure(), Tripped::No);
        assert_eq!(breaker.failure(), Tripped::No);
        assert_eq!(breaker.failure(), Tripped::Opened);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one probe after the cool-down");
        assert!(!breaker.allow(), "only one probe at a time");
        assert_eq!(
            breaker.failure(),
            Tripped::Opened,
            "a failed probe opens it again"
        );
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.success();
        assert!(breaker.allow() && breaker.allow());
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_lost_probe_does_not_block_forever() {
        let breaker = Breaker::new(1, Duration::from_millis(20));
        breaker.failure();
        std::thread::sleep(Duration::from_millis(25));
        assert!(breaker.allow());
        std::thread::sleep(Duration::from_millis(25));
        assert!(
            breaker.allow(),
            "a probe whose verdict never came is replaced"
        );
    }
}
