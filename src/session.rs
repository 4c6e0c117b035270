//! What one run of a command works with, built once: the cloud behind the `Cloud` seam, where
//! the deployment's lock is kept and where the run's metrics go. Plan, apply and destroy need
//! nothing else, so their whole flow (plan, confirm, lock, apply, report) runs against
//! `FakeCloud` in unit tests; `Session::connect` gives the AWS versions of all three.

use crate::aws::{AwsCloud, DeleteOptions};
use crate::cloud::Cloud;
use crate::deployment::Deployment;
use crate::lock;
use anyhow::Result;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Session {
    pub cloud: Arc<dyn Cloud>,
    pub locks: Arc<dyn LockPlace>,
    pub metrics: Arc<dyn RunMetrics>,
}

impl Session {
    /// The AWS session of the region asked for (else the configuration's).
    pub async fn connect(region: Option<&str>, delete: DeleteOptions) -> Result<Session> {
        let aws = Arc::new(AwsCloud::connect(region, delete).await?);
        Ok(Session {
            cloud: aws.clone(),
            locks: aws.clone(),
            metrics: aws,
        })
    }
}

/// Where a deployment's lock is kept: a local file, or a DynamoDB table when one is named.
pub trait LockPlace: Send + Sync {
    fn backend(&self, table: Option<&str>) -> Result<lock::Backend>;
}

/// Where `apply --publish-metrics` sends how a run went.
#[async_trait]
pub trait RunMetrics: Send + Sync {
    async fn publish_apply(
        &self,
        deployment: &Deployment,
        seconds: f64,
        changes: usize,
        succeeded: bool,
    ) -> Result<()>;
}

impl LockPlace for AwsCloud {
    fn backend(&self, table: Option<&str>) -> Result<lock::Backend> {
        match table {
            None => lock::Backend::local(),
            Some(table) => Ok(lock::Backend::Table {
                client: self.clients.dynamodb.clone(),
                table: table.to_string(),
            }),
        }
    }
}

#[async_trait]
impl RunMetrics for AwsCloud {
    async fn publish_apply(
        &self,
        deployment: &Deployment,
        seconds: f64,
        changes: usize,
        succeeded: bool,
    ) -> Result<()> {
        crate::aws::cloudwatch::metrics::publish_apply(
            &self.clients,
            deployment,
            seconds,
            changes,
            succeeded,
        )
        .await
    }
}
