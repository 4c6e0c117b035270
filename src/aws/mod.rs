//! The AWS side: one provider per resource kind behind the `Provider` trait, and `AwsCloud`, which
//! implements the engine's `Cloud` seam by dispatching to them. Clients come from the standard
//! configuration chain, so endpoints (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), profiles
//! and credentials work unchanged against AWS, LocalStack or the local emulators.

mod alarm;
mod asg;
pub mod backup;
mod backup_plan;
mod backup_vault;
mod cache;
mod cache_subnet_group;
mod certificate;
mod dashboard;
mod db_instance;
mod db_parameter_group;
mod db_subnet_group;
mod dns_record;
mod ecs_cluster;
mod ecs_service;
mod efs_access_point;
mod efs_file_system;
mod efs_mount_target;
mod eip;
mod emr_cluster;
mod health_check;
mod hosted_zone;
mod iam_role;
mod igw;
mod instance_profile;
mod kms_key;
pub mod lab;
mod launch_template;
mod listener;
mod listener_rule;
mod load_balancer;
mod log_group;
mod nat;
mod network_acl;
mod route_table;
mod s3_bucket;
mod scaling;
mod security_group;
mod subnet;
mod table;
mod table_replica;
mod target_group;
mod task_definition;
mod topic;
pub mod trail;
mod vpc;
mod vpc_endpoint;
mod web_acl;
mod xray;

mod registry;
use registry::provider;

use crate::cloud::Cloud;
use crate::deployment::Deployment;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::deployment::{
    TAG_DEPLOYMENT, TAG_HOME_REGION, TAG_LOGICAL_ID, TAG_REPLICA_OF, TAG_SCALED_BY, TAG_STACK,
};
pub use crate::expand::ROUTE53_METRICS_REGION;

/// Service clients, built once from one configuration.
pub struct Clients {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub autoscaling_apps: aws_sdk_applicationautoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub efs: aws_sdk_efs::Client,
    pub route53: aws_sdk_route53::Client,
    pub emr: aws_sdk_emr::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub xray: aws_sdk_xray::Client,
    pub kms: aws_sdk_kms::Client,
    pub acm: aws_sdk_acm::Client,
    pub wafv2: aws_sdk_wafv2::Client,
    pub backup: aws_sdk_backup::Client,
    /// The loaded configuration, for clients in other regions (global table replicas).
    config: aws_types::SdkConfig,
    /// Partition and account of the credentials, asked of STS once (`caller_account`).
    caller: tokio::sync::OnceCell<(String, String)>,
}

impl Clients {
    /// Loads the standard AWS configuration, with `region` overriding it when given.
    pub async fn load(region: Option<&str>) -> Result<Clients> {
        // Standard retry mode with more attempts than the default 3: provisioning bursts hit
        // API rate limits, and the SDK's backoff is the right place to absorb them. A retry
        // setting in the environment (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) is the user's and wins.
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        let user_set = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !user_set {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(8));
        }
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        let conf = loader.load().await;
        let region = conf.region().map(|r| r.to_string()).ok_or_else(|| {
            anyhow!("no AWS region: set stack.region, AWS_REGION, or a profile with a region")
        })?;
        Ok(Clients::from_conf(region, conf))
    }

    /// The same credentials, endpoints and retries, in `region`.
    pub fn in_region(&self, region: &str) -> Clients {
        let conf = self
            .config
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Clients::from_conf(region.to_string(), conf)
    }

    fn from_conf(region: String, conf: aws_types::SdkConfig) -> Clients {
        Clients {
            region,
            ec2: aws_sdk_ec2::Client::new(&conf),
            autoscaling: aws_sdk_autoscaling::Client::new(&conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
            rds: aws_sdk_rds::Client::new(&conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
            sns: aws_sdk_sns::Client::new(&conf),
            elasticache: aws_sdk_elasticache::Client::new(&conf),
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            autoscaling_apps: aws_sdk_applicationautoscaling::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            ecs: aws_sdk_ecs::Client::new(&conf),
            efs: aws_sdk_efs::Client::new(&conf),
            route53: aws_sdk_route53::Client::new(&conf),
            emr: aws_sdk_emr::Client::new(&conf),
            s3: s3_client(&conf),
            sts: aws_sdk_sts::Client::new(&conf),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&conf),
            xray: aws_sdk_xray::Client::new(&conf),
            kms: aws_sdk_kms::Client::new(&conf),
            acm: aws_sdk_acm::Client::new(&conf),
            wafv2: aws_sdk_wafv2::Client::new(&conf),
            backup: aws_sdk_backup::Client::new(&conf),
            config: conf,
            caller: tokio::sync::OnceCell::new(),
        }
    }

    /// A DynamoDB client for another region, with the same credentials and endpoints.
    pub fn dynamodb_in(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.config)
            .region(aws_config::Region::new(region.to_string()))
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}

