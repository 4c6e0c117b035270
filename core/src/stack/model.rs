//! The typed stack: what a stack file may say. Unknown keys are errors, every field has a type,
//! and defaults are the values an SRE would pick for a production deployment.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub stack: StackMeta,
    pub network: Network,
    #[serde(default)]
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    #[serde(default)]
    pub tiers: BTreeMap<String, Tier>,
    #[serde(default)]
    pub databases: BTreeMap<String, Database>,
    #[serde(default)]
    pub caches: BTreeMap<String, Cache>,
    #[serde(default)]
    pub tables: BTreeMap<String, Table>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub file_systems: BTreeMap<String, FileSystem>,
    #[serde(default)]
    pub clusters: BTreeMap<String, EmrCluster>,
    #[serde(default)]
    pub dns: Option<Dns>,
    #[serde(default)]
    pub audit: Audit,
    #[serde(default)]
    pub tracing: Tracing,
    #[serde(default)]
    pub notifications: Notifications,
    /// Controls of `ftctl check` this stack does not meet on purpose, each with its reason.
    #[serde(default)]
    pub opt_out: Vec<OptOut>,
}

/// A control the stack opts out of (`[[opt_out]]`): `check` shows the reason instead of a
/// failure, and the failure no longer decides its exit code.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    /// The control's id as `check` names it (`ELB.16`, `ftctl.min-capacity`).
    pub control: String,
    /// Why the stack does not meet it: shown by `check` in place of the failure.
    pub reason: String,
    /// Components it covers, as `check` names resources (`lb.public`, `tier.web`); none: all.
    #[serde(default)]
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StackMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A stack file this one builds on (path relative to this file). Resolved by the loader.
    #[serde(default)]
    pub extends: Option<String>,
    /// AWS region; when absent, the standard AWS configuration chain decides.
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// Private subnets have no route to the internet.
    None,
    /// One NAT gateway in the first AZ (cheaper, not AZ-independent).
    Single,
    /// A NAT gateway per AZ, so losing an AZ does not cut the others off.
    PerAz,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub cidr: String,
    pub az_count: u32,
    /// Explicit zones; when absent the first `az_count` available zones of the region are used.
    #[serde(default)]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default = "default_nat")]
    pub nat: NatMode,
    /// Prefix length of every subnet carved from `cidr`.
    #[serde(default = "default_subnet_prefix")]
    pub subnet_prefix: u8,
    /// Interface VPC endpoints in the private subnets, by service (`monitoring`, `xray`,
    /// `logs`, `ecr.api`, `ecr.dkr`, `elasticmapreduce`, `ssm`, ...): how instances, tasks and
    /// clusters reach those AWS services without NAT. S3's gateway endpoint (free) is always made.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

fn default_nat() -> NatMode {
    NatMode::None
}
fn default_subnet_prefix() -> u8 {
    24
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    InternetFacing,
    Internal,
}

impl Scheme {
    pub fn as_aws(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    pub scheme: Scheme,
    #[serde(default = "default_http_port")]
    pub port: u16,
    /// CIDR blocks allowed to reach the listener (internet-facing balancers).
    #[serde(default)]
    pub allow_cidrs: Vec<String>,
    /// Tiers allowed to reach the listener (internal balancers).
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default)]
    pub alarms: LoadBalancerAlarms,
    /// Deletion protection (Security Hub ELB.6): on by default; `destroy` turns it off only
    /// with --disable-deletion-protection.
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Access logs (ELB.5) into the deployment's log bucket, under `lb/<name>/`. On by
    /// default; they cost the S3 storage they take.
    #[serde(default = "yes")]
    pub access_logs: bool,
    /// An AWS WAF web ACL with AWS's baseline managed rule groups (ELB.16). Default: on for
    /// internet-facing balancers, off for internal ones. About $7 a month per balancer ($5 the
    /// ACL, $1 each rule group) plus $0.60 per million requests.
    #[serde(default)]
    pub waf: Option<bool>,
}

impl LoadBalancer {
    /// Whether the balancer gets a web ACL: the stack's word, else whether the internet reaches it.
    pub fn waf(&self) -> bool {
        self.waf.unwrap_or(self.scheme == Scheme::InternetFacing)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerAlarms {
    /// 5xx answers generated by the balancer itself, per period, above which it alarms.
    #[serde(default = "default_5xx_threshold")]
    pub elb_5xx_threshold: u32,
    #[serde(default = "default_5xx_policy")]
    pub elb_5xx: AlarmPolicy,
}

impl Default for LoadBalancerAlarms {
    fn default() -> Self {
        LoadBalancerAlarms {
            elb_5xx_threshold: default_5xx_threshold(),
            elb_5xx: default_5xx_policy(),
        }
    }
}

fn default_5xx_threshold() -> u32 {
    10
}
fn default_5xx_policy() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 3,
    }
}

