//! Merging several `-f` files in order, as Compose merges them: mappings merge key by key,
//! scalars are replaced; `command`, `entrypoint` and `healthcheck.test` are replaced whole;
//! `environment`, `labels`, `extra_hosts`, `depends_on`, `networks` merge as mappings (list forms
//! are read as mappings first); `ports` are appended without duplicates; `volumes` are merged by
//! container path; other lists are appended without duplicates. A later value tagged `!reset`
//! removes the key, one tagged `!override` replaces it whole ([`strip_tags`] then applies the
//! tags left in the result).

use serde_yaml_ng::{Mapping, Value};

/// `!reset` / `!override` on a value written in a later file (or an extending service).
fn tag_action(b: &mut Mapping, k: &Value, v: Value) -> Option<Value> {
    if let Value::Tagged(t) = &v {
        match t.tag.to_string().as_str() {
            "!reset" => {
                b.remove(k);
                return None;
            }
            "!override" => {
                b.insert(k.clone(), v);
                return None;
            }
            _ => {}
        }
    }
    Some(v)
}

/// Apply the tags left in a merged document: `!reset` keys go, `!override` values stay as written.
pub fn strip_tags(v: &mut Value) {
    match v {
        Value::Mapping(m) => {
            m.retain(|_, v| !matches!(v, Value::Tagged(t) if t.tag == "!reset"));
            for (_, v) in m.iter_mut() {
                strip_tags(v);
            }
        }
        Value::Sequence(items) => {
            items.retain(|v| !matches!(v, Value::Tagged(t) if t.tag == "!reset"));
            items.iter_mut().for_each(strip_tags);
        }
        Value::Tagged(t) if t.tag == "!override" => {
            let mut inner = std::mem::take(&mut t.value);
            strip_tags(&mut inner);
            *v = inner;
        }
        _ => {}
    }
}

/// Merge `over` (a later file) into `base`.
pub fn merge_files(base: &mut Value, over: Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, over) else { return };
    for (k, v) in o {
        let Some(v) = tag_action(b, &k, v) else { continue };
        let is_services = k.as_str() == Some("services");
        match b.get_mut(&k) {
            Some(existing) if is_services => merge_services(existing, v),
            Some(existing) => deep_merge(existing, v),
            None => {
                b.insert(k, v);
            }
        }
    }
}

fn merge_services(base: &mut Value, over: Value) {
    let (Value::Mapping(b), Value::Mapping(o)) = (&mut *base, over) else {
        return;
    };
    for (name, svc) in o {
        let Some(svc) = tag_action(b, &name, svc) else { continue };
        match b.get_mut(&name) {
            Some(existing) => merge_service(existing, svc),
            None => {
                b.insert(name, svc);
            }
        }
    }
}

/// Merge one service definition `over` into `base` (later file, or the service that extends).
pub fn merge_service(base: &mut Value, over: Value) {
    let Value::Mapping(o) = over else { return };
    if !base.is_mapping() {
        *base = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(b) = base else { return };
    for (k, v) in o {
        let Some(v) = tag_action(b, &k, v) else { continue };
        let key = k.as_str().unwrap_or_default().to_string();
        let Some(existing) = b.get_mut(&k) else {
            b.insert(k, v);
            continue;
        };
        match key.as_str() {
            "command" | "entrypoint" => *existing = v,
            "environment" | "labels" | "extra_hosts" | "depends_on" | "networks" => {
                let mut m = as_map(existing.clone(), &key);
                let mut over = as_map(v, &key);
                // A network named again without settings keeps the earlier file's settings.
                if let (true, Value::Mapping(o), Value::Mapping(b)) = (key == "networks", &mut over, &m) {
                    o.retain(|k, v| !(v.is_null() && b.contains_key(k)));
                }
                deep_merge(&mut m, over);
                *existing = m;
            }
            "healthcheck" => {
                let mut v = v;
                if let (Value::Mapping(e), Some(test)) = (&mut *existing, v.get_mut("test").map(std::mem::take)) {
                    e.insert(Value::from("test"), test);
                }
                if let Value::Mapping(m) = &mut v {
                    m.remove("test");
                }
                deep_merge(existing, v);
            }
            "volumes" => merge_list_by(existing, v, volume_target),
            "deploy" => {
                let mut v = v;
                if let (Some(el), Some(vl)) = (existing.get_mut("labels"), v.get_mut("labels")) {
                    let mut m = as_map(el.clone(), "labels");
                    deep_merge(&mut m, as_map(std::mem::take(vl), "labels"));
                    *vl = m;
                }
                deep_merge(existing, v);
            }
            _ => deep_merge(existing, v),
        }
    }
}

/// Mappings merge recursively, lists append without duplicates, anything else is replaced.
fn deep_merge(base: &mut Value, over: Value) {
    match (&mut *base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let Some(v) = tag_action(b, &k, v) else { continue };
                match b.get_mut(&k) {
                    Some(e) => deep_merge(e, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (_, o) => *base = o,
    }
}

fn merge_list_by(base: &mut Value, over: Value, key: fn(&Value) -> Option<String>) {
    let (Value::Sequence(b), Value::Sequence(o)) = (&mut *base, over.clone()) else {
        *base = over;
        return;
    };
    for item in o {
        let k = key(&item);
        match b.iter_mut().find(|e| k.is_some() && key(e) == k) {
            Some(e) => *e = item,
            None => b.push(item),
        }
    }
}

fn volume_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() >= 2 { parts[1] } else { parts[0] }.to_string())
        }
        Value::Mapping(_) => v.get("target").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Read a list form (`K=V`, names) as a mapping.
fn as_map(v: Value, key: &str) -> Value {
    let Value::Sequence(items) = v else { return v };
    let mut m = Mapping::new();
    for item in items {
        let s = match &item {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let (k, val) = match key {
            "depends_on" => {
                (s, Value::Mapping([(Value::from("condition"), Value::from("service_started"))].into_iter().collect()))
            }
            "networks" => (s, Value::Null),
            "extra_hosts" => match s.split_once('=').or_else(|| s.split_once(':')) {
                Some((h, ip)) => (h.to_string(), Value::from(ip)),
                None => (s, Value::Null),
            },
            _ => match s.split_once('=') {
                Some((k, v)) => (k.to_string(), Value::from(v)),
                None => (s, Value::Null),
            },
        };
        m.insert(Value::from(k), val);
    }
    Value::Mapping(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn override_rules() {
        let mut base = y("services:\n  a:\n    image: x\n    command: [a, b]\n    environment: [A=1, B=2]\n    ports: ['80:80']\n    volumes: ['d:/data', '/x:/y']\n");
        let over = y("services:\n  a:\n    image: y\n    command: [c]\n    environment: {B: 3}\n    ports: ['80:80', '81:81']\n    volumes: ['e:/data']\n  b:\n    image: z\n");
        merge_files(&mut base, over);
        let a = &base["services"]["a"];
        assert_eq!(a["image"], Value::from("y"));
        assert_eq!(a["command"], y("[c]"));
        assert_eq!(a["environment"], y("{A: '1', B: 3}"));
        assert_eq!(a["ports"], y("['80:80', '81:81']"));
        assert_eq!(a["volumes"], y("['e:/data', '/x:/y']"));
        assert_eq!(base["services"]["b"]["image"], Value::from("z"));
    }
}
