//! Numbers from JS options to Rust: the shim has already checked them (safe, non-negative
//! integers in range), so this only converts, the same way for every class. Out-of-range
//! values still convert without panicking (saturating), since a panic must not reach Node.

use std::time::Duration;

pub trait FromJsNumber {
    fn from_js(n: f64) -> Self;
}

impl FromJsNumber for u64 {
    fn from_js(n: f64) -> Self {
        n as u64 // `as` saturates, and maps NaN to 0
    }
}

impl FromJsNumber for usize {
    fn from_js(n: f64) -> Self {
        n as usize
    }
}

impl FromJsNumber for u32 {
    fn from_js(n: f64) -> Self {
        n as u32
    }
}

/// Milliseconds.
impl FromJsNumber for Duration {
    fn from_js(ms: f64) -> Self {
        Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX)
    }
}

/// Sets `slot` from an option the caller gave; keeps the default when it gave none.
pub fn set_from<T: FromJsNumber>(slot: &mut T, value: Option<f64>) {
    if let Some(n) = value {
        *slot = T::from_js(n);
    }
}