fn default_http_port() -> u16 {
    80
}

/// How long a condition must last before an alarm fires: `period_seconds × evaluation_periods`.
/// For capacity alarms this is also the recovery budget `ftctl chaos` holds the tier to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmPolicy {
    pub period_seconds: u32,
    pub evaluation_periods: u32,
}

impl AlarmPolicy {
    /// In u64: two u32 factors from the stack file must not overflow (found by fuzzing).
    pub fn window_seconds(&self) -> u64 {
        u64::from(self.period_seconds) * u64::from(self.evaluation_periods)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The load balancer whose target group this tier serves.
    pub load_balancer: String,
    /// The instance type the tier prefers.
    pub instance_type: String,
    /// Types the group may launch when `instance_type` has no capacity in a zone, in order of
    /// preference (Security Hub AutoScaling.6): with any, the group uses a mixed instances
    /// policy, all On-Demand. Pick types with the same vCPUs and memory (t3.micro, t3a.micro).
    #[serde(default)]
    pub fallback_instance_types: Vec<String>,
    /// Systems Manager reaches the instances (SSM.1): Session Manager instead of SSH, Run
    /// Command, and the gray-failure experiments of `ftctl chaos`. Needs the `ssm` and
    /// `ssmmessages` endpoints (or NAT).
    #[serde(default = "yes")]
    pub ssm: bool,
    /// AMI id, or `resolve:ssm:<parameter>` (resolved by EC2 at launch).
    #[serde(default = "default_image")]
    pub image: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    #[serde(default = "default_http_port")]
    pub port: u16,
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// Seconds after launch before ELB health checks may mark an instance unhealthy.
    #[serde(default = "default_grace")]
    pub health_check_grace_seconds: u32,
    /// Average CPU the target-tracking policy holds the group at.
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
    #[serde(default = "default_volume")]
    pub volume_size_gb: u32,
    /// Alarm on in-service instances below desired; its window is the tier's recovery budget.
    #[serde(default = "default_capacity_policy")]
    pub capacity_alarm: AlarmPolicy,
}

fn default_image() -> String {
    "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64".into()
}
fn default_health_path() -> String {
    "/health".into()
}
fn default_grace() -> u32 {
    120
}
fn default_target_cpu() -> f64 {
    50.0
}
fn default_volume() -> u32 {
    8
}
fn default_capacity_policy() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 5,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Mysql,
    Postgres,
}

