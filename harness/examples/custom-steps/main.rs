//! How an SDK team adds its own steps and features on top of the library: steps are
//! ordinary cucumber functions over [`World`], registered just by being linked in; the
//! library's step library, drivers and reports come with [`Suite`].
//!
//! Run it with `cargo run -p prelude-conformance --example custom-steps`; `cargo test`
//! runs it too. A crate of your own needs `prelude-conformance`, `cucumber` (the attribute
//! macros expand to its paths) and `tokio`.

use prelude_conformance::protocol::{AccessToken, Op};
use prelude_conformance::{Drivers, StepResult, Suite, World, ensure, then};

/// A property the library does not have: every refresh carried a long enough `jti`.
#[then(
    regex = r"^every refresh request carried a DPoP proof with a jti of at least (\d+) characters$"
)]
async fn refresh_jtis_are_long(w: &mut World, min: usize) -> StepResult {
    let refreshes = w
        .whole_journal(Some(prelude_mock_server::Route::Refresh))
        .await?;
    ensure(!refreshes.is_empty(), || "no refresh was sent".to_owned())?;
    refreshes.iter().try_for_each(|e| {
        let jti = e.dpop.as_ref().and_then(|p| p.jti.as_deref()).unwrap_or("");
        ensure(jti.len() >= min, || {
            format!(
                "request #{} carried a jti of {} characters",
                e.seq,
                jti.len()
            )
        })
    })
}

/// Uses the SDK (through whatever driver runs it) and the server under test.
#[then(regex = r"^the client's token is accepted by the server's session list$")]
async fn token_accepted(w: &mut World) -> StepResult {
    let token: AccessToken = w.must_as("main", Op::AccessToken).await?;
    let url = format!("{}/v1/session/me/list", w.base_url());
    let status = reqwest::Client::new()
        .get(url)
        .bearer_auth(token.access_token.unwrap_or_default())
        .send()
        .await
        .map_err(|e| format!("cannot reach the server: {e}"))?
        .status();
    ensure(status.is_success(), || {
        format!("the server answered {status}")
    })
}

/// Runs the example's features against the reference client; true when all passed.
async fn run() -> bool {
    let features =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-steps/features");
    let suite = Suite::load(&features).expect("the example's features load");
    let report = suite.run_sdk(Drivers::in_process()).await;
    print!("{}", report.console());
    report.is_success() && report.summary.passed == 1
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if run().await {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn custom_steps_run_beside_the_library_steps() {
        assert!(super::run().await);
    }
}
