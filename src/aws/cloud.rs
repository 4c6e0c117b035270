//! `AwsCloud`: the engine's `Cloud` seam, dispatching to the providers.

use crate::aws::clients::Clients;
use crate::aws::ctx::{Ctx, DeleteOptions};
use crate::aws::registry::provider;
use crate::aws::sdk::{aws_error, filter, EndpointProblem};
use crate::cloud::Cloud;
use crate::deployment::Deployment;
use crate::expand::ROUTE53_METRICS_REGION;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use std::sync::Arc;

/// The real cloud.
#[derive(Clone)]
pub struct AwsCloud {
    pub clients: Arc<Clients>,
    /// us-east-1, for a deployment elsewhere: where the alarms on Route 53 health checks and
    /// CloudFront, and a distribution's certificate, must live.
    pub remote: Option<Arc<Clients>>,
    pub delete_options: DeleteOptions,
}

/// Kinds that may live in `ROUTE53_METRICS_REGION` for a deployment elsewhere.
pub(super) const REMOTE_KINDS: [Kind; 4] = [
    Kind::KmsKey,
    Kind::SnsTopic,
    Kind::MetricAlarm,
    Kind::Certificate,
];

impl AwsCloud {
    pub async fn connect(region: Option<&str>, delete_options: DeleteOptions) -> Result<Self> {
        let clients = Clients::load(region).await?;
        let remote = (clients.region != ROUTE53_METRICS_REGION)
            .then(|| Arc::new(clients.in_region(ROUTE53_METRICS_REGION)));
        Ok(AwsCloud {
            clients: Arc::new(clients),
            remote,
            delete_options,
        })
    }

    fn ctx<'a>(&'a self, deployment: &'a Deployment) -> Ctx<'a> {
        Ctx {
            clients: &self.clients,
            deployment,
            delete: &self.delete_options,
            home_region: &self.clients.region,
            reads: Default::default(),
        }
    }

    /// The context for one of the kinds that may live in us-east-1 (`REMOTE_KINDS`) whose
    /// `region` names it, else the deployment's own. Other kinds carry `region` for their own
    /// reasons (a table replica names where the replica is; its calls go to the home table).
    fn ctx_for<'a>(
        &'a self,
        deployment: &'a Deployment,
        kind: Kind,
        props: &crate::resource::Props,
    ) -> Ctx<'a> {
        let mut ctx = self.ctx(deployment);
        if let Some(remote) = &self.remote {
            let wanted = props.get("region").and_then(|v| v.as_str());
            if REMOTE_KINDS.contains(&kind) && wanted == Some(remote.region.as_str()) {
                ctx.clients = remote;
            }
        }
        ctx
    }
}

/// Where requests for a service go: its endpoint override, or AWS itself.
pub fn endpoint_for(service_env: &str) -> String {
    std::env::var(format!("AWS_ENDPOINT_URL_{service_env}"))
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| "AWS".to_string())
}

#[async_trait]
impl Cloud for AwsCloud {
    fn target(&self) -> String {
        let ec2 = endpoint_for("EC2");
        let rest = endpoint_for("CLOUDWATCH");
        if ec2 == rest {
            format!("region {} via {ec2}", self.clients.region)
        } else {
            format!(
                "region {} via {ec2} (EC2) and {rest} (CloudWatch)",
                self.clients.region
            )
        }
    }

    fn region(&self) -> String {
        self.clients.region.clone()
    }

    async fn zones(&self) -> Result<Vec<String>> {
        let out = self
            .clients
            .ec2
            .describe_availability_zones()
            .filters(filter("state", "available"))
            .send()
            .await
            .map_err(|e| aws_error("listing availability zones", e))?;
        let mut zones: Vec<String> = out
            .availability_zones()
            .iter()
            .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        zones.sort();
        Ok(zones)
    }

    async fn observe(&self, deployment: &Deployment) -> Result<Vec<Observed>> {
        let ctx = self.ctx(deployment);
        let region = &self.clients.region;
        let mut found: Vec<Observed> = Vec::new();
        // Each wave's kinds need only kinds of earlier waves: read concurrently, wave by wave.
        for wave in crate::aws::registry::observe_waves() {
            let results = futures::future::join_all(wave.iter().map(|kind| {
                let needs = provider(*kind).observe_after();
                let parents: Vec<Observed> = found
                    .iter()
                    .filter(|o| needs.contains(&o.kind))
                    .cloned()
                    .collect();
                let ctx = &ctx;
                async move {
                    let started = std::time::Instant::now();
                    let result = provider(*kind).observe(ctx, &parents).await;
                    tracing::debug!("read {kind}s in {:.2}s", started.elapsed().as_secs_f64());
                    (*kind, result)
                }
            }))
            .await;
            for (kind, result) in results {
                found.extend(result.map_err(|e| {
                    name_endpoint(kind, region, e.context(format!("reading {kind}s")))
                })?);
            }
        }
        if let Some(remote) = &self.remote {
            let far = Ctx {
                clients: remote,
                ..self.ctx(deployment)
            };
            // (`ctx` gives each context reads of its own: the far region's are its own.)
            for kind in REMOTE_KINDS {
                let more = provider(kind).observe(&far, &[]).await.map_err(|e| {
                    name_endpoint(kind, &remote.region, e.context(format!("reading {kind}s")))
                })?;
                // Only what carries the home-region mark is this deployment's over there.
                found.extend(
                    more.into_iter()
                        .map(|o| o.prop("region", Val::str(&remote.region))),
                );
            }
        }
        Ok(found)
    }

    async fn create(&self, deployment: &Deployment, spec: &ResourceSpec) -> Result<Observed> {
        let ctx = self.ctx_for(deployment, spec.kind, &spec.props);
        let mut o = provider(spec.kind)
            .create(&ctx, spec)
            .await
            .map_err(|e| name_endpoint(spec.kind, &self.clients.region, e))?;
        o.name = spec.name.clone();
        o.stack = deployment.stack.clone();
        Ok(o)
    }

    async fn update(
        &self,
        deployment: &Deployment,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let ctx = self.ctx_for(deployment, spec.kind, &spec.props);
        provider(spec.kind)
            .update(&ctx, spec, current)
            .await
            .map_err(|e| name_endpoint(spec.kind, &self.clients.region, e))
    }

    async fn delete(&self, deployment: &Deployment, current: &Observed) -> Result<()> {
        let ctx = self.ctx_for(deployment, current.kind, &current.props);
        provider(current.kind)
            .delete(&ctx, current)
            .await
            .map_err(|e| name_endpoint(current.kind, &self.clients.region, e))
    }
}

/// Adds the endpoint to an error that is about the endpoint (see `EndpointProblem`).
fn name_endpoint(kind: Kind, region: &str, err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<EndpointProblem>().is_none() {
        return err;
    }
    let var = super::registry::endpoint_var(kind);
    let endpoint = match endpoint_for(var) {
        url if url == "AWS" => format!("AWS in {region}"),
        url => url,
    };
    anyhow!("{err:#} [endpoint {endpoint}, from AWS_ENDPOINT_URL_{var} or AWS_ENDPOINT_URL]")
}
