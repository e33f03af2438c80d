//! Each adapter-protocol op on one reference-client instance, and the mapping of the client's
//! answers and errors onto the protocol's typed results and error kinds.

use std::sync::PoisonError;

use prelude_session::{Error, SessionState, Store};
use serde::Serialize;
use serde_json::Value;

use super::{Instance, Subscription};
use crate::protocol::{
    AccessToken, Authorized, Done, Events, ListedSession, ListedSessions, Op, RevokeKind, SdkError,
    SdkErrorKind, State, Stored, Subscription as SubscriptionId, UserInfo,
};

pub(super) async fn run_on(instance: &Instance, op: Op) -> Result<Value, SdkError> {
    let client = &instance.client;
    match op {
        Op::Login { email, password } => {
            let user = client
                .login_with_password(&email, password.expose())
                .await
                .map_err(sdk_error)?;
            Ok(user_result(&user))
        }
        Op::Refresh => client
            .refresh()
            .await
            .map(|u| user_result(&u))
            .map_err(sdk_error),
        Op::AccessToken => Ok(result(AccessToken {
            access_token: client.access_token(),
            expires_at: client.access_token_expires_at(),
            session_id: client.session_id(),
        })),
        Op::Invalidate => {
            client.invalidate_cache();
            Ok(result(Done {}))
        }
        Op::Logout => client.logout().await.map(done).map_err(sdk_error),
        Op::ListSessions { limit, offset } => {
            let page = client
                .list_sessions(limit, offset)
                .await
                .map_err(sdk_error)?;
            let sessions = page
                .sessions
                .iter()
                .map(|s| ListedSession {
                    id: s.id.clone(),
                    device_type: format!("{:?}", s.device_type).to_lowercase(),
                    device_model: Some(s.device_model.clone()),
                    os_version: Some(s.os_version.clone()),
                    country_code: Some(s.country_code.clone()),
                })
                .collect();
            Ok(result(ListedSessions {
                sessions,
                total: page.total,
                limit: Some(page.limit),
                offset: Some(page.offset),
            }))
        }
        Op::Revoke { target, session_id } => {
            use prelude_session::RevokeTarget as Target;
            let target = match (target, session_id) {
                (RevokeKind::All, _) => Target::All,
                (RevokeKind::Others, _) => Target::Others,
                (RevokeKind::Mine, _) => Target::Mine,
                (RevokeKind::Session, Some(id)) => Target::Session(id),
                (RevokeKind::Session, None) => {
                    return Err(SdkError::new(
                        SdkErrorKind::InvalidArgument,
                        "revoking a session needs its `session_id`",
                    ));
                }
            };
            client
                .revoke_sessions(target)
                .await
                .map(done)
                .map_err(sdk_error)
        }
        Op::AuthorizedGet { path } => {
            let url = format!("{}{path}", instance.config.base_url.trim_end_matches('/'));
            let response = client
                .authorized(|http| http.get(&url))
                .await
                .map_err(sdk_error)?;
            Ok(result(Authorized {
                status: response.status().as_u16(),
            }))
        }
        Op::State => {
            // One reading, so name and code cannot come from two different states.
            let current = client.state().borrow().clone();
            let code = match &current {
                SessionState::Terminated { code } => Some(code.clone()),
                _ => None,
            };
            let state = state_name(&current);
            let history = instance
                .history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            Ok(result(State {
                state,
                code,
                history,
            }))
        }
        Op::Stored => {
            let stored = instance.store.load().map_err(sdk_error)?;
            Ok(result(Stored {
                credentials: stored.is_some(),
            }))
        }
        Op::Dispose => {
            client.dispose();
            Ok(result(Done {}))
        }
        Op::OtpStart { identifier } => client
            .start_otp_login(&identifier)
            .await
            .map(done)
            .map_err(sdk_error),
        Op::OtpCheck { code } => client
            .check_otp(code.expose())
            .await
            .map(|u| user_result(&u))
            .map_err(sdk_error),
        Op::OtpRetry => client.retry_otp().await.map(done).map_err(sdk_error),
        Op::Subscribe => {
            let stream = client.subscribe();
            let unsubscribe = stream.unsubscriber();
            let mut subscriptions = instance
                .subscriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            subscriptions.push(Subscription {
                unsubscribe,
                stream,
                events: Vec::new(),
            });
            Ok(result(SubscriptionId {
                subscription: u64::try_from(subscriptions.len() - 1).unwrap_or(u64::MAX),
            }))
        }
        Op::Unsubscribe { subscription } => with_subscription(instance, subscription, |s| {
            s.unsubscribe.unsubscribe();
            result(Done {})
        }),
        Op::Events { subscription } => with_subscription(instance, subscription, |s| {
            // Transitions are published synchronously, so everything up to now is queued.
            while let Some(state) = s.stream.try_next() {
                s.events.push(state_name(&state));
            }
            result(Events {
                events: s.events.clone(),
            })
        }),
        Op::Hello | Op::Reset | Op::Configure(_) | Op::Restart => Err(SdkError::new(
            SdkErrorKind::Protocol,
            "handled by the driver, not an instance",
        )),
    }
}

fn with_subscription(
    instance: &Instance,
    id: u64,
    f: impl FnOnce(&mut Subscription) -> Value,
) -> Result<Value, SdkError> {
    let mut subscriptions = instance
        .subscriptions
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    usize::try_from(id)
        .ok()
        .and_then(|i| subscriptions.get_mut(i))
        .map(f)
        .ok_or_else(|| {
            SdkError::new(
                SdkErrorKind::InvalidArgument,
                format!("no subscription {id}"),
            )
        })
}

fn user_result(user: &prelude_session::User) -> Value {
    result(UserInfo {
        access_token: user.access_token.clone(),
        expires_at: Some(user.expires_at),
        user_id: user.user_id().map(str::to_owned),
        session_id: user.session_id().map(str::to_owned),
    })
}

/// A typed result on the wire.
pub(super) fn result(typed: impl Serialize) -> Value {
    serde_json::to_value(typed).unwrap_or_default()
}

fn done(_: ()) -> Value {
    result(Done {})
}

pub(super) fn state_name(state: &SessionState) -> String {
    match state {
        SessionState::LoggedOut => "logged_out",
        SessionState::LoggedIn => "logged_in",
        SessionState::Expired => "expired",
        SessionState::Terminated { .. } => "terminated",
        SessionState::Establishing => "establishing",
        _ => "other",
    }
    .to_owned()
}

/// Maps the reference client's error onto the wire kinds.
pub(super) fn sdk_error(error: Error) -> SdkError {
    use prelude_session::ErrorKind as K;
    let kind = match error.kind() {
        K::NotLoggedIn => SdkErrorKind::NotLoggedIn,
        K::Unauthorized => SdkErrorKind::Unauthorized,
        K::Terminated => SdkErrorKind::Terminated,
        K::Server => SdkErrorKind::Server,
        K::Transport => SdkErrorKind::Transport,
        K::RefreshOutcomeUnknown => SdkErrorKind::OutcomeUnknown,
        K::BadResponse => SdkErrorKind::BadResponse,
        K::LoggedOut => SdkErrorKind::LoggedOut,
        K::InvalidArgument => SdkErrorKind::InvalidArgument,
        K::Disposed => SdkErrorKind::Disposed,
        K::Store => SdkErrorKind::Storage,
        K::Signing => SdkErrorKind::Signing,
        _ => SdkErrorKind::Other,
    };
    SdkError {
        kind,
        code: error.code().map(str::to_owned),
        message: error.to_string(),
    }
}
