//! The crypto ceiling and core pinning.
//!
//! A refresh costs the server at least one ES256 verification (the DPoP proof) and one ES256
//! signature (the access token). [`CryptoCeiling::measure`] times that pair on one core; the
//! ceiling of a server is that rate times the cores it has. [`Pinning`] splits the machine's
//! cores between a server started by the bench and the load generator, so neither takes the
//! other's cycles and "the cores the server has" means something.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};

use super::bench_error;
use crate::Error;

/// Which cores the server and the load generator run on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pinning {
    /// Core ids the server's threads are pinned to (empty: not pinned).
    pub server_cores: Vec<usize>,
    /// Core ids the load generator's threads are pinned to (empty: not pinned).
    pub load_cores: Vec<usize>,
    /// How the split was made, or why there is none, for the report.
    pub note: String,
}

impl Pinning {
    /// Half the cores (rounded down, at least one) for the server, the rest for the load;
    /// on a single core, or where the OS does not report cores, no pinning.
    pub fn split() -> Self {
        let cores: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        if cores.len() < 2 {
            return Self::none("fewer than two cores: the server and the load share them");
        }
        let (server, load) = cores.split_at(cores.len() / 2);
        Self {
            server_cores: server.to_vec(),
            load_cores: load.to_vec(),
            note: format!(
                "server pinned to core(s) {server:?}, load generator to core(s) {load:?}"
            ),
        }
    }

    /// No pinning, with the reason.
    pub fn none(note: impl Into<String>) -> Self {
        Self {
            server_cores: Vec::new(),
            load_cores: Vec::new(),
            note: note.into(),
        }
    }

    /// Whether the server and the load run on separate cores.
    pub fn pinned(&self) -> bool {
        !self.server_cores.is_empty()
    }
}

/// A closure for `on_thread_start` that pins each new thread of a runtime to the next of
/// `cores`, round robin (does nothing for an empty list).
pub(crate) fn pin_threads(cores: Vec<usize>) -> impl Fn() + Send + Sync + 'static {
    let next = std::sync::atomic::AtomicUsize::new(0);
    move || {
        if cores.is_empty() {
            return;
        }
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _pinned = core_affinity::set_for_current(core_affinity::CoreId {
            id: cores[i % cores.len()],
        });
    }
}

/// ES256 verify + sign per second on one core, and the ceiling it gives a server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CryptoCeiling {
    /// One verification, µs.
    pub verify_us: f64,
    /// One signature, µs.
    pub sign_us: f64,
    /// Verify + sign pairs per second on one core.
    pub per_core_per_s: f64,
    /// Cores the server has.
    pub cores: usize,
    /// `per_core_per_s × cores`: refreshes per second no server can beat on those cores.
    pub per_s: f64,
}

impl CryptoCeiling {
    /// Times verify and sign (aws-lc-rs, as the mock uses) for about `budget`, on a thread
    /// pinned to `core` when given, and scales to `cores`.
    pub fn measure(core: Option<usize>, cores: usize, budget: Duration) -> Result<Self, Error> {
        std::thread::spawn(move || {
            if let Some(id) = core {
                let _pinned = core_affinity::set_for_current(core_affinity::CoreId { id });
            }
            Self::time(budget, cores.max(1))
        })
        .join()
        .map_err(|_| bench_error("the crypto ceiling's thread panicked"))?
    }

    fn time(budget: Duration, cores: usize) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let server =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(bench_error)?;
        let client =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(bench_error)?;
        // About the size of a proof's signing input.
        let message = [7u8; 600];
        let signature = client.sign(&rng, &message).map_err(bench_error)?;
        let public = client.public_key().as_ref().to_vec();
        let verify = || {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                .verify(&message, signature.as_ref())
                .map_err(|_| bench_error("a valid signature did not verify"))
        };
        let sign = || server.sign(&rng, &message).map(drop).map_err(bench_error);
        let rounds = |op: &dyn Fn() -> Result<(), Error>| -> Result<f64, Error> {
            let (started, mut n) = (Instant::now(), 0u32);
            while started.elapsed() < budget / 2 || n < 10 {
                op()?;
                n += 1;
            }
            Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(n))
        };
        let (verify_us, sign_us) = (rounds(&verify)?, rounds(&sign)?);
        let per_core_per_s = 1e6 / (verify_us + sign_us);
        Ok(Self {
            verify_us,
            sign_us,
            per_core_per_s,
            cores,
            per_s: per_core_per_s * cores as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_scales_with_cores() {
        let ceiling = CryptoCeiling::measure(None, 3, Duration::from_millis(20)).expect("measures");
        assert!(ceiling.verify_us > 0.0 && ceiling.sign_us > 0.0);
        assert!((ceiling.per_s - 3.0 * ceiling.per_core_per_s).abs() < 1e-6);
    }

    #[test]
    fn a_split_never_gives_a_core_to_both_sides() {
        let pinning = Pinning::split();
        assert!(
            pinning
                .server_cores
                .iter()
                .all(|c| !pinning.load_cores.contains(c))
        );
    }
}
