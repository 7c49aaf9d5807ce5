//! Device requests as Compose reads them: `deploy.resources.reservations.devices` and the
//! service's `gpus` (`all` or a list). `count: all` is `-1`, and a request with neither `count`
//! nor `device_ids` asks for all devices (`-1`), as compose-go normalises it. Compose room.

use serde_yaml_ng::Value;

use super::host::{opt_str, scalar, str_list, str_map, Res};
use crate::stack::DeviceRequestSpec;

fn count(v: Option<&Value>) -> Res<Option<i64>> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let text = scalar(v)?;
    if text == "all" {
        return Ok(Some(-1));
    }
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("invalid count `{text}`: the only value allowed is `all` or a number"))
}

/// One device request (a mapping).
pub fn request(v: &Value) -> Res<DeviceRequestSpec> {
    if !v.is_mapping() {
        return Err(format!("a device request is a mapping, found {}", super::model::kind(v)));
    }
    // `gpus` entries are not in the key check (the key is also the string `all`): checked here.
    let known = ["capabilities", "count", "device_ids", "driver", "options"];
    if let Value::Mapping(m) = v {
        for k in m.keys().filter_map(|k| k.as_str()) {
            if !known.contains(&k) && !k.starts_with("x-") {
                return Err(format!("unknown key `{k}` in a device request (use {})", known.join(", ")));
            }
        }
    }
    let device_ids = str_list(v.get("device_ids"))?;
    let mut count = count(v.get("count"))?;
    if count.is_none() && device_ids.is_empty() {
        count = Some(-1);
    }
    Ok(DeviceRequestSpec {
        capabilities: str_list(v.get("capabilities"))?,
        driver: opt_str(v.get("driver"))?,
        count,
        device_ids,
        options: str_map(v.get("options"), '=')?,
    })
}

/// `deploy.resources.reservations.devices` (a list of requests).
pub fn reservations(v: Option<&Value>) -> Res<Vec<DeviceRequestSpec>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items.iter().map(request).collect(),
        Some(other) => Err(format!("expected a list of device requests, found {}", super::model::kind(other))),
    }
}

/// The service's `gpus`: `all` (one request for every GPU) or a list of requests.
pub fn gpus(v: Option<&Value>) -> Res<Vec<DeviceRequestSpec>> {
    match v {
        Some(Value::String(s)) if s == "all" => Ok(vec![DeviceRequestSpec { count: Some(-1), ..Default::default() }]),
        Some(Value::String(s)) => Err(format!("`{s}`: write `all` or a list of device requests")),
        other => reservations(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).expect("test yaml")
    }

    #[test]
    fn count_all_and_missing_count_mean_every_device() {
        let r = reservations(Some(&yaml(
            "- {driver: nvidia, count: all, capabilities: [gpu]}\n- {capabilities: [gpu]}\n- {device_ids: ['0'], capabilities: [gpu]}\n- {count: '2', capabilities: [tpu], options: [a=b]}",
        )))
        .expect("valid");
        assert_eq!(r[0].count, Some(-1));
        assert_eq!(r[0].driver.as_deref(), Some("nvidia"));
        assert_eq!(r[1].count, Some(-1));
        assert_eq!((r[2].count, r[2].device_ids.clone()), (None, vec!["0".to_string()]));
        assert_eq!(r[3].count, Some(2));
        assert_eq!(r[3].options.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn gpus_all_is_one_request_for_every_gpu() {
        let g = gpus(Some(&yaml("all"))).expect("valid");
        assert_eq!(g, vec![DeviceRequestSpec { count: Some(-1), ..Default::default() }]);
        assert!(gpus(Some(&yaml("some"))).is_err());
    }

    #[test]
    fn a_count_that_is_not_a_number_is_refused() {
        let e = gpus(Some(&yaml("- {count: abc}"))).expect_err("invalid");
        assert!(e.contains("`abc`"), "{e}");
        let e = gpus(Some(&yaml("- {capabilites: [gpu]}"))).expect_err("misspelt");
        assert!(e.contains("`capabilites`"), "{e}");
    }
}
