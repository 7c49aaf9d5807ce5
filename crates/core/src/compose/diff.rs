//! The first difference between two resolved compose documents (JSON values), by key path:
//! used to compare `slipway config` with `docker compose config` (tests, bench).

use serde_json::Value;

/// The path of the first difference between `expected` and `actual` with both values, or
/// `None` when they are equal (object keys in sorted order; numbers compared as numbers).
pub fn first_difference(expected: &Value, actual: &Value) -> Option<String> {
    walk(expected, actual, "")
}

fn short(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 120 {
                format!("{}...", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn walk(e: &Value, a: &Value, path: &str) -> Option<String> {
    let at = |p: &str| if p.is_empty() { "(root)".to_string() } else { p.to_string() };
    match (e, a) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = walk(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: expected {}, got {}", short(u), short(v))),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                if let Some(d) = walk(u, v, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{}: expected {} items, got {}", at(path), x.len(), y.len()))
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if e == a => None,
        _ => Some(format!("{}: expected {}, got {}", at(path), short(Some(e)), short(Some(a)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_differing_path() {
        let a = json!({"services": {"a": {"ports": [{"target": 80}], "x": 1}}});
        let b = json!({"services": {"a": {"ports": [{"target": 81}], "x": 1}}});
        assert_eq!(first_difference(&a, &b).unwrap(), "services.a.ports[0].target: expected 80, got 81");
        assert_eq!(first_difference(&a, &a), None);
        assert_eq!(first_difference(&json!(1.0), &json!(1)), None);
        assert!(first_difference(&json!({"k": 1}), &json!({})).unwrap().starts_with("k: expected 1"));
    }
}
