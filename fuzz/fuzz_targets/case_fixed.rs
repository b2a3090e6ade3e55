#![no_main]
//! `case_fixed`: its body is `kvsim::fuzz::case_fixed` (see there for what is a crash).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crash) = kvsim::fuzz::case_fixed(data) {
        panic!("{crash}");
    }
});
