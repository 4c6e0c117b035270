//! The one seam between the engine and a cloud: read what a deployment owns, create, update and
//! delete one resource. `aws::AwsCloud` implements it for real; tests use an in-memory fake.

use crate::deployment::Deployment;
use crate::resource::{Observed, ResourceSpec};
use async_trait::async_trait;

#[async_trait]
pub trait Cloud: Send + Sync {
    /// Human-readable description of where requests go (region, endpoint), for messages.
    fn target(&self) -> String;

    /// The region the deployment lives in.
    fn region(&self) -> String;

    /// Availability zones of the region that are available, in name order.
    async fn zones(&self) -> anyhow::Result<Vec<String>>;

    /// Everything carrying the deployment's ownership tags.
    async fn observe(&self, deployment: &Deployment) -> anyhow::Result<Vec<Observed>>;

    /// Creates `spec` (its references already resolved) and waits until it is usable.
    async fn create(
        &self,
        deployment: &Deployment,
        spec: &ResourceSpec,
    ) -> anyhow::Result<Observed>;

    /// Brings `current` in line with `spec` in place.
    async fn update(
        &self,
        deployment: &Deployment,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> anyhow::Result<Observed>;

    /// Deletes `current` and waits until it is gone.
    async fn delete(&self, deployment: &Deployment, current: &Observed) -> anyhow::Result<()>;
}
