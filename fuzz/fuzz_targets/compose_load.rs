//! Fuzz the compose loader (YAML, line index, merge keys, interpolation, key check, model).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = slipway::compose::parse_only(s);
    }
});
