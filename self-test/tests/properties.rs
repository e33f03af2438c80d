//! Property tests: random sequences of client operations, bursts and injected server faults
//! against a model, on the reference client and a real mock server. After every step:
//!
//! - no refresh token is presented twice outside the server's grace window;
//! - the server rotated exactly as many tokens as the model says refreshes were needed;
//! - after a wipe nothing is stored, and credentials are stored exactly when the model says;
//! - the state the client reports matches the model;
//! - the server never accepted a replayed proof (no jti accepted twice).
//!
//! Cases per run: `PROPTEST_CASES` (default 128), up to 24 operations each. A failure
//! shrinks to a minimal sequence; `a_broken_client_is_caught_and_shrunk` proves both.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::path::PathBuf;

use prelude_conformance::protocol::RevokeKind as Wire;
use prelude_conformance::{ClientConfig, Driver, InProcess, Op};
use prelude_mock_server::{Fault, FaultAction, MockServer, Policy, Route, Verdict};
use prelude_self_test::{BrokenVariant, driver};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use serde_json::Value;

const MAIN: &str = "main";

/// What the model knows: is there a session, is its cached token fresh, how many
/// rotations the server must have done, and how many failing faults wait on `/refresh`.
#[derive(Clone, Debug, Default)]
struct Model {
    logged_in: bool,
    fresh: bool,
    rotations: u64,
    pending_faults: usize,
}

/// Attempts the client makes per refresh (the driver's retry policy).
const ATTEMPTS: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Target {
    All,
    Others,
    Mine,
    OwnId,
    BlankId,
}

#[derive(Clone, Copy, Debug)]
enum Trouble {
    Unavailable,
    LostAnswer,
    Reset,
    Slow,
}

#[derive(Clone, Debug)]
enum Transition {
    Login,
    Refresh,
    Burst(usize),
    Invalidate,
    Logout,
    Revoke(Target),
    Restart,
    Fault(Trouble),
}

impl ReferenceStateMachine for Model {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            logged_in: true,
            fresh: true,
            ..Model::default()
        })
        .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        let target = prop_oneof![
            Just(Target::All),
            Just(Target::Others),
            Just(Target::Mine),
            Just(Target::OwnId),
            Just(Target::BlankId),
        ];
        let trouble = prop_oneof![
            Just(Trouble::Unavailable),
            Just(Trouble::LostAnswer),
            Just(Trouble::Reset),
            Just(Trouble::Slow),
        ];
        prop_oneof![
            1 => Just(Transition::Login),
            4 => Just(Transition::Refresh),
            2 => (2usize..24).prop_map(Transition::Burst),
            4 => Just(Transition::Invalidate),
            1 => Just(Transition::Logout),
            1 => target.prop_map(Transition::Revoke),
            1 => Just(Transition::Restart),
            2 => trouble.prop_map(Transition::Fault),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        // One network refresh eats every pending fault (each costs an attempt; a lost
        // answer is recovered inside the grace window, not rotated again).
        let refresh_if_stale = |m: &mut Model| {
            if m.logged_in && !m.fresh {
                m.rotations += 1;
                m.fresh = true;
                m.pending_faults = 0;
            }
        };
        match t {
            Transition::Login => {
                m.logged_in = true;
                m.fresh = true;
            }
            Transition::Refresh | Transition::Burst(_) => refresh_if_stale(&mut m),
            Transition::Invalidate => m.fresh = false,
            Transition::Logout => m.logged_in = false,
            Transition::Revoke(Target::BlankId) => {}
            Transition::Revoke(target) => {
                refresh_if_stale(&mut m);
                if !matches!(target, Target::Others) {
                    m.logged_in = false;
                }
            }
            Transition::Fault(Trouble::Slow) | Transition::Restart => {}
            Transition::Fault(_) => m.pending_faults += 1,
        }
        m
    }

    /// At most `ATTEMPTS - 1` failing faults wait at once, so every refresh the model
    /// expects to succeed can (more would be a different, also valid, story: giving up).
    fn preconditions(m: &Model, t: &Transition) -> bool {
        match t {
            Transition::Fault(Trouble::Slow) => true,
            Transition::Fault(_) => m.pending_faults < ATTEMPTS - 1,
            _ => true,
        }
    }
}

