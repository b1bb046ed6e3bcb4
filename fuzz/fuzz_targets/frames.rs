#![no_main]
//! Fuzz target: `cargo fuzz run frames` (see fuzz/README.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| zerosock::fuzzing::frames(data));
