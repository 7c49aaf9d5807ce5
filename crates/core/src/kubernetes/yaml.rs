//! The multi-document YAML stream, written here rather than by a YAML library so that every
//! string that a YAML 1.1 reader (kubectl's `sigs.k8s.io/yaml`, PyYAML) could take for something
//! else (`yes`, `on`, `0.5`, `1e3`, `null`, `--x`) is quoted: `args: [yes]` must stay a string.
//! Block style, keys in the order k8s-openapi writes them (fixed), documents separated by `---`.

use serde_json::Value;

/// Objects as one YAML stream.
pub fn to_yaml_stream<'a>(objects: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for obj in objects {
        out.push_str("---\n");
        match obj {
            Value::Object(m) if !m.is_empty() => map(m, 0, &mut out),
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
    out
}

/// A string YAML 1.1 and 1.2 both read back as the same plain string.
fn plain_ok(s: &str) -> bool {
    const WORDS: [&str; 13] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "~", "<<"];
    let Some(first) = s.chars().next() else { return false };
    (first.is_ascii_alphabetic() || first == '/')
        && !s.ends_with(':')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | ':' | '=' | '+' | '@'))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if plain_ok(s) => s.clone(),
        // A JSON string is a valid YAML double-quoted scalar.
        Value::String(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        _ => String::new(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(m) if !m.is_empty())
}

fn map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of a map inside a sequence item follows its `- ` on the same line.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar(&Value::String(k.clone())));
        out.push(':');
        value(v, indent, out);
    }
}

fn value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            for item in a {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => map(m, indent + 2, out),
                    Value::Array(_) if is_block(item) => {
                        out.push_str("[]\n"); // nested sequences do not occur in Kubernetes objects
                    }
                    other => {
                        out.push_str(&scalar(other));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_strings_are_quoted_and_the_stream_reads_back() {
        let obj = serde_json::json!({
            "kind": "Deployment",
            "args": ["redis-server", "--appendonly", "yes", "0.0.0.0:8080", "on", ""],
            "data": {"A": "line1\nline2", "B": "*", "n": 3, "t": true},
            "empty": {}, "list": [{"name": "a", "x": [1]}, {"name": "b"}],
        });
        let text = to_yaml_stream([&obj]);
        assert!(text.contains("- \"yes\"\n") && text.contains("- \"on\"\n"), "{text}");
        assert!(text.contains("- redis-server\n"), "{text}");
        let back: Value = serde_yaml_ng::from_str(text.trim_start_matches("---\n")).expect("reads back");
        assert_eq!(back, obj);
    }
}
