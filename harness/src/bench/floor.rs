//! The runtime's floor for a burst, and the gate every burst goes through.
//!
//! [`release`] spawns N tasks, waits until each is parked on one start signal, releases them
//! all at once and times each from the release. A client's burst and the floor's go through
//! it alike, so the only difference between the two is what a task awaits: the client's
//! coalesced refresh, or (for the floor) a bare shared future that resolves after the same
//! delay. What the client costs above the floor is its coalescing overhead.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::watch;

use super::bench_error;
use crate::Error;

/// What each task of a released burst did, in spawn order: whether it succeeded and when it
/// finished, counted from the release.
pub type Finished = Vec<(bool, Duration)>;

/// Spawns `n` tasks, releases them at once, and waits for all. Task `i` runs
/// `make(i, released)` once released (`released` is the instant of the release).
///
/// ```
/// # async fn run() -> Result<(), prelude_conformance::Error> {
/// let finished = prelude_conformance::bench::release(100, |i, _released| async move { i < 100 }).await?;
/// assert!(finished.iter().all(|(ok, _)| *ok));
/// # Ok(()) }
/// ```
pub async fn release<F, Fut>(n: usize, make: F) -> Result<Finished, Error>
where
    F: Fn(usize, Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let make = Arc::new(make);
    let (go, signal) = watch::channel(None::<Instant>);
    let parked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (mut signal, parked, make) = (signal.clone(), parked.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            parked.fetch_add(1, Ordering::Relaxed);
            let released = match signal.wait_for(Option::is_some).await {
                Ok(at) => at.unwrap_or_else(Instant::now),
                Err(_) => Instant::now(),
            };
            let ok = make(i, released).await;
            (ok, released.elapsed())
        }));
    }
    // `wait_for` sees a value sent before it was polled, so a task counted but not yet
    // parked still starts; waiting for the count only keeps spawning out of the timing.
    while parked.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    go.send_replace(Some(Instant::now()));
    let mut finished = Vec::with_capacity(n);
    for task in tasks {
        finished.push(task.await.map_err(bench_error)?);
    }
    Ok(finished)
}

/// The floor: `n` released tasks awaiting one shared future that resolves `delay` after the
/// first of them polls it, with a value each clones (as a coalesced refresh hands out).
///
/// The delay runs on a thread of its own (tokio's timer rounds to whole milliseconds, which
/// would swamp what is measured) and wakes the future through a channel, as a response
/// wakes a request.
pub async fn floor(n: usize, delay: Duration) -> Result<Finished, Error> {
    let (start, started) = std::sync::mpsc::channel::<()>();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let timer = std::thread::spawn(move || {
        if started.recv().is_ok() {
            std::thread::sleep(delay);
            let _woken = done.send(());
        }
    });
    let shared = async move {
        let _started = start.send(());
        let _done = finished.await;
        Arc::new(String::from("token"))
    }
    .boxed()
    .shared();
    let outcome = release(n, move |_, _| {
        let shared = shared.clone();
        async move { !shared.await.is_empty() }
    })
    .await;
    let _joined = timer.join();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_released_task_reports_once_in_spawn_order() {
        let finished = release(50, |i, _| async move { i % 2 == 0 })
            .await
            .expect("no task panics");
        assert_eq!(finished.len(), 50);
        assert_eq!(finished.iter().filter(|(ok, _)| *ok).count(), 25);
        assert!(finished[0].0 && !finished[1].0);
    }

    #[tokio::test]
    async fn the_floor_waits_for_its_delay() {
        let finished = floor(100, Duration::from_millis(20))
            .await
            .expect("no task panics");
        assert!(finished.iter().all(|(ok, _)| *ok));
        assert!(
            finished
                .iter()
                .all(|(_, d)| *d >= Duration::from_millis(20))
        );
    }
}
