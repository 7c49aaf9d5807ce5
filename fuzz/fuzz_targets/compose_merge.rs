//! Fuzz the new compose syntax: two `-f` documents (split at a line `---8<---`) merged in order,
//! with YAML merges nested in anchors, `extends`, `!reset` / `!override`, then rendered as
//! `slipway config` renders them. Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let parts: Vec<&str> = s.splitn(2, "\n---8<---\n").collect();
        let _ = slipway::compose::parse_only_files(&parts);
    }
});
