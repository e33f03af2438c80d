//! `broken-adapter --variant NAME`: the reference client with one deliberate defect, behind
//! the adapter protocol on stdin/stdout, for proving that the suite catches the bug.

use std::sync::Arc;

use clap::Parser;
use prelude_conformance::serve;
use prelude_self_test::{BrokenVariant, driver};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "The reference Prelude session client with one deliberate defect, behind the adapter protocol"
)]
struct Args {
    /// The defect (no-coalescing, no-wipe-on-logout, ...).
    #[arg(long, value_parser = |s: &str| s.parse::<BrokenVariant>())]
    variant: BrokenVariant,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    serve(
        Arc::new(driver(args.variant)),
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
}
