//! An in-memory `Cloud` for unit tests of the planner and the executor: it stores what it is
//! asked to create, records every operation, and can be told to fail on a resource.

use crate::cloud::Cloud;
use crate::deployment::Deployment;
use crate::resource::{Observed, ResourceSpec};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct FakeCloud {
    pub resources: Mutex<BTreeMap<String, Observed>>,
    pub log: Mutex<Vec<String>>,
    pub fail_on: Mutex<Option<String>>,
    pub delay: Duration,
    pub next: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl FakeCloud {
    pub fn observed(&self) -> Vec<Observed> {
        self.resources.lock().unwrap().values().cloned().collect()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    async fn work(&self, entry: String, id: &str) -> anyhow::Result<()> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.fail_on.lock().unwrap().as_deref() == Some(id) {
            anyhow::bail!("injected failure on {id}");
        }
        self.log.lock().unwrap().push(entry);
        Ok(())
    }
}

#[async_trait]
impl Cloud for FakeCloud {
    fn target(&self) -> String {
        "memory".into()
    }

    fn region(&self) -> String {
        "memory-1".into()
    }

    async fn zones(&self) -> anyhow::Result<Vec<String>> {
        Ok(vec!["zone-a".into(), "zone-b".into(), "zone-c".into()])
    }

    async fn observe(&self, _: &Deployment) -> anyhow::Result<Vec<Observed>> {
        Ok(self.observed())
    }

    async fn create(&self, _: &Deployment, spec: &ResourceSpec) -> anyhow::Result<Observed> {
        self.work(format!("create {}", spec.id), &spec.id).await?;
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let physical = format!("{}-{n}", spec.id);
        let mut o = Observed::new(&spec.id, spec.kind, &physical);
        o.props = spec.props.clone();
        o.name = spec.name.clone();
        for key in ["arn", "name", "arn_suffix", "allocation_id"] {
            o.outputs.insert(key.into(), physical.clone());
        }
        self.resources.lock().unwrap().insert(physical, o.clone());
        Ok(o)
    }

    async fn update(
        &self,
        _: &Deployment,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        self.work(format!("update {}", spec.id), &spec.id).await?;
        let mut o = current.clone();
        o.props = spec.props.clone();
        self.resources
            .lock()
            .unwrap()
            .insert(o.physical_id.clone(), o.clone());
        Ok(o)
    }

    async fn delete(&self, _: &Deployment, current: &Observed) -> anyhow::Result<()> {
        self.work(format!("delete {}", current.id), &current.id)
            .await?;
        self.resources.lock().unwrap().remove(&current.physical_id);
        Ok(())
    }
}

/// An in-memory evidence bucket: what applies recorded, in order, and the proofs put in it.
#[derive(Default)]
pub struct MemoryEvidence {
    /// Every write is refused (an account where the bucket cannot be written).
    pub refuse_writes: bool,
    pub applied: Mutex<Vec<crate::evidence::Applied>>,
    pub proofs: Mutex<Vec<crate::evidence::Evidence>>,
    pub forgotten: Mutex<Vec<(String, bool)>>,
}

#[async_trait]
impl crate::session::EvidencePlace for MemoryEvidence {
    async fn applied(&self, env: &str) -> anyhow::Result<Option<crate::evidence::Applied>> {
        let all = self.applied.lock().unwrap();
        Ok(all.iter().rev().find(|a| a.deployment == env).cloned())
    }

    async fn record_applied(&self, applied: &crate::evidence::Applied) -> anyhow::Result<()> {
        if self.refuse_writes {
            anyhow::bail!("AccessDenied: s3:PutObject");
        }
        self.applied.lock().unwrap().push(applied.clone());
        Ok(())
    }

    async fn latest(&self, _: &str) -> anyhow::Result<Vec<crate::evidence::Evidence>> {
        Ok(self.proofs.lock().unwrap().clone())
    }

    async fn forget(&self, env: &str, delete_evidence: bool) -> anyhow::Result<Option<String>> {
        self.forgotten
            .lock()
            .unwrap()
            .push((env.to_string(), delete_evidence));
        Ok(None)
    }
}
