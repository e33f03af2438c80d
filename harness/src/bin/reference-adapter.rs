//! The reference Rust client (`prelude-session`) as an adapter: speaks the adapter protocol
//! on stdin/stdout, so the suite's adapter path is tested on every run. (Its deliberately
//! broken builds are `broken-adapter`, in the `prelude-self-test` package.)

use std::sync::Arc;

use clap::Parser;
use prelude_conformance::{InProcess, serve};

/// Command line.
#[derive(Parser)]
#[command(
    version,
    about = "The reference Prelude session client behind the adapter protocol"
)]
struct Args {}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Args {} = Args::parse();
    serve(
        Arc::new(InProcess::new()),
        tokio::io::stdin(),
        tokio::io::stdout(),
    )
    .await
}
