//! Dashboard event streams whose readers stop reading cost the server a bounded amount: a
//! stream holds one page of shared journal entries, not a copy of the journal. (Its own test
//! binary: it reads the process's resident memory, which other tests would disturb.)

mod common;

use std::time::Duration;

use common::{builder, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENTRIES: usize = 3_500;
const SUBSCRIBERS: usize = 60;
/// Recorded with each request, so each journal entry weighs about this much.
const PAD: usize = 8 * 1024;

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_never_read_do_not_each_hold_a_copy_of_the_journal() {
    let server = builder()
        .record_requests(true)
        .start()
        .await
        .expect("server");
    let client = http();
    let pad = "p".repeat(PAD);
    let jwks = format!("{}/.well-known/jwks.json", server.url());
    for _ in 0..ENTRIES {
        let answer = client
            .get(&jwks)
            .header("x-pad", &pad)
            .send()
            .await
            .expect("jwks");
        assert!(answer.status().is_success());
    }
    let before = resident_bytes();
    let mut idle = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
        stream
            .write_all(b"GET /__mock/events?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("subscribe");
        // The answer's head: the stream has started (and, before the fix, copied the journal).
        let mut head = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
            .await
            .expect("the stream starts")
            .expect("read");
        assert!(
            head[..read].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            &head[..read]
        );
        idle.push(stream);
    }
    let grown = resident_bytes().saturating_sub(before);
    let journal = (ENTRIES * PAD) as u64;
    // A copy each would be 60 journals (about 1.7 GB); socket buffers and a page each are not.
    assert!(
        grown < 4 * journal,
        "{SUBSCRIBERS} idle subscribers grew the server by {} MB (the journal is {} MB)",
        grown >> 20,
        journal >> 20
    );
    drop(idle);
    server.shutdown().await;
}
