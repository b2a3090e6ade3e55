#![no_main]
//! `case_unlinked`: its body is `kvsim::fuzz::case_unlinked` (see there for what is a crash).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crash) = kvsim::fuzz::case_unlinked(data) {
        panic!("{crash}");
    }
});
