#![no_main]
//! `case_text`: its body is `kvsim::fuzz::case_text` (see there for what is a crash).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crash) = kvsim::fuzz::case_text(data) {
        panic!("{crash}");
    }
});
