//! Memory per remembered DPoP `jti` in the server's replay cache, counted by an instrumented
//! global allocator: heap bytes held after inserting N live entries, divided by N. The table
//! grows in powers of two, so the figure is given at several N.

use prelude_mock_server::ReplayCache;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    // `cargo test --benches` passes --test-ish flags; nothing to do but run once.
    println!("replay cache: heap bytes per remembered jti");
    println!("{:>10}  {:>12}  {:>10}", "entries", "bytes", "bytes/jti");
    for entries in [10_000usize, 100_000, 300_000, 1_000_000] {
        let region = Region::new(GLOBAL);
        let cache = ReplayCache::new();
        for n in 0..entries {
            // All live: keep_until is far in the future, so no sweep removes anything.
            let jti = format!("{n:032x}");
            assert!(cache.insert_if_new("jkt", &jti, i64::MAX, 0));
        }
        let change = region.change();
        let held = change.bytes_allocated + change.bytes_reallocated.max(0) as usize
            - change.bytes_deallocated;
        assert_eq!(cache.len(), entries);
        println!(
            "{entries:>10}  {held:>12}  {:>10.1}",
            held as f64 / entries as f64
        );
        drop(cache);
    }
}
