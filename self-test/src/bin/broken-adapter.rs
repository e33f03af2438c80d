//! `broken-adapter --variant NAME`: the reference client with one deliberate defect (or one
//! correct but unusual behaviour), behind the adapter protocol on stdin/stdout, for proving
//! that the suite catches the bug (and fails no correct SDK).
//! `broken-adapter --in-order`: the conforming client behind an adapter that answers one
//! request at a time, for proving that `check-adapter` catches that.

use std::sync::Arc;

use clap::Parser;
use prelude_conformance::{InProcess, serve};
use prelude_self_test::{Variant, serve_in_order};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "The reference Prelude session client with one deliberate defect, behind the adapter protocol"
)]
struct Args {
    /// The defect (no-coalescing, no-wipe-on-logout, ...) or unusual behaviour (full-jitter,
    /// ...).
    #[arg(long, value_parser = |s: &str| s.parse::<Variant>(), required_unless_present = "in_order")]
    variant: Option<Variant>,
    /// Answer requests one at a time, in order (an adapter plumbing bug).
    #[arg(long, conflicts_with = "variant")]
    in_order: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let (input, output) = (tokio::io::stdin(), tokio::io::stdout());
    match args.variant {
        Some(variant) => serve(Arc::new(variant.driver()), input, output).await,
        None => serve_in_order(Arc::new(InProcess::new()), input, output).await,
    }
}
