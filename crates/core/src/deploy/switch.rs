//! `TrafficSwitch`: the hook between "new replica healthy" and "stop old" for the route room.
//! The deployer calls `switch_to` after the health gate (a `RouteSwitch` step), `drain` before it
//! stops an old container of a routed service, and `undo` when a failed deploy is rolled back.

use async_trait::async_trait;

use super::error::DeployError;

/// Moves a routed service's traffic between containers. Every call is bounded by the implementation.
#[async_trait]
pub trait TrafficSwitch: Send + Sync {
    /// The new container is healthy: put it in rotation and confirm it is live.
    async fn switch_to(&self, service: &str, new_container: &str) -> Result<(), DeployError>;
    /// Take an old container out of rotation and let in-flight requests finish.
    async fn drain(&self, service: &str, old_container: &str) -> Result<(), DeployError>;
    /// Undo `switch_to` (the new container leaves the rotation) during a rollback.
    async fn undo(&self, service: &str, new_container: &str) -> Result<(), DeployError>;
}

/// No router: network aliases (DNS) carry the traffic; every call is a no-op.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRouter;

#[async_trait]
impl TrafficSwitch for NoRouter {
    async fn switch_to(&self, _service: &str, _new_container: &str) -> Result<(), DeployError> {
        Ok(())
    }
    async fn drain(&self, _service: &str, _old_container: &str) -> Result<(), DeployError> {
        Ok(())
    }
    async fn undo(&self, _service: &str, _new_container: &str) -> Result<(), DeployError> {
        Ok(())
    }
}
