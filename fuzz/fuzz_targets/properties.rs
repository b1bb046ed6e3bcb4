#![no_main]
//! Fuzz target: `cargo fuzz run properties` (see fuzz/README.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| zerosock::fuzzing::properties(data));
