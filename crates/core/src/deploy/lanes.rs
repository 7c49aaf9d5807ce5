//! How the rollout steps of a plan run concurrently. A contiguous run of rollout steps (one-offs,
//! replica rollouts, old containers stopped) is cut into *units*: one replica's steps (start,
//! health, switch, and the stop of the container it replaces), one one-off, or one lone stop
//! (scale down, removed service). Units of one service run in batches of
//! `deploy.update_config.parallelism` (default 1, `0` = all at once) with `update_config.delay`
//! between batches; services run in *waves* by `depends_on` (a service starts when the services
//! it depends on in this run are done), at most [`MAX_SERVICES`] at once. Pure: unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::Step;
use super::rules::update_order;
use crate::stack::{StackSpec, UpdateOrder};

/// At most this many services roll at the same time.
pub(crate) const MAX_SERVICES: usize = 4;

/// One unit: plan indices of its steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub service: String,
    pub steps: Vec<usize>,
}

/// A rollout step (part of a unit), as opposed to the steps that run alone.
pub(crate) fn is_rollout(step: &Step) -> bool {
    matches!(
        step,
        Step::RunOneOff { .. }
            | Step::StartReplica { .. }
            | Step::WaitHealthy { .. }
            | Step::RouteSwitch { .. }
            | Step::StopOld { .. }
    )
}

fn replica_of(step: &Step) -> Option<(&str, u32)> {
    match step {
        Step::StartReplica { service, replica }
        | Step::WaitHealthy { service, replica, .. }
        | Step::RouteSwitch { service, replica } => Some((service, *replica)),
        _ => None,
    }
}

/// The units of `steps[from..to]` (indices into `steps`), in plan order.
pub(crate) fn units(stack: &StackSpec, steps: &[Step], from: usize, to: usize) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut current: BTreeMap<(String, u32), usize> = BTreeMap::new();
    let mut pending_stop: Option<usize> = None;
    for i in from..to {
        let step = &steps[i];
        let service = step.service().unwrap_or_default().to_string();
        let new_unit = |out: &mut Vec<Unit>| {
            out.push(Unit { service: service.clone(), steps: Vec::new() });
            out.len() - 1
        };
        let unit = match step {
            Step::StartReplica { replica, .. } => {
                let u = match pending_stop.take() {
                    Some(u) if out[u].service == service => u,
                    _ => new_unit(&mut out),
                };
                current.insert((service.clone(), *replica), u);
                u
            }
            Step::WaitHealthy { replica, .. } | Step::RouteSwitch { replica, .. } => {
                match current.get(&(service.clone(), *replica)) {
                    Some(u) => *u,
                    None => new_unit(&mut out),
                }
            }
            Step::StopOld { .. } => {
                let order = stack.services.get(&service).map(|svc| update_order(svc, svc.deploy.replicas.unwrap_or(1)));
                let prev = (i > from).then(|| replica_of(&steps[i - 1])).flatten();
                let next_starts = steps[i + 1..to]
                    .first()
                    .is_some_and(|n| matches!(n, Step::StartReplica { service: s, .. } if *s == service));
                match (order, prev) {
                    (Some(UpdateOrder::StopFirst), _) if next_starts => {
                        let u = new_unit(&mut out);
                        pending_stop = Some(u);
                        u
                    }
                    (Some(UpdateOrder::StartFirst), Some((s, r))) if s == service => {
                        current.get(&(service.clone(), r)).copied().unwrap_or_else(|| new_unit(&mut out))
                    }
                    _ => new_unit(&mut out),
                }
            }
            _ => new_unit(&mut out),
        };
        out[unit].steps.push(i);
    }
    out
}

/// Services of `units` in waves: each wave's services depend (through `depends_on`) only on
/// services of earlier waves; services the stack no longer has come last. Within a wave, in
/// order of first appearance.
pub(crate) fn waves(stack: &StackSpec, units: &[Unit]) -> Vec<Vec<String>> {
    let mut order: Vec<String> = Vec::new();
    for u in units {
        if !order.contains(&u.service) {
            order.push(u.service.clone());
        }
    }
    let present: BTreeSet<&String> = order.iter().collect();
    let mut wave: BTreeMap<String, usize> = BTreeMap::new();
    // Plan order is a dependency order, so one pass sees every dependency first.
    for s in &order {
        let w = match stack.services.get(s) {
            Some(svc) => svc
                .depends_on
                .keys()
                .filter(|d| present.contains(d))
                .map(|d| wave.get(d).map_or(0, |w| w + 1))
                .max()
                .unwrap_or(0),
            None => usize::MAX,
        };
        wave.insert(s.clone(), w);
    }
    let mut levels: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for s in &order {
        levels.entry(wave[s]).or_default().push(s.clone());
    }
    levels.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::HealthGate;

    fn start(s: &str, r: u32) -> Step {
        Step::StartReplica { service: s.into(), replica: r }
    }
    fn wait(s: &str, r: u32) -> Step {
        Step::WaitHealthy { service: s.into(), replica: r, gate: HealthGate::StillRunning { after_ms: 1 } }
    }
    fn route(s: &str, r: u32) -> Step {
        Step::RouteSwitch { service: s.into(), replica: r }
    }
    fn stop(s: &str, id: &str) -> Step {
        Step::StopOld { service: s.into(), id: id.into(), name: id.into() }
    }

    #[test]
    fn units_follow_start_first_and_stop_first_replicas() {
        let steps = vec![
            Step::RunOneOff { service: "pre".into() },
            start("web", 1),
            wait("web", 1),
            route("web", 1),
            stop("web", "o1"),
            start("web", 2),
            wait("web", 2),
            stop("web", "o2"),
            stop("db", "d1"),
            start("db", 1),
            wait("db", 1),
            stop("gone", "g1"),
        ];
        let mut stack = StackSpec::default();
        for name in ["pre", "web", "db"] {
            stack.services.insert(name.into(), crate::stack::ServiceSpec { name: name.into(), ..Default::default() });
        }
        let stop_first = crate::stack::UpdateConfig { order: Some(UpdateOrder::StopFirst), ..Default::default() };
        stack.services.get_mut("db").unwrap().deploy.update_config = Some(stop_first);
        let got: Vec<(String, Vec<usize>)> =
            units(&stack, &steps, 0, steps.len()).into_iter().map(|u| (u.service, u.steps)).collect();
        let want = vec![
            ("pre", vec![0]),
            ("web", vec![1, 2, 3, 4]),
            ("web", vec![5, 6, 7]),
            ("db", vec![8, 9, 10]),
            ("gone", vec![11]),
        ];
        assert_eq!(got, want.into_iter().map(|(s, v)| (s.to_string(), v)).collect::<Vec<_>>());
    }

    #[test]
    fn waves_follow_depends_on() {
        let mut stack = StackSpec::default();
        for (name, deps) in [("pre", vec![]), ("web", vec!["pre"]), ("worker", vec![])] {
            let mut svc = crate::stack::ServiceSpec { name: name.into(), ..Default::default() };
            for d in deps {
                svc.depends_on.insert(
                    d.into(),
                    crate::stack::Dependency {
                        condition: crate::stack::DependencyCondition::ServiceCompletedSuccessfully,
                        required: true,
                        restart: false,
                    },
                );
            }
            stack.services.insert(name.into(), svc);
        }
        let u = |s: &str| Unit { service: s.into(), steps: vec![] };
        let units = [u("pre"), u("web"), u("worker"), u("gone")];
        assert_eq!(waves(&stack, &units), vec![vec!["pre", "worker"], vec!["web"], vec!["gone"]]);
    }
}
