//! A `.feature` file given with `--features-dir`: the suite refuses it with a clear error
//! (bad Gherkin, a ragged Examples table, two scenarios with one name) or catalogues it;
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| prelude_conformance::fuzzing::feature(text));
