//! A scenario's server journal as the HTML report draws it: one lane per client instance
//! (told apart by the DPoP key the server saw), one row per request, and per session the
//! rotation chain of its refresh tokens with reuse and rejections marked.
//!
//! It owns the reading of the journal (which key a request belongs to, which generation it
//! spent, where a chain broke); the template owns the drawing.

use std::collections::{BTreeMap, HashMap};

use prelude_mock_server::{JournalEntry, Reason, Route, Verdict};

use super::diagnostics::{reason_name, rotated_before};
use serde::Serialize;

/// What the template draws for one scenario.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Timeline {
    pub(crate) lanes: Vec<Lane>,
    pub(crate) rows: Vec<Row>,
    pub(crate) chains: Vec<Chain>,
}

/// One client instance: the requests signed by one DPoP key (or, for the first lane when
/// there are any, requests no key can be tied to).
#[derive(Debug, Serialize)]
pub(crate) struct Lane {
    pub(crate) label: String,
    /// The key's RFC 7638 thumbprint, whole (the label shows its start).
    pub(crate) jkt: Option<String>,
}

/// One request.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) seq: u64,
    /// Seconds since the scenario's first request.
    pub(crate) time: String,
    pub(crate) lane: usize,
    pub(crate) method: String,
    /// The path without the `/v1/session` prefix.
    pub(crate) path: String,
    /// The status, `dropped` when the server closed the connection on purpose.
    pub(crate) status: String,
    /// `ok`, `rejected`, `dropped` or `reuse`: the chip's colour.
    pub(crate) class: &'static str,
    pub(crate) code: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) detail: Option<String>,
    /// What happened to the refresh token: `g2 → g3`, `g1 reused`, ...
    pub(crate) marks: Vec<String>,
    /// The DPoP proof's claims, name and value, when one was sent.
    pub(crate) proof: Vec<(String, String)>,
}

/// A session's refresh tokens, oldest first.
#[derive(Debug, Serialize)]
pub(crate) struct Chain {
    pub(crate) session: String,
    pub(crate) lane: String,
    pub(crate) nodes: Vec<Node>,
    /// Why the chain ended, when it did: reuse, logout.
    pub(crate) ended: Option<String>,
}

/// One generation of a session's refresh token.
#[derive(Debug, Serialize)]
pub(crate) struct Node {
    pub(crate) generation: u64,
    /// `spent` (rotated), `current`, `reused` (presented after it was spent), `ended` (the
    /// newest token of a revoked or logged-out session).
    pub(crate) state: &'static str,
    /// Requests that presented it.
    pub(crate) presented: Vec<u64>,
}

impl Timeline {
    /// Reads a scenario's journal (oldest first).
    pub(crate) fn of(journal: &[JournalEntry]) -> Self {
        let mut timeline = Self::default();
        let keys = session_keys(journal);
        let mut lane_of: HashMap<Option<&str>, usize> = HashMap::new();
        let start = journal.first().map_or(0, |e| e.received_ms);
        let mut sessions: BTreeMap<&str, SessionFacts> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (index, e) in journal.iter().enumerate() {
            let key = e
                .dpop
                .as_ref()
                .and_then(|p| p.jkt.as_deref())
                .or_else(|| e.session_id.as_deref().and_then(|s| keys.get(s).copied()));
            let lane = *lane_of.entry(key).or_insert_with(|| {
                let keyed = timeline.lanes.iter().filter(|l| l.jkt.is_some()).count();
                timeline.lanes.push(Lane {
                    label: lane_label(key, keyed),
                    jkt: key.map(str::to_owned),
                });
                timeline.lanes.len() - 1
            });
            let reused = e.reason == Some(Reason::RefreshTokenReused);
            let reason = e.reason.map(reason_name);
            let mut marks = Vec::new();
            if let Some(g) = e.generation {
                if e.refresh_token.is_none() {
                    marks.push(format!("issued g{g}"));
                } else if e.rotated {
                    marks.push(format!("g{g} → g{}", g + 1));
                } else if e.grace_reissue {
                    marks.push(format!("g{g} again: same successor (grace)"));
                } else if reused {
                    marks.push(format!("g{g} reused: session revoked"));
                } else {
                    marks.push(format!("g{g}"));
                }
                if let Some(earlier) = rotated_before(journal, index) {
                    marks.push(format!("already spent by #{}", earlier.seq));
                }
                if let Some(sid) = e.session_id.as_deref() {
                    if !sessions.contains_key(sid) {
                        order.push(sid);
                    }
                    let facts = sessions.entry(sid).or_insert_with(|| SessionFacts {
                        lane,
                        ..SessionFacts::default()
                    });
                    if e.refresh_token.is_some() {
                        facts.presented.entry(g).or_default().push(e.seq);
                    }
                    if e.rotated {
                        facts.top = facts.top.max(g + 1);
                        facts.spent.push(g);
                    }
                    facts.top = facts.top.max(g);
                    if reused {
                        facts.reused.push(g);
                        facts
                            .ended
                            .get_or_insert(format!("revoked at #{}: g{g} presented again", e.seq));
                    }
                }
            }
            if e.route == Some(Route::Revoke)
                && e.verdict == Verdict::Accepted
                && let Some(sid) = e.session_id.as_deref()
                && let Some(facts) = sessions.get_mut(sid)
            {
                facts
                    .ended
                    .get_or_insert(format!("logged out at #{}", e.seq));
            }
            let class = match e.verdict {
                _ if reused => "reuse",
                Verdict::Accepted => "ok",
                Verdict::Rejected => "rejected",
                Verdict::Dropped => "dropped",
            };
            timeline.rows.push(Row {
                seq: e.seq,
                time: format!(
                    "{:.3} s",
                    (e.received_ms.saturating_sub(start)) as f64 / 1000.0
                ),
                lane,
                method: e.method.clone(),
                path: e
                    .path
                    .strip_prefix("/v1/session")
                    .filter(|p| !p.is_empty())
                    .unwrap_or(&e.path)
                    .to_owned(),
                status: match (e.verdict, e.status) {
                    (Verdict::Dropped, _) | (_, None) => "dropped".to_owned(),
                    (_, Some(status)) => status.to_string(),
                },
                class,
                code: e.code.clone(),
                reason: reason.filter(|r| e.code.as_deref() != Some(r.as_str())),
                detail: e.detail.clone(),
                marks,
                proof: proof_rows(e),
            });
        }
        timeline.chains = order
            .into_iter()
            .filter_map(|sid| {
                let facts = sessions.remove(sid)?;
                Some(facts.chain(sid, &timeline.lanes))
            })
            .collect();
        timeline
    }
}

