//! Entry points for the fuzz targets in `fuzz/`, compiled only with `--cfg fuzzing` (which
//! `cargo fuzz` sets): what the suite does with a `.feature` file it is given, without a run.

use std::path::Path;

/// Parses `text` as the `.feature` file `fuzz.feature` and catalogues its scenarios, as
/// `--features-dir` does: a clear error or a catalogue, never a panic. Every scenario gets an
/// id that names its file.
pub fn feature(text: &str) {
    let Ok(feature) = crate::features::parse(Path::new("fuzz.feature"), text) else {
        return;
    };
    let features = [feature];
    let _ = crate::features::unique_ids(&features);
    for scenario in crate::features::catalogue(&features) {
        assert!(scenario.id.starts_with("fuzz: "), "{}", scenario.id);
        let _ = scenario.level();
        let _ = scenario.sources();
    }
}
