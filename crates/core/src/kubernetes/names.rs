//! Object names: compose keys made into DNS-1123 labels (lowercase, `-` for `_` and `.`, at most
//! 63 characters), so that a Service named after a compose service answers to the same DNS name.

/// A DNS-1123 label from a compose name: lowercase; anything but `[a-z0-9-]` becomes `-`; trimmed
/// of leading/trailing `-`; cut to 63 characters. Empty input gives `x`.
pub fn dns_label(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `<base>-<suffix>` as a DNS label, the base shortened so the suffix always fits.
pub fn suffixed(base: &str, suffix: &str) -> String {
    let base = dns_label(base);
    let room = 63usize.saturating_sub(suffix.len() + 1);
    let cut: String = base.chars().take(room).collect();
    format!("{}-{suffix}", cut.trim_end_matches('-'))
}

/// An environment variable name that Kubernetes accepts in a ConfigMap/Secret key
/// (`[-._a-zA-Z0-9]+`).
pub fn is_config_key(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_names_become_dns_labels() {
        assert_eq!(dns_label("db"), "db");
        assert_eq!(dns_label("My_Service.v2"), "my-service-v2");
        assert_eq!(dns_label("__"), "x");
        assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
        assert_eq!(suffixed(&"b".repeat(80), "0123abcd").len(), 63);
        assert_eq!(suffixed("prestart", "0123abcd"), "prestart-0123abcd");
        assert!(is_config_key("DATABASE_URL") && !is_config_key("A B"));
    }
}
