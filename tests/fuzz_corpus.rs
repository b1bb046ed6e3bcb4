//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/*`) through the same entry points
//! the fuzz targets call, on stable Rust: none may panic.
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        run(&data);
        // Every prefix too: truncation is the commonest malformation.
        for cut in 0..data.len().min(256) {
            run(&data[..cut]);
        }
        count += 1;
    }
    assert!(count > 0, "empty corpus for {target}");
}

#[test]
fn frames_corpus() {
    replay("frames", zerosock::fuzzing::frames);
}

#[test]
fn handshake_corpus() {
    replay("handshake", zerosock::fuzzing::handshake);
}

#[test]
fn properties_corpus() {
    replay("properties", zerosock::fuzzing::properties);
}

#[test]
fn endpoint_corpus() {
    replay("endpoint", zerosock::fuzzing::endpoint);
}
