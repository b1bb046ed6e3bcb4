#![no_main]
//! Fuzz target: `cargo fuzz run endpoint` (see fuzz/README.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| zerosock::fuzzing::endpoint(data));