impl Engine {
    pub fn as_aws(self) -> &'static str {
        match self {
            Engine::Mysql => "mysql",
            Engine::Postgres => "postgres",
        }
    }
    /// The engine RDS names `engine` (`mysql`, `postgres`), when it is one ftctl makes.
    pub fn from_aws(engine: &str) -> Option<Engine> {
        [Engine::Mysql, Engine::Postgres]
            .into_iter()
            .find(|e| e.as_aws() == engine)
    }
    /// The logs Security Hub's RDS.9 wants exported for the engine (AWS Config rule
    /// rds-logging-enabled).
    pub fn logs_security_hub_wants(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &["audit", "error", "general", "slowquery"],
            Engine::Postgres => &["postgresql", "upgrade"],
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            Engine::Mysql => 3306,
            Engine::Postgres => 5432,
        }
    }
    /// The log types RDS can export for the engine (RDS API reference, CreateDBInstance,
    /// EnableCloudwatchLogsExports), and those ftctl exports unless told otherwise.
    pub fn log_types(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &[
                "audit",
                "error",
                "general",
                "slowquery",
                "iam-db-auth-error",
            ],
            Engine::Postgres => &["postgresql", "upgrade", "iam-db-auth-error"],
        }
    }
    pub fn default_log_exports(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &["error", "slowquery"],
            Engine::Postgres => &["postgresql", "upgrade"],
        }
    }
    /// The parameter group family of a version: `mysql8.4`, `postgres16` (RDS API reference,
    /// CreateDBParameterGroup: "RDS for MySQL Example: mysql8.0").
    pub fn parameter_family(self, version: &str) -> String {
        let major = crate::resource::major_version(version);
        match self {
            Engine::Mysql => format!("mysql{major}"),
            Engine::Postgres => format!("postgres{major}"),
        }
    }
    pub fn default_version(self) -> &'static str {
        match self {
            // MySQL 8.0 left RDS standard support on 2026-07-31 (later creations are billed
            // Extended Support); 8.4 is the current long-term release.
            Engine::Mysql => "8.4",
            Engine::Postgres => "16",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub engine: Engine,
    #[serde(default)]
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub allocated_storage_gb: u32,
    #[serde(default = "yes")]
    pub multi_az: bool,
    #[serde(default = "default_backup_days")]
    pub backup_retention_days: u32,
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Let RDS keep running a major version past its end of standard support, billed as RDS
    /// Extended Support. Off: creating such a database fails instead of costing more.
    #[serde(default)]
    pub extended_support: bool,
    #[serde(default = "default_master_user")]
    pub master_username: String,
    /// Tiers allowed to connect.
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default = "default_db_cpu")]
    pub cpu_alarm_percent: f64,
    /// Free storage, as a percentage of allocated storage, below which it alarms.
    #[serde(default = "default_db_free")]
    pub free_storage_alarm_percent: f64,
    #[serde(default = "default_db_policy")]
    pub alarm: AlarmPolicy,
    /// IAM database authentication (Security Hub RDS.10): clients may sign in with short-lived
    /// IAM tokens instead of a stored password.
    #[serde(default = "yes")]
    pub iam_auth: bool,
    /// Logs exported to CloudWatch Logs (RDS.9). Default: MySQL `error` and `slowquery`,
    /// PostgreSQL `postgresql` and `upgrade`. MySQL's `general` log records every statement
    /// (CloudWatch Logs ingestion is billed per GB); its `audit` log needs the MariaDB audit
    /// plugin's option group, which ftctl does not make.
    #[serde(default)]
    pub log_exports: Option<Vec<String>>,
    /// A daily AWS Backup of the database into the deployment's vault, kept as long as the
    /// automated backups (RDS.26): a copy outside the database's own retention, that survives
    /// its deletion. On by default; AWS Backup bills the snapshot storage (about $0.095 per
    /// GB-month, incremental after the first).
    #[serde(default = "yes")]
    pub aws_backup: bool,
}

/// The port a balancer serves HTTPS on.
pub const HTTPS_PORT: u16 = 443;

impl Stack {
    /// Whether balancer `name` serves HTTPS: the one a public zone names, since ACM validates
    /// the certificate for its record through that zone. Its own port then redirects to HTTPS.
    pub fn serves_https(&self, name: &str) -> bool {
        self.dns
            .as_ref()
            .is_some_and(|d| !d.private && d.load_balancer == name)
    }

    /// The ports balancer `name` listens on: its own, and HTTPS when it serves it.
    pub fn listener_ports(&self, name: &str, lb: &LoadBalancer) -> Vec<u16> {
        let mut ports = vec![lb.port];
        if self.serves_https(name) {
            ports.push(HTTPS_PORT);
        }
        ports
    }

    /// What the internet may reach: each (listener port, allowed CIDR) of the internet-facing
    /// balancers, once, in order.
    pub fn internet_ingress(&self) -> Vec<(u16, String)> {
        let mut pairs: Vec<(u16, String)> = self
            .load_balancers
            .iter()
            .filter(|(_, lb)| lb.scheme == Scheme::InternetFacing)
            .flat_map(|(name, lb)| {
                self.listener_ports(name, lb)
                    .into_iter()
                    .flat_map(|port| lb.allow_cidrs.iter().map(move |c| (port, c.clone())))
            })
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }
}

impl Database {
    pub fn log_exports(&self) -> Vec<String> {
        match &self.log_exports {
            Some(l) => l.clone(),
            None => self
                .engine
                .default_log_exports()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_backup_days() -> u32 {
    7
}
fn default_master_user() -> String {
    "ftctl_admin".into()
}
fn default_db_cpu() -> f64 {
    80.0
}
fn default_db_free() -> f64 {
    10.0
}
fn default_db_policy() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 5,
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub https_endpoints: Vec<String>,
    #[serde(default)]
    pub sqs_queue_arns: Vec<String>,
}

/// An ElastiCache for Redis replication group in the private subnets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    #[serde(default = "default_redis_version")]
    pub engine_version: String,
    pub node_type: String,
    /// Cluster mode shards the keyspace over `shards` node groups; it is also what ElastiCache
    /// auto scaling needs.
    #[serde(default = "yes")]
    pub cluster_mode: bool,
    #[serde(default = "one")]
    pub shards: u32,
    /// Replicas of each shard's primary, placed in the other zones.
    #[serde(default = "one")]
    pub replicas_per_shard: u32,
    #[serde(default = "yes")]
    pub automatic_failover: bool,
    #[serde(default = "yes")]
    pub multi_az: bool,
    #[serde(default = "default_cache_snapshot_days")]
    pub snapshot_retention_days: u32,
    #[serde(default = "default_redis_port")]
    pub port: u16,
    /// Tiers allowed to connect.
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default)]
    pub autoscaling: CacheAutoscaling,
    #[serde(default = "default_cache_cpu")]
    pub cpu_alarm_percent: f64,
    /// Keys evicted per period (memory pressure) above which it alarms.
    #[serde(default = "default_evictions")]
    pub evictions_alarm_threshold: u32,
    /// Seconds a replica may lag behind its primary before it alarms.
    #[serde(default = "default_replication_lag")]
    pub replication_lag_alarm_seconds: f64,
    #[serde(default = "default_db_policy")]
    pub alarm: AlarmPolicy,
}

