//! The reference Rust client (`prelude-session`) as an adapter: speaks the adapter protocol
//! on stdin/stdout, so the suite's adapter path is tested on every run.
//!
//! `reference-adapter [--variant NAME]`: with a variant, a deliberately broken client (see
//! `BrokenVariant`), for proving that the suite catches the bug.

use std::sync::Arc;

use clap::Parser;
use prelude_conformance::{BrokenVariant, InProcess, serve};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "The reference Prelude session client behind the adapter protocol"
)]
struct Args {
    /// Switch on a deliberate defect (no-coalescing, no-wipe-on-logout, ...).
    #[arg(long, value_parser = |s: &str| s.parse::<BrokenVariant>())]
    variant: Option<BrokenVariant>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let driver = Arc::new(InProcess::with_variant(args.variant));
    serve(driver, tokio::io::stdin(), tokio::io::stdout()).await
}
