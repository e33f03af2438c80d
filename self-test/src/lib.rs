//! Proof that the conformance kit catches bugs.
//!
//! The reference client carries deliberate defects behind its `broken-variants` feature
//! ([`BrokenVariant`]); this package is the only one that switches the feature on, so the
//! binaries users install never contain them. It offers:
//!
//! - [`driver`]: the reference client with one defect, as an in-process driver;
//! - the `broken-adapter` binary: the same behind the adapter protocol;
//! - `tests/broken_variants.rs`: the mutation table (each defect fails exactly the scenarios
//!   that describe it);
//! - `tests/properties.rs`: the property machine, on the conforming client and on a broken
//!   one it must catch and shrink.
//!
//! ```
//! use prelude_self_test::{BrokenVariant, driver};
//!
//! let broken = driver(BrokenVariant::NoCoalescing);
//! ```

pub use prelude_session::BrokenVariant;

use prelude_conformance::InProcess;

/// The reference client with `variant` switched on, reporting itself as
/// `prelude-session (broken: <variant>)`.
pub fn driver(variant: BrokenVariant) -> InProcess {
    InProcess::customised(format!("prelude-session (broken: {variant})"), move |b| {
        b.broken(variant)
    })
}