/// S3 with path-style addressing when an endpoint is configured for it: S3-compatible endpoints
/// (LocalStack, MinIO, the local emulators) serve `endpoint/bucket`, not `bucket.endpoint`.
/// AWS itself keeps the SDK's default.
fn s3_client(conf: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let custom = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let s3 = aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(custom)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The partition (`aws`, `aws-cn`, `aws-us-gov`) and account id of the credentials in use, for
/// policies that must name the account. Asked of STS once per set of clients, however many
/// buckets and keys a run writes.
pub async fn caller_account(ctx: &Ctx<'_>) -> Result<(String, String)> {
    let sts = &ctx.clients.sts;
    let caller = ctx
        .clients
        .caller
        .get_or_try_init(|| async {
            let me = sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| aws_error("reading the account id", e))?;
            let partition = me
                .arn()
                .and_then(|arn| arn.split(':').nth(1))
                .filter(|p| !p.is_empty())
                .unwrap_or("aws");
            Ok::<_, anyhow::Error>((
                partition.to_string(),
                me.account().unwrap_or_default().to_string(),
            ))
        })
        .await?;
    Ok(caller.clone())
}

/// Choices that change how deletions behave.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Delete databases without a final snapshot.
    pub skip_final_snapshot: bool,
    /// Turn deletion protection off before deleting (destroy only, explicitly asked for).
    pub disable_deletion_protection: bool,
}

/// What a provider call needs.
pub struct Ctx<'a> {
    /// Clients for the region the call is for: the deployment's, or another one for the few
    /// resources that must live elsewhere.
    pub clients: &'a Clients,
    pub deployment: &'a Deployment,
    pub delete: &'a DeleteOptions,
    /// The deployment's own region.
    pub home_region: &'a str,
}

impl Ctx<'_> {
    pub fn env(&self) -> &str {
        &self.deployment.env
    }

    /// The ownership tags (plus `Name`) every resource of `spec` carries.
    pub fn tags(&self, spec: &ResourceSpec) -> Vec<(String, String)> {
        let mut tags = vec![
            ("Name".into(), spec.name.clone()),
            (TAG_DEPLOYMENT.into(), self.deployment.env.clone()),
            (TAG_STACK.into(), self.deployment.stack.clone()),
            (TAG_LOGICAL_ID.into(), spec.id.clone()),
        ];
        if self.clients.region != self.home_region {
            tags.push((TAG_HOME_REGION.into(), self.home_region.to_string()));
        }
        tags
    }

    /// The logical id and stack of a resource, if its tags say this deployment owns it.
    pub fn owner<'t>(
        &self,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> Option<(String, String)> {
        let tags: HashMap<&str, &str> = tags.into_iter().collect();
        if tags.get(TAG_DEPLOYMENT) != Some(&self.deployment.env.as_str()) {
            return None;
        }
        // Made here for a deployment of the same name in another region.
        let home = tags
            .get(TAG_HOME_REGION)
            .copied()
            .unwrap_or(&self.clients.region);
        if home != self.home_region {
            return None;
        }
        let id = tags.get(TAG_LOGICAL_ID)?.to_string();
        let stack = tags.get(TAG_STACK).copied().unwrap_or_default().to_string();
        Some((id, stack))
    }

    /// The IAM path of the deployment's roles and instance profiles: IAM is global, so the
    /// region is part of it, and listing by it finds only this region's deployment.
    pub fn iam_path(&self) -> String {
        format!("/ftctl/{}/{}/", self.deployment.env, self.clients.region)
    }

    /// The prefix of every name this deployment gives.
    pub fn name_prefix(&self) -> String {
        format!("{}-", self.deployment.env)
    }
}