/// What the journal tells about one session's refresh tokens.
#[derive(Default)]
struct SessionFacts {
    lane: usize,
    top: u64,
    presented: BTreeMap<u64, Vec<u64>>,
    spent: Vec<u64>,
    reused: Vec<u64>,
    ended: Option<String>,
}

impl SessionFacts {
    fn chain(self, sid: &str, lanes: &[Lane]) -> Chain {
        let nodes = (0..=self.top)
            .map(|g| Node {
                generation: g,
                state: if self.reused.contains(&g) {
                    "reused"
                } else if self.spent.contains(&g) {
                    "spent"
                } else if g == self.top && self.ended.is_some() {
                    // The newest token of an ended session is no one's current token.
                    "ended"
                } else if g == self.top {
                    "current"
                } else {
                    // A generation the journal never saw presented (a cleared journal).
                    "unseen"
                },
                presented: self.presented.get(&g).cloned().unwrap_or_default(),
            })
            .collect();
        Chain {
            session: sid.to_owned(),
            lane: lanes
                .get(self.lane)
                .map_or_else(String::new, |l| l.label.clone()),
            nodes,
            ended: self.ended,
        }
    }
}

/// Session id → the key it is bound to, from the requests that carried both, so a bearer
/// request (`/me/*`) lands in the lane of the client that owns its session.
fn session_keys(journal: &[JournalEntry]) -> HashMap<&str, &str> {
    journal
        .iter()
        .filter_map(|e| Some((e.session_id.as_deref()?, e.dpop.as_ref()?.jkt.as_deref()?)))
        .collect()
}

fn lane_label(key: Option<&str>, index: usize) -> String {
    match key {
        None => "no DPoP key".to_owned(),
        Some(jkt) => format!(
            "client key {} ({}…)",
            index + 1,
            jkt.chars().take(8).collect::<String>()
        ),
    }
}

fn proof_rows(e: &JournalEntry) -> Vec<(String, String)> {
    let Some(p) = &e.dpop else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            rows.push((name.to_owned(), value));
        }
    };
    add("jkt", p.jkt.clone());
    add("jti", p.jti.clone());
    add("htm", p.htm.clone());
    add("htu", p.htu.clone());
    add("iat", p.iat.map(|i| format!("{i} (server clock {})", e.at)));
    add("nonce", p.nonce.clone());
    add("ath", p.ath.clone());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, generation: u64, rotated: bool, reason: Option<&str>) -> JournalEntry {
        serde_json::from_value(serde_json::json!({
            "seq": seq, "at": 1_000, "received_ms": seq * 10, "method": "POST",
            "path": "/v1/session/refresh", "route": "refresh",
            "status": if reason.is_some() { 401 } else { 200 },
            "code": reason, "verdict": if reason.is_some() { "rejected" } else { "accepted" },
            "reason": reason, "detail": null, "session_id": "ses_1", "generation": generation,
            "refresh_token": format!("fp{generation}"),
            "dpop": {"jti": format!("j{seq}"), "htm": "POST", "htu": "https://x/v1/session/refresh",
                     "iat": 1_000, "nonce": null, "jkt": "KEY-A"},
            "rotated": rotated, "grace_reissue": false
        }))
        .expect("a journal entry")
    }

    #[test]
    fn a_reused_generation_breaks_the_chain_and_is_marked() {
        let journal = [
            entry(1, 0, true, None),
            entry(2, 1, true, None),
            entry(3, 1, false, Some("refresh_token_reused")),
        ];
        let timeline = Timeline::of(&journal);
        assert_eq!(timeline.lanes.len(), 1, "one key, one lane");
        let chain = &timeline.chains[0];
        let states: Vec<&str> = chain.nodes.iter().map(|n| n.state).collect();
        assert_eq!(states, ["spent", "reused", "ended"]);
        assert_eq!(chain.nodes[1].presented, [2, 3]);
        assert!(chain.ended.as_deref().is_some_and(|e| e.contains("#3")));
        assert_eq!(timeline.rows[2].class, "reuse");
        assert!(
            timeline.rows[2]
                .marks
                .iter()
                .any(|m| m == "already spent by #2"),
            "{:?}",
            timeline.rows[2].marks
        );
    }
}
