//! The networks and volumes of a stack as engine create requests, with the settings `docker
//! compose up` passes: driver, driver options, IPAM (driver, subnets, ranges, gateways, aux
//! addresses, options), internal, attachable, IPv6, labels. Pure.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, VolumeCreateRequest};

use crate::deploy::labels;
use crate::stack::{NetworkSpec, StackSpec, VolumeSpec};

fn ipam(v: &serde_json::Value) -> Ipam {
    let text = |o: &serde_json::Value, k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let map = |o: &serde_json::Value, k: &str| {
        o.get(k).and_then(|v| v.as_object()).map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
    };
    let config = v.get("config").and_then(|c| c.as_array()).map(|items| {
        items
            .iter()
            .map(|c| IpamConfig {
                subnet: text(c, "subnet"),
                ip_range: text(c, "ip_range"),
                gateway: text(c, "gateway"),
                auxiliary_addresses: map(c, "aux_addresses"),
            })
            .collect()
    });
    Ipam { driver: text(v, "driver"), config, options: map(v, "options") }
}

/// The create request of network `key` (engine name `name`) of `stack`.
pub fn network_create(stack: &StackSpec, key: &str, name: &str, project: &str) -> NetworkCreateRequest {
    let spec = stack.networks.get(key).cloned().unwrap_or_default();
    let mut l: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    l.insert(labels::COMPOSE_PROJECT.into(), project.into());
    l.insert(labels::COMPOSE_NETWORK.into(), key.into());
    l.insert(labels::PROJECT.into(), project.into());
    network_request(name, &spec, l)
}

/// The create request of network `name` from its spec and its labels (the deploy seam's).
pub(crate) fn network_request(name: &str, spec: &NetworkSpec, labels: HashMap<String, String>) -> NetworkCreateRequest {
    let spec = spec.clone();
    NetworkCreateRequest {
        name: name.into(),
        driver: spec.driver,
        internal: Some(spec.internal),
        attachable: spec.attachable.then_some(true),
        enable_ipv6: spec.enable_ipv6,
        options: (!spec.driver_opts.is_empty()).then(|| spec.driver_opts.into_iter().collect()),
        ipam: spec.ipam.as_ref().map(ipam),
        labels: Some(labels),
        ..Default::default()
    }
}

/// The create request of volume `key` (engine name `name`) of `stack`.
pub fn volume_create(stack: &StackSpec, key: &str, name: &str, project: &str) -> VolumeCreateRequest {
    let spec = stack.volumes.get(key).cloned().unwrap_or_default();
    let mut l: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    l.insert(labels::COMPOSE_PROJECT.into(), project.into());
    l.insert(labels::COMPOSE_VOLUME.into(), key.into());
    volume_request(name, &spec, l)
}

/// The create request of volume `name` from its spec and its labels (the deploy seam's).
pub(crate) fn volume_request(name: &str, spec: &VolumeSpec, labels: HashMap<String, String>) -> VolumeCreateRequest {
    let spec = spec.clone();
    VolumeCreateRequest {
        name: Some(name.into()),
        driver: spec.driver,
        driver_opts: (!spec.driver_opts.is_empty()).then(|| spec.driver_opts.into_iter().collect()),
        labels: Some(labels),
        ..Default::default()
    }
}