/// Application Auto Scaling of the replica count, on the replicas' engine CPU.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheAutoscaling {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "one")]
    pub min_replicas: u32,
    #[serde(default = "default_max_replicas")]
    pub max_replicas: u32,
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
}

impl Default for CacheAutoscaling {
    fn default() -> Self {
        CacheAutoscaling {
            enabled: false,
            min_replicas: one(),
            max_replicas: default_max_replicas(),
            target_cpu_percent: default_target_cpu(),
        }
    }
}

fn one() -> u32 {
    1
}
fn default_redis_version() -> String {
    "7.1".into()
}
fn default_redis_port() -> u16 {
    6379
}
fn default_cache_snapshot_days() -> u32 {
    7
}
fn default_max_replicas() -> u32 {
    3
}
fn default_cache_cpu() -> f64 {
    75.0
}
fn default_evictions() -> u32 {
    100
}
fn default_replication_lag() -> f64 {
    30.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyType {
    pub fn as_aws(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(default = "default_key_type", rename = "type")]
    pub key_type: KeyType,
}

fn default_key_type() -> KeyType {
    KeyType::S
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BillingMode {
    OnDemand,
    Provisioned,
}

/// A DynamoDB table, made a global table by its replicas in other regions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    #[serde(default = "default_billing")]
    pub billing_mode: BillingMode,
    /// Provisioned capacity units (billing_mode = "provisioned" only).
    #[serde(default)]
    pub read_capacity: Option<u32>,
    #[serde(default)]
    pub write_capacity: Option<u32>,
    #[serde(default = "yes")]
    pub point_in_time_recovery: bool,
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Regions holding a replica (a global table, version 2019.11.21).
    #[serde(default)]
    pub replica_regions: Vec<String>,
    /// Throttled reads or writes per period above which it alarms.
    #[serde(default = "default_throttle")]
    pub throttle_alarm_threshold: u32,
    /// Milliseconds a write may take to reach a replica before it alarms.
    #[serde(default = "default_replication_latency")]
    pub replication_latency_alarm_ms: f64,
    #[serde(default = "default_db_policy")]
    pub alarm: AlarmPolicy,
}

fn default_billing() -> BillingMode {
    BillingMode::OnDemand
}
fn default_throttle() -> u32 {
    1
}
fn default_replication_latency() -> f64 {
    60_000.0
}

/// An ECS Fargate service behind a load balancer's listener rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub load_balancer: String,
    /// Requests whose path matches go to this service (its own listener rule).
    pub path_patterns: Vec<String>,
    pub image: String,
    #[serde(default = "default_http_port")]
    pub container_port: u16,
    /// Task CPU units (256 = a quarter vCPU) and memory in MiB: a valid Fargate pair.
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// An EFS file system (from `file_systems`) mounted into every task.
    #[serde(default)]
    pub file_system: Option<String>,
    #[serde(default = "default_mount_path")]
    pub mount_path: String,
    #[serde(default)]
    pub autoscaling: ServiceAutoscaling,
    #[serde(default = "default_log_days")]
    pub log_retention_days: u32,
    #[serde(default = "default_service_cpu_alarm")]
    pub cpu_alarm_percent: f64,
    #[serde(default = "default_service_memory_alarm")]
    pub memory_alarm_percent: f64,
    /// Running tasks below desired this long pages someone; it is kill-task's budget.
    #[serde(default = "default_running_policy")]
    pub running_alarm: AlarmPolicy,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAutoscaling {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "two")]
    pub min_tasks: u32,
    #[serde(default = "default_max_tasks")]
    pub max_tasks: u32,
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: f64,
}

impl Default for ServiceAutoscaling {
    fn default() -> Self {
        ServiceAutoscaling {
            enabled: false,
            min_tasks: two(),
            max_tasks: default_max_tasks(),
            target_cpu_percent: default_target_cpu(),
        }
    }
}

