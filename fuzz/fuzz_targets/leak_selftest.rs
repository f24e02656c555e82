//! Not a parser: the check that the leak checker works. An input starting with `LEAK` leaks 64 bytes;
//! `scripts/fuzz.sh` runs this on such an input before every fuzzing session and fails unless LeakSanitizer
//! reports the leak (a missing runtime or a preload that did not take would otherwise pass silently).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"LEAK") {
        std::mem::forget(std::hint::black_box(vec![data[0]; 64]));
    }
});
