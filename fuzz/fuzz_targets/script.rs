#![no_main]
//! `script`: its body is `kvsim::fuzz::script` (see there for what is a crash).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(crash) = kvsim::fuzz::script(data) {
        panic!("{crash}");
    }
});