/// Chooses the client build under test.
trait Pick {
    const VARIANT: Option<BrokenVariant>;
}

struct Conforming;
impl Pick for Conforming {
    const VARIANT: Option<BrokenVariant> = None;
}

struct NoWipeOnRevokeMine;
impl Pick for NoWipeOnRevokeMine {
    const VARIANT: Option<BrokenVariant> = Some(BrokenVariant::NoWipeOnRevokeMine);
}

/// The reference client and a fresh mock server, driven from a synchronous test.
struct System<P> {
    runtime: tokio::runtime::Runtime,
    server: MockServer,
    driver: InProcess,
    workdir: PathBuf,
    email: String,
    sid: Option<String>,
    _pick: PhantomData<P>,
}

impl<P> System<P> {
    fn call(&self, op: Op) -> Result<Value, prelude_conformance::SdkError> {
        self.runtime.block_on(self.driver.call(MAIN.to_owned(), op))
    }

    fn login(&mut self) {
        let user = self
            .call(Op::Login {
                email: self.email.clone(),
                password: "pw".into(),
            })
            .expect("login succeeds");
        self.sid = user["session_id"].as_str().map(str::to_owned);
    }
}

struct ClientMachine<P>(PhantomData<P>);

impl<P: Pick> StateMachineTest for ClientMachine<P> {
    type SystemUnderTest = System<P>;
    type Reference = Model;

