//! The server's virtual clock. Everything time-based (token expiry, DPoP `iat` windows, reuse
//! grace, nonce rotation, the `Date` header) reads it, so a test can move time instead of sleeping.
//!
//! By default the clock follows the system clock plus an offset; it can also be frozen at an
//! instant, after which only `set` and `advance` move it.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What the control API reports about the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockReading {
    /// Virtual now, unix seconds.
    pub now: i64,
    /// Whether the clock is frozen (it moves only when told to).
    pub frozen: bool,
}

#[derive(Debug)]
struct State {
    /// Added to the system clock while running.
    offset_ms: i64,
    /// When frozen, virtual now in unix milliseconds.
    frozen_at_ms: Option<i64>,
}

/// A virtual clock shared by the whole server.
#[derive(Debug)]
pub(crate) struct Clock {
    state: Mutex<State>,
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Clock {
    /// A clock that follows the system clock, or is frozen at `frozen_at` (unix seconds).
    pub(crate) fn new(frozen_at: Option<i64>) -> Self {
        Self {
            state: Mutex::new(State {
                offset_ms: 0,
                frozen_at_ms: frozen_at.map(|s| s.saturating_mul(1000)),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Virtual now in unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        let state = self.lock();
        state
            .frozen_at_ms
            .unwrap_or_else(|| system_ms().saturating_add(state.offset_ms))
    }

    /// Virtual now in unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub(crate) fn reading(&self) -> ClockReading {
        let frozen = self.lock().frozen_at_ms.is_some();
        ClockReading {
            now: self.now(),
            frozen,
        }
    }

    /// Sets virtual now; `frozen` decides whether it keeps running from there.
    pub(crate) fn set(&self, now: i64, frozen: bool) {
        let mut state = self.lock();
        let now_ms = now.saturating_mul(1000);
        if frozen {
            state.frozen_at_ms = Some(now_ms);
        } else {
            state.frozen_at_ms = None;
            state.offset_ms = now_ms.saturating_sub(system_ms());
        }
    }

    /// Moves virtual time forward (or back, with a negative amount).
    pub(crate) fn advance(&self, seconds: i64) {
        let mut state = self.lock();
        let delta = seconds.saturating_mul(1000);
        match state.frozen_at_ms.as_mut() {
            Some(at) => *at = at.saturating_add(delta),
            None => state.offset_ms = state.offset_ms.saturating_add(delta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_told() {
        let clock = Clock::new(Some(1_000));
        assert_eq!(clock.now(), 1_000);
        clock.advance(59);
        assert_eq!(
            clock.reading(),
            ClockReading {
                now: 1_059,
                frozen: true
            }
        );
        clock.set(5, true);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn a_running_clock_keeps_its_offset() {
        let clock = Clock::new(None);
        let before = clock.now();
        clock.advance(3_600);
        assert!(clock.now() >= before + 3_600);
        clock.set(42, false);
        assert!((42..=43).contains(&clock.now()));
        assert!(!clock.reading().frozen);
    }
}
