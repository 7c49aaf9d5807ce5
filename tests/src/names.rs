//! Unique names for everything a test creates in the shared engine.

/// Prefix of every name the tests create; a room's resources start with `slipway-t-<room>-`.
pub const PREFIX: &str = "slipway-t";

/// Returns `slipway-t-<room>-<8 hex>` in lowercase, unique per call, valid as a container, network,
/// volume or image repository name. Characters of `room` outside `[a-z0-9-]` become `-`.
pub fn unique(room: &str) -> String {
    let room: String = room
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    let suffix: u32 = rand::random();
    format!("{PREFIX}-{room}-{suffix:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_the_room_and_eight_hex_digits() {
        let name = unique("Harness_X");
        let rest = name.strip_prefix("slipway-t-harness-x-").unwrap();
        assert_eq!(rest.len(), 8, "{name}");
        assert!(rest.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{name}");
    }

    #[test]
    fn names_differ_between_calls() {
        let names: std::collections::BTreeSet<String> = (0..100).map(|_| unique("harness")).collect();
        assert_eq!(names.len(), 100);
    }
}