/// One AWS resource kind: how to find it, make it, change it and remove it.
#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    /// The kinds whose observed resources `observe` needs (children like listeners are listed
    /// per parent). `AwsCloud::observe` reads those kinds first and passes only them.
    fn observe_after(&self) -> &'static [Kind] {
        &[]
    }

    /// Everything of this kind the deployment owns. `found` holds what the kinds named by
    /// `observe_after` found.
    async fn observe(&self, ctx: &Ctx<'_>, found: &[Observed]) -> Result<Vec<Observed>>;

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed>;

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed>;

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()>;
}

/// The real cloud.
#[derive(Clone)]
pub struct AwsCloud {
    pub clients: Arc<Clients>,
    /// us-east-1, for a deployment elsewhere: where Route 53 health-check alarms must live.
    pub remote: Option<Arc<Clients>>,
    pub delete_options: DeleteOptions,
}

/// Kinds that may live in `ROUTE53_METRICS_REGION` for a deployment elsewhere.
const REMOTE_KINDS: [Kind; 3] = [Kind::KmsKey, Kind::SnsTopic, Kind::MetricAlarm];

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
        for wave in registry::observe_waves() {
            let results = futures::future::join_all(wave.iter().map(|kind| {
                let needs = provider(*kind).observe_after();
                let parents: Vec<Observed> = found
                    .iter()
                    .filter(|o| needs.contains(&o.kind))
                    .cloned()
                    .collect();
                let ctx = &ctx;
                async move { (*kind, provider(*kind).observe(ctx, &parents).await) }
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

/// How many per-resource reads (tags, policies: what a listing leaves out) one kind has in
/// flight while reading a deployment: a plan waits for their latency, not their number.
pub const READS_AT_ONCE: usize = 8;

/// `read` for every item, `READS_AT_ONCE` at a time, results in the items' order; `None`s
/// (not the deployment's) are left out.
pub async fn read_each<T, R, F, Fut>(items: impl IntoIterator<Item = T>, read: F) -> Result<Vec<R>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<Option<R>>>,
{
    use futures::{StreamExt, TryStreamExt};
    let read: Vec<Option<R>> = futures::stream::iter(items.into_iter().map(read))
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(read.into_iter().flatten().collect())
}

/// An SDK call that got no AWS answer: nothing came back (the endpoint is down, unreachable or
/// too slow) or something that is not AWS answered. The resource's endpoint is added where the
/// kind is known (`AwsCloud`), so the message says where ftctl was sending requests.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EndpointProblem(String);

/// An error from an SDK call, as one line: what ftctl was doing, the AWS error code and message.
pub fn aws_error<E>(doing: &str, err: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let detail = match (err.code(), &err) {
        (Some(code), _) => format!("{code}: {}", err.message().unwrap_or("(no message)")),
        // An answer that is not an AWS error (a proxy, an endpoint that is not AWS): show what
        // came back rather than the SDK's internals.
        (None, SdkError::ServiceError(service)) => {
            let raw = service.raw();
            let body = raw
                .body()
                .bytes()
                .map(|b| one_line(&String::from_utf8_lossy(b)))
                .unwrap_or_default();
            return EndpointProblem(format!(
                "{doing}: HTTP {} from the endpoint: {body}",
                raw.status().as_u16()
            ))
            .into();
        }
        (None, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => {
            // The innermost cause says it plainly ("connection refused", "connection closed
            // before message completed"); the layers above it are the SDK's plumbing.
            let mut cause: &dyn std::error::Error = &err;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            let what = if matches!(err, SdkError::TimeoutError(_)) {
                "timed out".to_string()
            } else {
                cause.to_string()
            };
            return EndpointProblem(format!("{doing}: no answer from the endpoint: {what}")).into();
        }
        (None, _) => DisplayErrorContext(&err).to_string(),
    };
    anyhow!("{doing}: {detail}")
}

/// An error from an SDK waiter, as one line. A poll that failed is reported like any call (so
/// an unreachable endpoint is named as such); the other outcomes say how the wait ended.
pub fn waiter_error<O, E>(
    doing: &str,
    err: aws_smithy_runtime_api::client::waiters::error::WaiterError<O, E>,
) -> anyhow::Error
where
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;
    match err {
        WaiterError::OperationFailed(failed) => aws_error(doing, failed.into_error()),
        WaiterError::ExceededMaxWait(waited) => anyhow!(
            "{doing}: still not done after {} s ({} polls)",
            waited.elapsed().as_secs(),
            waited.poll_count()
        ),
        WaiterError::FailureState(_) => {
            anyhow!("{doing}: AWS reports a state it cannot recover from")
        }
        other => anyhow!("{doing}: {}", DisplayErrorContext(&other)),
    }
}

/// The endpoint variable (`AWS_ENDPOINT_URL_<SERVICE>`) of the service a kind is made with.
fn endpoint_var(kind: Kind) -> &'static str {
    match kind {
        Kind::Vpc
        | Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::NatGateway
        | Kind::RouteTable
        | Kind::NetworkAcl
        | Kind::VpcEndpoint
        | Kind::SecurityGroup
        | Kind::LaunchTemplate => "EC2",
        Kind::TargetGroup | Kind::LoadBalancer | Kind::Listener | Kind::ListenerRule => {
            "ELASTIC_LOAD_BALANCING_V2"
        }
        Kind::AutoScalingGroup => "AUTO_SCALING",
        Kind::DbSubnetGroup | Kind::DbParameterGroup | Kind::DbInstance => "RDS",
        Kind::KmsKey => "KMS",
        Kind::Certificate => "ACM",
        Kind::WebAcl => "WAFV2",
        Kind::BackupVault | Kind::BackupPlan => "BACKUP",
        Kind::SnsTopic => "SNS",
        Kind::MetricAlarm | Kind::Dashboard => "CLOUDWATCH",
        Kind::CacheSubnetGroup | Kind::CacheReplicationGroup => "ELASTICACHE",
        Kind::CacheScaling | Kind::ServiceScaling => "APPLICATION_AUTO_SCALING",
        Kind::DynamoTable | Kind::TableReplica => "DYNAMODB",
        Kind::IamRole | Kind::InstanceProfile => "IAM",
        Kind::LogGroup => "CLOUDWATCH_LOGS",
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => "ECS",
        Kind::EfsFileSystem | Kind::EfsMountTarget | Kind::EfsAccessPoint => "EFS",
        Kind::HostedZone | Kind::DnsRecord | Kind::HealthCheck => "ROUTE_53",
        Kind::S3Bucket => "S3",
        Kind::EmrCluster => "EMR",
        Kind::Trail => "CLOUDTRAIL",
        Kind::TracingGroup | Kind::SamplingRule => "XRAY",
    }
}

/// Adds the endpoint to an error that is about the endpoint (see `EndpointProblem`).
fn name_endpoint(kind: Kind, region: &str, err: anyhow::Error) -> anyhow::Error {
    if err.downcast_ref::<EndpointProblem>().is_none() {
        return err;
    }
    let var = endpoint_var(kind);
    let endpoint = match endpoint_for(var) {
        url if url == "AWS" => format!("AWS in {region}"),
        url => url,
    };
    anyhow!("{err:#} [endpoint {endpoint}, from AWS_ENDPOINT_URL_{var} or AWS_ENDPOINT_URL]")
}

/// A response body as one short line: markup dropped, whitespace collapsed, at most 200 chars.
fn one_line(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    err.code().map(str::to_string)
}

pub fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .values(value)
        .build()
}

/// The EC2 filter selecting what this deployment owns.
pub fn owned_filter(ctx: &Ctx<'_>) -> aws_sdk_ec2::types::Filter {
    filter(&format!("tag:{TAG_DEPLOYMENT}"), ctx.env())
}

/// EC2 tag specifications for a resource type.
pub fn ec2_tags(
    ctx: &Ctx<'_>,
    spec: &ResourceSpec,
    resource_type: aws_sdk_ec2::types::ResourceType,
) -> aws_sdk_ec2::types::TagSpecification {
    let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(resource_type);
    for (k, v) in ctx.tags(spec) {
        b = b.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
    }
    b.build()
}

pub fn ec2_owner(ctx: &Ctx<'_>, tags: &[aws_sdk_ec2::types::Tag]) -> Option<(String, String)> {
    ctx.owner(
        tags.iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    )
}

pub fn ec2_name(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string()
}

/// Waits out "still in use" errors that clear by themselves once AWS releases what a deleted
/// neighbour held (network interfaces of a load balancer or database take minutes to go).
/// Throttling and transient faults are retried by the SDK; this handles only `codes`.
pub async fn retry_while<T, F, Fut>(
    codes: &[&str],
    limit: Duration,
    attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let backoff = Backoff {
        first: Duration::from_secs(2),
        most: Duration::from_secs(20),
        limit,
    };
    retry_on(backoff, |code, _| codes.contains(&code), attempt).await
}

/// Pauses between attempts: doubling from `first` up to `most`, for at most `limit` in all.
struct Backoff {
    first: Duration,
    most: Duration,
    limit: Duration,
}

/// Runs `attempt` again after a pause while it fails with an error `retryable` accepts (by
/// code and error), within the backoff's limit; any other outcome is returned.
async fn retry_on<T, F, Fut>(
    backoff: Backoff,
    retryable: impl Fn(&str, &anyhow::Error) -> bool,
    mut attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let start = std::time::Instant::now();
    let mut pause = backoff.first;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err((Some(code), err))
                if start.elapsed() + pause < backoff.limit && retryable(&code, &err) =>
            {
                tracing::info!("{err:#}; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(backoff.most);
            }
            Err(e) => return Err(e),
        }
    }
}

/// An answer AWS gives while something created moments ago has not reached every service yet:
/// an error code and a fragment of its message. Matched exactly, so any other error (a typo in
/// an instance type, a quota) fails at once instead of being waited on.
pub type Propagating = (&'static str, &'static str);

/// IAM is eventually consistent: a role or instance profile just created is refused by other
/// services for a few seconds. The answers, as AWS words them (the same strings
/// terraform-provider-aws retries on: PRs #5633, #40088 for Auto Scaling, #3027 for EMR):
pub const INSTANCE_PROFILE_PROPAGATING: &[Propagating] = &[
    // CreateAutoScalingGroup / UpdateAutoScalingGroup with a launch template naming the profile.
    ("ValidationError", "Invalid IAM Instance Profile"),
    // RunInstances.
    ("InvalidParameterValue", "Invalid IAM Instance Profile"),
    // EMR RunJobFlow: the job-flow role's profile, and its role not yet assumable.
    ("ValidationException", "Invalid InstanceProfile"),
    (
        "AccessDeniedException",
        "Failed to authorize instance profile",
    ),
];

/// How long a just-created role may take to be accepted everywhere (AWS: "usually within a few
/// seconds"; terraform-provider-aws waits up to two minutes).
pub const IAM_PROPAGATION: Duration = Duration::from_secs(120);

/// Runs `attempt` until it succeeds or fails with something other than `propagating`, backing
/// off for at most `limit`.
pub async fn retry_propagation<T, F, Fut>(
    propagating: &[Propagating],
    limit: Duration,
    attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let backoff = Backoff {
        first: Duration::from_secs(1),
        most: Duration::from_secs(15),
        limit,
    };
    let propagating = |code: &str, err: &anyhow::Error| {
        let text = format!("{err:#}");
        propagating
            .iter()
            .any(|(c, fragment)| *c == code && text.contains(fragment))
    };
    retry_on(backoff, propagating, attempt).await
}

/// Polls `done` every few seconds until it says yes, for services whose SDK has no waiter for
/// the state needed (EFS). Fails after `limit`, naming `what`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let start = std::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        if done().await? {
            return Ok(());
        }
        if start.elapsed() + pause > limit {
            anyhow::bail!("{what}: still not done after {}s", limit.as_secs());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// Deletes with `attempt`, waiting out the `busy` error codes; the `gone` code means someone
/// already deleted it, which is what was wanted.
pub async fn delete_waiting<F, Fut>(busy: &[&str], gone: &str, attempt: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), (Option<String>, anyhow::Error)>>,
{
    match retry_while(busy, RELEASE_WAIT, attempt).await {
        Ok(()) => Ok(()),
        Err((Some(code), _)) if code == gone => Ok(()),
        Err((_, e)) => Err(e),
    }
}

/// Turns an SDK error into the pair `retry_while` works with.
pub fn coded<E>(doing: &str, err: SdkError<E, HttpResponse>) -> (Option<String>, anyhow::Error)
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    (error_code(&err), aws_error(doing, err))
}

