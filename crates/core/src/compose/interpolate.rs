//! Variable interpolation exactly as the compose specification defines it: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`,
//! `${VAR+alt}`, nested expressions inside the default/alt/message, and `$$` for a literal `$`.
//! A `$` followed by anything else (`$1`, a trailing `$`) stays literal, as Compose v2 keeps it.

/// Why a template could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InterpolationError {
    /// Not valid syntax (`${}`, `${A:x}`, an unclosed `${`).
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// `${VAR:?msg}` / `${VAR?msg}` with the variable missing.
    Required {
        /// The variable.
        variable: String,
        /// The message written after `?` (interpolated).
        message: String,
    },
}

/// The result of interpolating one string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interpolated {
    /// The value.
    pub value: String,
    /// Variables that were used without a value and without a default (compose warns about them).
    pub unset: Vec<String>,
}

/// Interpolate `template`, looking variables up with `lookup`.
pub fn interpolate(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolationError> {
    let mut unset = Vec::new();
    let value = substitute(template, lookup, &mut unset, 0)?;
    Ok(Interpolated { value, unset })
}

/// Nesting beyond this depth is refused rather than recursing without bound.
const MAX_DEPTH: usize = 64;

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

fn invalid(message: impl Into<String>) -> InterpolationError {
    InterpolationError::Invalid { message: message.into() }
}

fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, InterpolationError> {
    if depth > MAX_DEPTH {
        return Err(invalid("too deeply nested"));
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&s[literal_start..i]);
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let close = closing_brace(&s[i..]).ok_or_else(|| invalid("missing closing `}`"))?;
                let inner = &s[i + 2..i + close];
                out.push_str(&braced(inner, lookup, unset, depth)?);
                i += close + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut end = i + 1;
                while end < bytes.len() && is_name_char(bytes[end]) {
                    end += 1;
                }
                let name = &s[i + 1..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_string()),
                }
                i = end;
            }
            _ => {
                // `$` followed by something that starts no expression: kept literally.
                out.push('$');
                i += 1;
            }
        }
        literal_start = i;
    }
    out.push_str(&s[literal_start..]);
    Ok(out)
}

/// Index (in `s`, which starts with `${`) of the `}` closing it; nested `${` are counted.
fn closing_brace(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut open = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'}' {
            open = open.saturating_sub(1);
            if open == 0 {
                return Some(i);
            }
        }
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

fn braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, InterpolationError> {
    let b = inner.as_bytes();
    if b.is_empty() || !is_name_start(b[0]) {
        return Err(invalid("expected a variable name after `${`"));
    }
    let mut end = 1;
    while end < b.len() && is_name_char(b[end]) {
        end += 1;
    }
    let name = &inner[..end];
    let rest = &inner[end..];
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(match value {
            Some(v) => v,
            None => {
                unset.push(name.to_string());
                String::new()
            }
        });
    }
    let (colon, op, arg) = match rest.as_bytes() {
        [b':', op @ (b'-' | b'?' | b'+'), ..] => (true, *op, &rest[2..]),
        [op @ (b'-' | b'?' | b'+'), ..] => (false, *op, &rest[1..]),
        _ => return Err(invalid(format!("unexpected `{rest}` after variable `{name}`"))),
    };
    // With `:`, an empty value counts as missing.
    let present = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    match op {
        b'-' => match value {
            Some(v) if present => Ok(v),
            _ => substitute(arg, lookup, unset, depth + 1),
        },
        b'?' => match value {
            Some(v) if present => Ok(v),
            _ => Err(InterpolationError::Required {
                variable: name.to_string(),
                message: substitute(arg, lookup, unset, depth + 1)?,
            }),
        },
        _ => {
            if present {
                substitute(arg, lookup, unset, depth + 1)
            } else {
                Ok(String::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(t: &str) -> Result<Interpolated, InterpolationError> {
        let env: HashMap<&str, &str> = [("SET", "v"), ("EMPTY", ""), ("B", "b")].into_iter().collect();
        interpolate(t, &|n| env.get(n).map(|s| s.to_string()))
    }
    fn ok(t: &str) -> String {
        run(t).unwrap().value
    }

    #[test]
    fn every_form() {
        assert_eq!(ok("$SET ${SET}"), "v v");
        assert_eq!(ok("${UNSET:-d} ${EMPTY:-d} ${SET:-d}"), "d d v");
        assert_eq!(ok("${UNSET-d} [${EMPTY-d}] ${SET-d}"), "d [] v");
        assert_eq!(ok("[${UNSET:+a}] [${EMPTY:+a}] ${SET:+a}"), "[] [] a");
        assert_eq!(ok("[${UNSET+a}] ${EMPTY+a} ${SET+a}"), "[] a a");
        assert_eq!(ok("${SET:?no} ${EMPTY?no}"), "v ");
        assert_eq!(ok("$$SET $$ a$$b"), "$SET $ a$b");
        assert_eq!(ok("${UNSET:-${B:-x}}/${UNSET:-${NOPE:-x}}"), "b/x");
        assert_eq!(ok("${UNSET:-{x}}"), "{x}");
        assert_eq!(ok("a$1 b$ $-c $SET.x"), "a$1 b$ $-c v.x");
    }

    #[test]
    fn unset_is_empty_and_reported() {
        let r = run("x${NOPE}y$ALSO").unwrap();
        assert_eq!(r.value, "xy");
        assert_eq!(r.unset, vec!["NOPE".to_string(), "ALSO".to_string()]);
        // A default used means no warning for the variable inside the branch not taken.
        assert!(run("${SET:-$NOPE}").unwrap().unset.is_empty());
    }

    #[test]
    fn required_and_invalid() {
        assert_eq!(
            run("${EMPTY:?need ${B}}"),
            Err(InterpolationError::Required { variable: "EMPTY".into(), message: "need b".into() })
        );
        assert!(matches!(run("${UNSET?m}"), Err(InterpolationError::Required { .. })));
        for bad in ["${}", "${A:x}", "${A", "${1A}", "${A:-${B}"] {
            assert!(matches!(run(bad), Err(InterpolationError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn random_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let alphabet: Vec<char> = "${}:-+?_aZ09é $".chars().collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..24);
            let s: String = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            let _ = run(&s);
        }
    }
}
