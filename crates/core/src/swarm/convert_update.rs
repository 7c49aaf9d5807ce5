//! The update and rollback settings of a Swarm service: slipway's health-gated defaults
//! ([`UpdateDefaults`], [`update_order`]: start-first unless a host-mode port would clash or a
//! single replica writes a named volume; `failure_action: rollback`; a monitor period) under the
//! compose file's `deploy.update_config` / `rollback_config`. Pure: unit-tested on fixtures.

use std::time::Duration;

use bollard::models::{
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum,
};

use super::convert::nanos;
use super::settings::{self, SwarmMode};
use crate::stack::{MountKind, ServiceSpec as Svc, UpdateConfig, UpdateOrder};

/// What slipway decides for a service's updates when the compose file does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDefaults {
    /// How many nodes can run the service (for the host-port clash rule).
    pub nodes: usize,
    /// The monitor period after each task update.
    pub monitor: Duration,
}

/// Start-first, unless a host-mode port could clash on a node (global mode, or as many replicas
/// as nodes: the new task would need a node whose port is held), or a single replica writes a
/// named volume; the compose file's `update_config.order` wins.
pub fn update_order(svc: &Svc, defaults: &UpdateDefaults) -> UpdateOrder {
    if let Some(order) = svc.deploy.update_config.as_ref().and_then(|u| u.order) {
        return order;
    }
    let host_port = svc.ports.iter().any(|p| {
        p.mode.as_deref() == Some("host") && p.published.as_deref().is_some_and(|s| !s.is_empty() && s != "0")
    });
    let replicas = svc.deploy.replicas.unwrap_or(1) as usize;
    let clash = match settings::mode(svc) {
        SwarmMode::Global => true,
        _ => replicas >= defaults.nodes.max(1),
    };
    let named_volume = svc.volumes.iter().any(|m| m.kind == MountKind::Volume && m.source.is_some());
    if (host_port && clash) || (named_volume && replicas <= 1) {
        UpdateOrder::StopFirst
    } else {
        UpdateOrder::StartFirst
    }
}

pub(crate) fn update_config(
    given: Option<&UpdateConfig>,
    order: UpdateOrder,
    d: &UpdateDefaults,
) -> ServiceSpecUpdateConfig {
    let g = given.cloned().unwrap_or_default();
    ServiceSpecUpdateConfig {
        parallelism: Some(i64::from(g.parallelism.unwrap_or(1))),
        delay: g.delay.map(nanos),
        failure_action: Some(match g.failure_action.as_deref() {
            Some("continue") => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            Some("pause") => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            _ => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
        }),
        monitor: Some(nanos(g.monitor.unwrap_or(d.monitor))),
        max_failure_ratio: Some(0.0),
        order: Some(match order {
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    }
}

pub(crate) fn rollback_config(
    given: Option<&UpdateConfig>,
    order: UpdateOrder,
    d: &UpdateDefaults,
) -> ServiceSpecRollbackConfig {
    let g = given.cloned().unwrap_or_default();
    let order = g.order.unwrap_or(order);
    ServiceSpecRollbackConfig {
        parallelism: Some(i64::from(g.parallelism.unwrap_or(1))),
        delay: g.delay.map(nanos),
        failure_action: Some(match g.failure_action.as_deref() {
            Some("continue") => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecRollbackConfigFailureActionEnum::PAUSE,
        }),
        monitor: Some(nanos(g.monitor.unwrap_or(d.monitor))),
        max_failure_ratio: Some(0.0),
        order: Some(match order {
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    }
}