/// How long deletes may wait for dependencies to be released.
/// A cache or database takes minutes to delete, and its subnet group and security group stay
/// in use until it is gone.
pub const RELEASE_WAIT: Duration = Duration::from_secs(1800);

/// Seconds since the Unix epoch, for names that must be unique over time (final snapshots).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether an update must send `key`: the stack's value differs from what AWS reports (or AWS
/// reports nothing for it). Lets providers send only what changed.
pub fn changed(spec: &ResourceSpec, current: &Observed, key: &str) -> bool {
    !current
        .props
        .get(key)
        .zip(spec.props.get(key))
        .is_some_and(|(have, want)| spec.kind.equivalent(key, want, have))
}

/// What to add to and remove from a list attribute (subnets, security groups, log types) to
/// make the current one the spec's.
pub fn delta(spec: &ResourceSpec, current: &Observed, key: &str) -> (Vec<String>, Vec<String>) {
    let want = strs(spec, key);
    let have: Vec<String> = current.props.get(key).map(Val::strings).unwrap_or_default();
    let add = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    let remove = have.iter().filter(|h| !want.contains(h)).cloned().collect();
    (add, remove)
}

/// The count to set for `key` given the current `have`: the stack's number, or, when the stack
/// gives a range (auto scaling on), `have` moved only as far as the nearest bound.
pub fn count_within(spec: &ResourceSpec, key: &str, have: i64) -> Result<i64> {
    match spec.props.get(key).and_then(crate::resource::Val::range) {
        Some((lo, hi)) => Ok(have.clamp(lo, hi)),
        None => i(spec, key),
    }
}

