#![no_main]
//! `report_text`: its body is `kvsim::fuzz::report_text` (see there for what is a crash).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crash) = kvsim::fuzz::report_text(data) {
        panic!("{crash}");
    }
});
