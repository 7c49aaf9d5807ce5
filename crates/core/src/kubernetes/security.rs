//! A container's `securityContext` (from `user`, `read_only`, `cap_add`/`cap_drop`,
//! `privileged`, `security_opt: no-new-privileges`) and its `resources` (from
//! `deploy.resources` and the service-level `cpus`/`mem_limit`/`mem_reservation`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Capabilities, ResourceRequirements, SecurityContext};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::warning::{MappingWarning, WarningKind};
use crate::stack::ServiceSpec;

/// The container's security context, `None` when the service sets nothing.
pub fn security_context(svc: &ServiceSpec, warnings: &mut Vec<MappingWarning>) -> Option<SecurityContext> {
    let h = &svc.host;
    let mut sc = SecurityContext::default();
    if let Some(user) = svc.user.as_deref().filter(|u| !u.is_empty()) {
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user, None),
        };
        match u.parse::<i64>() {
            Ok(uid) => {
                sc.run_as_user = Some(uid);
                sc.run_as_non_root = (uid != 0).then_some(true);
            }
            Err(_) => warnings.push(MappingWarning::service(
                &svc.name,
                "user",
                WarningKind::Dropped,
                format!("{u}: Kubernetes takes a numeric user id (runAsUser); write user: \"UID[:GID]\""),
            )),
        }
        match g.map(str::parse::<i64>) {
            Some(Ok(gid)) => sc.run_as_group = Some(gid),
            Some(Err(_)) => warnings.push(MappingWarning::service(
                &svc.name,
                "user",
                WarningKind::Dropped,
                "the group is not numeric; Kubernetes takes a numeric group id (runAsGroup)",
            )),
            None => {}
        }
    }
    if h.read_only {
        sc.read_only_root_filesystem = Some(true);
    }
    if h.privileged {
        sc.privileged = Some(true);
    }
    let caps = |list: &[String]| -> Option<Vec<String>> {
        let mut v: Vec<String> =
            list.iter().map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase()).collect::<Vec<_>>();
        v.sort();
        v.dedup();
        (!v.is_empty()).then_some(v)
    };
    let (add, drop) = (caps(&h.cap_add), caps(&h.cap_drop));
    if add.is_some() || drop.is_some() {
        sc.capabilities = Some(Capabilities { add, drop });
    }
    for opt in &h.security_opt {
        match opt.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {
                sc.allow_privilege_escalation = Some(false)
            }
            other => warnings.push(MappingWarning::service(
                &svc.name,
                format!("security_opt[{other}]"),
                WarningKind::Dropped,
                "only no-new-privileges maps (allowPrivilegeEscalation); set seLinuxOptions, seccompProfile or appArmorProfile in the manifest",
            )),
        }
    }
    (sc != SecurityContext::default()).then_some(sc)
}

/// The container's resources, `None` when no limit or reservation is set.
pub fn resources(svc: &ServiceSpec) -> Option<ResourceRequirements> {
    let lim = svc.deploy.limits.as_ref();
    let cpus = lim.and_then(|l| l.cpus).or(svc.host.cpus);
    let memory = lim.and_then(|l| l.memory).or(svc.host.mem_limit.and_then(|m| u64::try_from(m).ok()));
    let req_memory = svc.deploy.reservation_memory.or(svc.host.mem_reservation.and_then(|m| u64::try_from(m).ok()));
    let mut limits = BTreeMap::new();
    if let Some(c) = cpus.filter(|c| *c > 0.0) {
        limits.insert("cpu".to_string(), cpu_quantity(c));
    }
    if let Some(m) = memory.filter(|m| *m > 0) {
        limits.insert("memory".to_string(), memory_quantity(m));
    }
    let mut requests = BTreeMap::new();
    if let Some(c) = svc.deploy.reservation_cpus.filter(|c| *c > 0.0) {
        requests.insert("cpu".to_string(), cpu_quantity(c));
    }
    if let Some(m) = req_memory.filter(|m| *m > 0) {
        requests.insert("memory".to_string(), memory_quantity(m));
    }
    if limits.is_empty() && requests.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests: (!requests.is_empty()).then_some(requests),
        ..Default::default()
    })
}

/// CPUs as millicores (`1.5` -> `1500m`, `2` -> `2`).
pub fn cpu_quantity(cpus: f64) -> Quantity {
    let milli = (cpus * 1000.0).round() as u64;
    if milli.is_multiple_of(1000) {
        Quantity((milli / 1000).to_string())
    } else {
        Quantity(format!("{milli}m"))
    }
}

/// Bytes in the largest binary unit that divides them (`536870912` -> `512Mi`).
pub fn memory_quantity(bytes: u64) -> Quantity {
    for (unit, size) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes.is_multiple_of(size) {
            return Quantity(format!("{}{unit}", bytes / size));
        }
    }
    Quantity(bytes.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(1.5).0, "1500m");
        assert_eq!(cpu_quantity(2.0).0, "2");
        assert_eq!(memory_quantity(512 << 20).0, "512Mi");
        assert_eq!(memory_quantity(1 << 30).0, "1Gi");
        assert_eq!(memory_quantity(1000).0, "1000");
    }

    #[test]
    fn user_caps_and_read_only() {
        let mut svc = ServiceSpec { name: "web".into(), user: Some("1000:1000".into()), ..Default::default() };
        svc.host.read_only = true;
        svc.host.cap_drop = vec!["ALL".into()];
        svc.host.cap_add = vec!["CAP_NET_BIND_SERVICE".into()];
        let mut w = Vec::new();
        let sc = security_context(&svc, &mut w).expect("context");
        assert_eq!((sc.run_as_user, sc.run_as_group, sc.run_as_non_root), (Some(1000), Some(1000), Some(true)));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        let caps = sc.capabilities.expect("caps");
        assert_eq!(caps.add, Some(vec!["NET_BIND_SERVICE".to_string()]));
        assert_eq!(caps.drop, Some(vec!["ALL".to_string()]));
        svc.user = Some("www-data".into());
        let mut w = Vec::new();
        security_context(&svc, &mut w);
        assert_eq!(w.len(), 1);
    }
}