    fn init_test(_: &Model) -> System<P> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // A grace window lets the client recover lost answers without re-spending tokens.
        let policy = Policy {
            reuse_grace_seconds: 10,
            ..Policy::default()
        };
        let server = runtime
            .block_on(MockServer::builder().policy(policy).start())
            .expect("server starts");
        let email = format!("prop-{}@example.com", std::process::id());
        runtime
            .block_on(server.control().create_user(&email, "pw"))
            .expect("user");
        let workdir = std::env::temp_dir().join(format!(
            "props-{}-{}",
            std::process::id(),
            server.addr().port()
        ));
        std::fs::create_dir_all(&workdir).expect("workdir");
        let mut system = System {
            driver: P::VARIANT.map_or_else(InProcess::new, driver),
            runtime,
            server,
            workdir,
            email,
            sid: None,
            _pick: PhantomData,
        };
        let config = ClientConfig {
            base_url: system.server.url().to_owned(),
            storage: MAIN.to_owned(),
            workdir: system.workdir.clone(),
            separate_process: false,
            reuse_grace_seconds: Some(10),
            retry_base_delay_ms: Some(1),
        };
        system.call(Op::Configure(config)).expect("configure");
        system.login();
        system
    }

    fn apply(mut s: System<P>, model: &Model, t: Transition) -> System<P> {
        match t {
            Transition::Login => s.login(),
            Transition::Refresh => {
                let result = s.call(Op::Refresh);
                assert_eq!(result.is_ok(), model.logged_in, "refresh: {result:?}");
            }
            Transition::Burst(n) => {
                let calls = (0..n).map(|_| s.driver.call(MAIN.to_owned(), Op::Refresh));
                let results = s.runtime.block_on(futures_util::future::join_all(calls));
                let tokens: HashSet<String> = results
                    .iter()
                    .map(|r| {
                        r.as_ref()
                            .map(|v| v["access_token"].to_string())
                            .map_err(|e| e.kind)
                    })
                    .map(|r| format!("{r:?}"))
                    .collect();
                assert_eq!(
                    tokens.len(),
                    1,
                    "every caller of a burst gets the same outcome"
                );
                assert_eq!(
                    results[0].is_ok(),
                    model.logged_in,
                    "burst: {:?}",
                    results[0]
                );
            }
            Transition::Invalidate => {
                s.call(Op::Invalidate).expect("invalidate is local");
            }
            Transition::Logout => {
                s.call(Op::Logout).expect("logout succeeds");
            }
            Transition::Revoke(target) => {
                let (target, id) = match target {
                    Target::All => (Wire::All, None),
                    Target::Others => (Wire::Others, None),
                    Target::Mine => (Wire::Mine, None),
                    Target::OwnId => (
                        Wire::Session,
                        Some(s.sid.clone().unwrap_or_else(|| "ses_gone".into())),
                    ),
                    Target::BlankId => (Wire::Session, Some(String::new())),
                };
                let _judged_by_invariants = s.call(Op::Revoke {
                    target,
                    session_id: id,
                });
            }
            Transition::Restart => {
                s.call(Op::Restart).expect("restart");
            }
            Transition::Fault(trouble) => {
                let action = match trouble {
                    Trouble::Unavailable => FaultAction::error(503, "internal"),
                    Trouble::LostAnswer => FaultAction::CommitThenDrop,
                    Trouble::Reset => FaultAction::Reset,
                    Trouble::Slow => FaultAction::Delay { ms: 20 },
                };
                s.runtime
                    .block_on(
                        s.server
                            .control()
                            .add_fault(&Fault::new(Route::Refresh, action)),
                    )
                    .expect("fault");
            }
        }
        s
    }

    fn check_invariants(s: &System<P>, model: &Model) {
        let control = s.server.control();
        let stats = s.runtime.block_on(control.stats()).expect("stats");
        let journal = s
            .runtime
            .block_on(control.journal(0, None))
            .expect("journal");
        assert_eq!(
            stats.reuse_detected, 0,
            "a refresh token was presented twice outside the grace window"
        );
        let mut presented: HashMap<&str, usize> = HashMap::new();
        for entry in journal.iter().filter(|e| e.route == Some(Route::Refresh)) {
            if let Some(token) = entry.refresh_token.as_deref() {
                let seen = presented.entry(token).or_default();
                *seen += 1;
                assert!(
                    *seen == 1 || entry.grace_reissue,
                    "token presented again (request #{}) without a grace reissue",
                    entry.seq
                );
            }
        }
        assert_eq!(
            stats.rotations, model.rotations,
            "rotations the server did vs. refreshes the model needed"
        );
        let mut jtis = HashSet::new();
        for entry in journal.iter().filter(|e| e.verdict == Verdict::Accepted) {
            if let Some(jti) = entry.dpop.as_ref().and_then(|d| d.jti.as_deref()) {
                assert!(
                    jtis.insert(jti),
                    "the server accepted a replayed proof (request #{})",
                    entry.seq
                );
            }
        }
        let stored = s.call(Op::Stored).expect("stored");
        assert_eq!(
            stored["credentials"].as_bool(),
            Some(model.logged_in),
            "credentials stored vs. model"
        );
        let state = s.call(Op::State).expect("state");
        let expected = if model.logged_in {
            "logged_in"
        } else {
            "logged_out"
        };
        assert_eq!(state["state"], expected, "state stream vs. model");
    }

    fn teardown(s: System<P>, _: Model) {
        let _removed = std::fs::remove_dir_all(&s.workdir);
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

prop_state_machine! {
    #![proptest_config(Config { cases: cases(), failure_persistence: None, ..Config::default() })]

    #[test]
    fn the_reference_client_keeps_every_invariant(sequential 1..24 => ClientMachine<Conforming>);
}

#[test]
fn a_broken_client_is_caught_and_shrunk() {
    // Silence the expected assertion panics while proptest searches and shrinks.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(
        &Model::sequential_strategy(1..24),
        |(initial, transitions, seen)| {
            std::panic::catch_unwind(|| {
                ClientMachine::<NoWipeOnRevokeMine>::test_sequential(
                    Config::default(),
                    initial,
                    transitions,
                    seen,
                );
            })
            .map_err(|_| TestCaseError::fail("an invariant broke"))
        },
    );
    std::panic::set_hook(hook);
    let Err(TestError::Fail(_, (_, transitions, _))) = outcome else {
        panic!("the broken client was not caught: {outcome:?}");
    };
    // Revoking "mine" is enough to show the bug. The shrinker removes steps one at a time,
    // so it can stop at a local minimum such as [Login, Revoke(Mine)]; never longer than that.
    assert!(transitions.len() <= 2, "shrunk to {transitions:?}");
    assert!(
        matches!(transitions.last(), Some(Transition::Revoke(Target::Mine))),
        "shrunk to {transitions:?}"
    );
}