/// Observed built from the spec a resource was just created or updated from.
pub fn observed_from_spec(spec: &ResourceSpec, physical_id: &str) -> Observed {
    let mut o = Observed::new(&spec.id, spec.kind, physical_id);
    o.name = spec.name.clone();
    o.props = spec.props.clone();
    o
}

/// Observed after an in-place update: the spec's attributes, the outputs it already had
/// (identifiers and ARNs do not change in place).
pub fn updated_in_place(spec: &ResourceSpec, current: &Observed) -> Observed {
    let mut o = observed_from_spec(spec, &current.physical_id);
    o.outputs = current.outputs.clone();
    o
}

/// Reads a string attribute of a resolved spec.
pub fn s<'a>(spec: &'a ResourceSpec, key: &str) -> Result<&'a str> {
    spec.props
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not text", spec.id))
}

pub fn i(spec: &ResourceSpec, key: &str) -> Result<i64> {
    spec.props
        .get(key)
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not a number", spec.id))
}

pub fn f(spec: &ResourceSpec, key: &str) -> Result<f64> {
    spec.props
        .get(key)
        .and_then(|v| v.as_f64())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not a number", spec.id))
}

pub fn b(spec: &ResourceSpec, key: &str) -> Result<bool> {
    spec.props
        .get(key)
        .and_then(|v| v.as_bool())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not true/false", spec.id))
}

