//! Embeds the repository's `features/*.feature` in the crate, so an installed
//! `prelude-conformance` runs the whole suite from any directory (`--features-dir` overrides).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("../features");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "feature"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for file in files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let path = file.canonicalize().unwrap_or(file.clone());
        let _infallible = writeln!(out, "    ({name:?}, include_str!({:?})),", path.display());
    }
    out.push_str("]\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("features.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
}
