//! Proof that the conformance kit catches bugs.
//!
//! The reference client carries deliberate defects behind its `broken-variants` feature
//! ([`BrokenVariant`]); this package is the only one that switches the feature on, so the
//! binaries users install never contain them. It offers:
//!
//! - [`driver`]: the reference client with one defect, as an in-process driver;
//!   [`unusual_driver`]: with one correct but unusual behaviour ([`UnusualVariant`]), which
//!   must fail no scenario;
//! - [`serve_in_order`]: an adapter loop that answers one request at a time, in order (the
//!   plumbing bug `check-adapter` must reject);
//! - the `broken-adapter` binary: either behind the adapter protocol;
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

pub use prelude_session::{BrokenVariant, UnusualVariant};

use std::sync::Arc;

use prelude_conformance::protocol::{Request, Response, SdkError, SdkErrorKind, line_id};
use prelude_conformance::{Driver, InProcess};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// The reference client with `variant` switched on, reporting itself as
/// `prelude-session (broken: <variant>)`.
pub fn driver(variant: BrokenVariant) -> InProcess {
    InProcess::customised(format!("prelude-session (broken: {variant})"), move |b| {
        b.broken(variant)
    })
}

/// The reference client with the correct but unusual behaviour `variant` switched on,
/// reporting itself as `prelude-session (unusual: <variant>)`.
pub fn unusual_driver(variant: UnusualVariant) -> InProcess {
    InProcess::customised(format!("prelude-session (unusual: {variant})"), move |b| {
        b.unusual(variant)
    })
}

/// A variant of the reference client the `broken-adapter` binary can serve: a defect or an
/// unusual but correct behaviour, by its kebab-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// One deliberate defect.
    Broken(BrokenVariant),
    /// One correct but unusual behaviour.
    Unusual(UnusualVariant),
}

impl Variant {
    /// The in-process driver of this variant.
    pub fn driver(self) -> InProcess {
        match self {
            Self::Broken(v) => driver(v),
            Self::Unusual(v) => unusual_driver(v),
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .map(Self::Broken)
            .or_else(|_| s.parse().map(Self::Unusual))
            .map_err(|_| format!("no broken or unusual variant is called {s:?}"))
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Broken(v) => v.fmt(f),
            Self::Unusual(v) => v.fmt(f),
        }
    }
}

/// Serves `driver` the wrong way: reads a request, waits for its answer, writes it, and only
/// then reads the next, so answers come back in request order (the adapter plumbing bug
/// `check-adapter` must reject).
pub async fn serve_in_order(
    driver: Arc<dyn Driver>,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut lines = BufReader::new(input).lines();
    while let Some(line) = lines.next_line().await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => Response::new(request.id, driver.call(request.client, request.op).await),
            // Only the ordering is broken: an op it cannot read is still answered.
            Err(e) => {
                let id = line_id(&line).unwrap_or(0);
                Response::new(
                    id,
                    Err(SdkError::new(SdkErrorKind::Unsupported, e.to_string())),
                )
            }
        };
        let mut answer = serde_json::to_string(&response).map_err(std::io::Error::other)?;
        answer.push('\n');
        output.write_all(answer.as_bytes()).await?;
        output.flush().await?;
    }
    Ok(())
}
