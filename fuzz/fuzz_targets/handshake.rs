#![no_main]
//! Fuzz target: `cargo fuzz run handshake` (see fuzz/README.md).
libfuzzer_sys::fuzz_target!(|data: &[u8]| zerosock::fuzzing::handshake(data));
