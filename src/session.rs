//! What one run of a command works with, built once: the cloud behind the `Cloud` seam, where
//! the deployment's lock is kept, where the run's metrics go and where its evidence is kept.
//! Plan, apply and destroy need nothing else, so their whole flow (plan, confirm, lock, apply,
//! record, report) runs against `FakeCloud` in unit tests; `Session::connect` gives the AWS
//! versions of all four.

use crate::aws::s3::evidence::Store;
use crate::aws::{AwsCloud, DeleteOptions};
use crate::cloud::Cloud;
use crate::deployment::Deployment;
use crate::evidence::{Applied, Evidence};
use crate::lock;
use anyhow::Result;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Session {
    pub cloud: Arc<dyn Cloud>,
    pub locks: Arc<dyn LockPlace>,
    pub metrics: Arc<dyn RunMetrics>,
    pub evidence: Arc<dyn EvidencePlace>,
}

impl Session {
    /// The AWS session of the region asked for (else the configuration's).
    pub async fn connect(region: Option<&str>, delete: DeleteOptions) -> Result<Session> {
        let aws = Arc::new(AwsCloud::connect(region, delete).await?);
        Ok(Session {
            cloud: aws.clone(),
            locks: aws.clone(),
            metrics: aws.clone(),
            evidence: aws,
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

/// Where a deployment's evidence is kept (`aws::s3::evidence`): what the last apply applied,
/// the newest proof of each failure mode.
#[async_trait]
pub trait EvidencePlace: Send + Sync {
    async fn applied(&self, env: &str) -> Result<Option<Applied>>;
    async fn record_applied(&self, applied: &Applied) -> Result<()>;
    async fn latest(&self, env: &str) -> Result<Vec<Evidence>>;
    /// After a destroy: removes the game days scheduled in AWS, forgets the applied
    /// configuration, and with `delete_evidence` every proof too. Gives lines for the operator
    /// when there was anything to forget.
    async fn forget(&self, env: &str, delete_evidence: bool) -> Result<Option<String>>;
}

#[async_trait]
impl EvidencePlace for AwsCloud {
    async fn applied(&self, env: &str) -> Result<Option<Applied>> {
        Store::of(&self.clients, env).await?.applied().await
    }

    async fn record_applied(&self, applied: &Applied) -> Result<()> {
        Store::of(&self.clients, &applied.deployment)
            .await?
            .record_applied(applied)
            .await
    }

    async fn latest(&self, env: &str) -> Result<Vec<Evidence>> {
        Store::of(&self.clients, env).await?.latest().await
    }

    async fn forget(&self, env: &str, delete_evidence: bool) -> Result<Option<String>> {
        // Game days scheduled in AWS go with the deployment: nothing is left to start them.
        let removed = crate::aws::game_days::unschedule(&self.clients, env).await?;
        let kept = Store::of(&self.clients, env)
            .await?
            .forget(delete_evidence)
            .await?;
        let mut lines: Vec<String> = removed
            .into_iter()
            .map(|r| format!("Removed the scheduled game days' {r}."))
            .collect();
        lines.extend(kept);
        Ok((!lines.is_empty()).then(|| lines.join("\n")))
    }
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