fn two() -> u32 {
    2
}
fn default_max_tasks() -> u32 {
    6
}
fn default_mount_path() -> String {
    "/data".into()
}
fn default_log_days() -> u32 {
    30
}
fn default_service_cpu_alarm() -> f64 {
    85.0
}
fn default_service_memory_alarm() -> f64 {
    85.0
}
fn default_running_policy() -> AlarmPolicy {
    AlarmPolicy {
        period_seconds: 60,
        evaluation_periods: 3,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughputMode {
    Elastic,
    Bursting,
}

/// An encrypted EFS file system with a mount target in every zone.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSystem {
    #[serde(default = "default_throughput")]
    pub throughput_mode: ThroughputMode,
    /// AWS Backup's daily plan for the file system.
    #[serde(default = "yes")]
    pub backup: bool,
    /// Where the access point roots clients, and the POSIX owner it enforces.
    #[serde(default = "default_ap_path")]
    pub root_path: String,
    #[serde(default = "default_posix_id")]
    pub posix_uid: u32,
    #[serde(default = "default_posix_id")]
    pub posix_gid: u32,
    /// I/O limit use (percent, General Purpose mode) above which it alarms.
    #[serde(default = "default_io_limit")]
    pub io_limit_alarm_percent: f64,
    #[serde(default = "default_db_policy")]
    pub alarm: AlarmPolicy,
}

fn default_throughput() -> ThroughputMode {
    ThroughputMode::Elastic
}
fn default_ap_path() -> String {
    "/shared".into()
}
fn default_posix_id() -> u32 {
    1000
}
fn default_io_limit() -> f64 {
    90.0
}

/// A Route 53 hosted zone with an alias record to a load balancer and a health check on it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// The zone's domain, e.g. `shop.example.com`.
    pub zone: String,
    /// A private zone answers only inside the VPC.
    #[serde(default)]
    pub private: bool,
    /// The record's label: `www` makes `www.<zone>`.
    pub record: String,
    pub load_balancer: String,
    /// What the health check requests from the balancer.
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
    /// Failed health checks this long page someone.
    #[serde(default = "default_running_policy")]
    pub health_alarm: AlarmPolicy,
}

/// An EMR cluster in a private subnet, logging to an encrypted bucket, running until destroyed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmrCluster {
    pub release_label: String,
    #[serde(default = "default_emr_apps")]
    pub applications: Vec<String>,
    pub master_instance_type: String,
    pub core_instance_type: String,
    pub core_instance_count: u32,
    /// Refused: ftctl's clusters run until destroyed (see docs/stage3.md, EMR). Kept
    /// as a field so a stack naming it gets the reason, not only "unknown field".
    #[serde(default)]
    pub idle_timeout_seconds: Option<u32>,
    /// EMR managed scaling between these counts of core and task nodes (the master is not
    /// counted: ComputeLimits "only applies to the core and task nodes", EMR API reference).
    #[serde(default)]
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(default = "default_db_policy")]
    pub unhealthy_alarm: AlarmPolicy,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedScaling {
    pub min_instances: u32,
    pub max_instances: u32,
}

fn default_emr_apps() -> Vec<String> {
    vec!["Hadoop".into(), "Spark".into()]
}

/// The deployment's audit trail.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// A multi-region CloudTrail trail of the deployment's own, with log-file validation into an
    /// encrypted bucket. Off by default: a trail records the whole account's calls, CloudTrail
    /// allows five per region, and every trail after the account's first is billed ($2.00 per
    /// 100,000 management events; AWS CloudTrail pricing and quotas). Most accounts already
    /// have one (an organization trail): `ftctl check --live` says which covers the region.
    #[serde(default)]
    pub trail: bool,
}

/// AWS X-Ray for the tiers that serve requests: per tier a group (the tier's traces, for the
/// service map and Insights) and a sampling rule (how many requests are traced).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// On when the section is present; `--var tracing.enabled=false` turns it off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The tiers traced; each gets X-Ray write access on its instance role.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Share of requests traced beyond the reservoir.
    #[serde(default = "default_sample_percent")]
    pub sample_percent: f64,
    /// Requests per second traced before the percentage applies (per instance, roughly).
    #[serde(default = "default_reservoir")]
    pub reservoir_per_second: u32,
}

fn default_sample_percent() -> f64 {
    5.0
}
fn default_reservoir() -> u32 {
    1
}

/// No section: no tracing.
impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            enabled: false,
            tiers: Vec::new(),
            sample_percent: default_sample_percent(),
            reservoir_per_second: default_reservoir(),
        }
    }
}
