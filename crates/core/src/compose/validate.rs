//! Checks across services of a resolved stack: `depends_on` targets exist, no dependency cycle,
//! no host port published twice, every network and named volume used is declared.

use std::collections::{BTreeMap, BTreeSet};

use super::error::ComposeError;
use super::yaml::{KeyPath, Sources};
use crate::stack::{MountKind, StackSpec};

fn path(service: &str, rest: &[&str]) -> KeyPath {
    let mut p = KeyPath::parse("services").key(service);
    for r in rest {
        p = p.key(r);
    }
    p
}

/// Run every check; `declared_networks`/`declared_volumes` are the top-level keys as written.
pub fn validate(
    stack: &StackSpec,
    declared_networks: &BTreeSet<String>,
    declared_volumes: &BTreeSet<String>,
    sources: &Sources,
) -> Result<(), ComposeError> {
    for (name, svc) in &stack.services {
        for (dep, d) in &svc.depends_on {
            if d.required && !stack.services.contains_key(dep) {
                return Err(ComposeError::MissingDependency {
                    at: sources.locate(&path(name, &["depends_on", dep])),
                    service: name.clone(),
                    dependency: dep.clone(),
                });
            }
        }
        for net in svc.networks.keys() {
            if net != "default" && !declared_networks.contains(net) {
                return Err(ComposeError::UndeclaredNetwork {
                    at: sources.locate(&path(name, &["networks", net])),
                    service: name.clone(),
                    network: net.clone(),
                });
            }
        }
        for m in &svc.volumes {
            if let (MountKind::Volume, Some(src)) = (m.kind, &m.source) {
                if !declared_volumes.contains(src) {
                    return Err(ComposeError::UndeclaredVolume {
                        at: sources.locate(&path(name, &["volumes"])),
                        service: name.clone(),
                        volume: src.clone(),
                    });
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(stack) {
        return Err(ComposeError::DependencyCycle { at: sources.locate(&path(&cycle[0], &["depends_on"])), cycle });
    }
    ports(stack, sources)
}

fn find_cycle(stack: &StackSpec) -> Option<Vec<String>> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        s: &'a str,
        stack: &'a StackSpec,
        state: &mut BTreeMap<&'a str, u8>,
        trail: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(s) {
            Some(2) => return None,
            Some(1) => {
                let start = trail.iter().position(|t| *t == s).unwrap_or(0);
                let mut c: Vec<String> = trail[start..].iter().map(|t| t.to_string()).collect();
                c.push(s.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(s, 1);
        trail.push(s);
        if let Some(svc) = stack.services.get(s) {
            for dep in svc.depends_on.keys() {
                if stack.services.contains_key(dep) {
                    if let Some(c) = visit(dep, stack, state, trail) {
                        return Some(c);
                    }
                }
            }
        }
        trail.pop();
        state.insert(s, 2);
        None
    }
    for name in stack.services.keys() {
        if let Some(c) = visit(name, stack, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn ports(stack: &StackSpec, sources: &Sources) -> Result<(), ComposeError> {
    // (host ip, port, protocol) -> service
    let mut taken: Vec<(String, u16, String, String)> = Vec::new();
    for (name, svc) in &stack.services {
        for p in &svc.ports {
            let Some(published) = &p.published else { continue };
            let (lo, hi) = match published.split_once('-') {
                Some((a, b)) => (a.parse::<u16>().unwrap_or(0), b.parse::<u16>().unwrap_or(0)),
                None => {
                    let n = published.parse::<u16>().unwrap_or(0);
                    (n, n)
                }
            };
            let ip = p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
            for port in lo..=hi {
                if port == 0 {
                    continue;
                }
                let clash = taken.iter().find(|(tip, tport, tproto, _)| {
                    *tport == port
                        && *tproto == p.protocol
                        && (*tip == ip || tip == "0.0.0.0" || ip == "0.0.0.0" || tip == "::" || ip == "::")
                });
                if let Some((_, _, _, other)) = clash {
                    return Err(ComposeError::PortConflict {
                        at: sources.locate(&path(name, &["ports"])),
                        service: name.clone(),
                        other: other.clone(),
                        port,
                    });
                }
                taken.push((ip.clone(), port, p.protocol.clone(), name.clone()));
            }
        }
    }
    Ok(())
}