pub fn strs(spec: &ResourceSpec, key: &str) -> Vec<String> {
    spec.props
        .get(key)
        .map(crate::resource::Val::strings)
        .unwrap_or_default()
}

/// Text list as a `Val`.
pub fn str_list<I, S>(items: I) -> crate::resource::Val
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    crate::resource::Val::list(
        items
            .into_iter()
            .map(|x| crate::resource::Val::Str(x.into())),
    )
}

/// The part of an ELB ARN CloudWatch uses as a dimension (`app/name/id`, `targetgroup/name/id`).
pub fn arn_suffix(arn: &str) -> String {
    match arn.split_once(":loadbalancer/") {
        Some((_, rest)) => rest.to_string(),
        None => arn.rsplit(':').next().unwrap_or(arn).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_answers_read_as_one_line() {
        assert_eq!(
            one_line("<!doctype html>\n<title>500 Internal Server Error</title>\n<p>The server\n  failed.</p>"),
            "500 Internal Server Error The server failed."
        );
        assert_eq!(one_line("{\"error\": \"x\"}"), "{\"error\": \"x\"}");
        assert!(one_line(&"a ".repeat(300)).ends_with("..."));
    }

    #[test]
    fn arn_suffixes_match_cloudwatch_dimensions() {
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/dev-public/50dc6c495c0c9188"),
            "app/dev-public/50dc6c495c0c9188"
        );
        assert_eq!(
            arn_suffix(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/dev-web/73e2d6bc24d8a067"
            ),
            "targetgroup/dev-web/73e2d6bc24d8a067"
        );
    }
}
