//! Test support: run the ftctl binary like a user would, and read back what the emulators hold
//! with the AWS SDK (the same endpoint variables ftctl uses).

#![allow(dead_code)]

pub mod iam;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails loudly when the emulators are not configured: these tests are not skipped.
pub fn require_emulators() {
    assert!(
        std::env::var("FTCTL_MOTO_URL").is_ok(),
        "integration tests need the local emulators: run `make test`, or \
         `localstack/up && source localstack/endpoints.env` before `cargo test`"
    );
}

/// A deployment name unique to this test process, so tests can run in parallel.
pub fn unique_env(tag: &str) -> String {
    format!("{tag}{}", std::process::id() % 100_000)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "ftctl failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs ftctl in the repository (so `stage1` resolves), without a terminal on stdin.
pub fn ftctl(args: &[&str]) -> Run {
    ftctl_with(args, &[])
}

/// The binary under test: `FTCTL_BIN` when set (a build directory shared between checkouts can
/// be overwritten by another checkout's build while tests run), else cargo's.
pub fn ftctl_bin() -> PathBuf {
    std::env::var_os("FTCTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ftctl")))
}

/// Where ftctl keeps local deployment locks during this test process.
pub fn test_state_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ftctl-test-state-{}", std::process::id()))
}

/// The proxy every ftctl a test runs goes through (when the emulators are configured): it
/// enforces what AWS would refuse and the emulators accept (proxy.rs, `aws_refusal`), so an
/// integration test fails where AWS would.
pub fn aws_like() -> Option<&'static proxy::Proxy> {
    static PROXY: std::sync::OnceLock<Option<proxy::Proxy>> = std::sync::OnceLock::new();
    PROXY
        .get_or_init(|| {
            std::env::var_os("AWS_ENDPOINT_URL").map(|_| proxy::Proxy::in_front_of_the_emulators())
        })
        .as_ref()
}

pub fn ftctl_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(ftctl_bin());
    if let Some(proxy) = aws_like() {
        cmd.envs(proxy.env());
    }
    cmd.args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        // Deployment locks of this test process, not the user's (a test may pass its own).
        .env("XDG_STATE_HOME", test_state_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("ftctl runs"))
}

/// A copy of a shipped stack with `edit` applied, in a temporary directory.
pub fn edited_stack(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("stacks/stage1.toml")).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// DynamoDB in the stage2 replica region.
    pub dynamodb_west: aws_sdk_dynamodb::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub efs: aws_sdk_efs::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub route53: aws_sdk_route53::Client,
    pub emr: aws_sdk_emr::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub xray: aws_sdk_xray::Client,
    pub autoscaling_apps: aws_sdk_applicationautoscaling::Client,
    pub kms: aws_sdk_kms::Client,
    pub acm: aws_sdk_acm::Client,
    pub wafv2: aws_sdk_wafv2::Client,
    pub backup: aws_sdk_backup::Client,
}

/// The second region stage2 replicates its table to.
pub const REPLICA_REGION: &str = "us-west-2";

pub async fn aws() -> Aws {
    aws_in(None).await
}

/// Clients for `region` (the environment's when `None`).
pub async fn aws_in(region: Option<&str>) -> Aws {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let conf = loader.load().await;
    let west = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REPLICA_REGION))
        .load()
        .await;
    Aws {
        ec2: aws_sdk_ec2::Client::new(&conf),
        autoscaling: aws_sdk_autoscaling::Client::new(&conf),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        rds: aws_sdk_rds::Client::new(&conf),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
        sns: aws_sdk_sns::Client::new(&conf),
        elasticache: aws_sdk_elasticache::Client::new(&conf),
        dynamodb: aws_sdk_dynamodb::Client::new(&conf),
        dynamodb_west: aws_sdk_dynamodb::Client::new(&west),
        ecs: aws_sdk_ecs::Client::new(&conf),
        efs: aws_sdk_efs::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
        route53: aws_sdk_route53::Client::new(&conf),
        emr: aws_sdk_emr::Client::new(&conf),
        cloudtrail: aws_sdk_cloudtrail::Client::new(&conf),
        xray: aws_sdk_xray::Client::new(&conf),
        autoscaling_apps: aws_sdk_applicationautoscaling::Client::new(&conf),
        kms: aws_sdk_kms::Client::new(&conf),
        acm: aws_sdk_acm::Client::new(&conf),
        wafv2: aws_sdk_wafv2::Client::new(&conf),
        backup: aws_sdk_backup::Client::new(&conf),
        // The emulators serve S3 path-style (endpoint/bucket), as ftctl's client does.
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        ),
    }
}

/// A shipped stage copied (with the stages it extends) into `dir`, with `edit` applied to it.
pub fn edited_stage(
    dir: &Path,
    stage: &str,
    name: &str,
    edit: impl Fn(String) -> String,
) -> PathBuf {
    for entry in std::fs::read_dir(repo().join("stacks")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repo().join(format!("stacks/{stage}.toml"))).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

pub fn tag_filter(env: &str) -> aws_sdk_ec2::types::Filter {
    filter("tag:ftctl:deployment", env)
}

/// An EC2 filter of one value.
pub fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .values(value)
        .build()
}

/// Destroys the deployment with everything it protects (no final snapshots) and checks that
/// nothing tagged for it is left.
pub async fn destroy_leaving_nothing(aws: &Aws, env: &str) {
    ftctl(&[
        "destroy",
        "--env",
        env,
        "--yes",
        "--disable-deletion-protection",
        "--skip-final-snapshot",
    ])
    .ok();
    assert_eq!(leftovers(aws, env).await, Vec::<String>::new());
}

/// Everything the emulators hold that is tagged for (or named after) deployment `env`,
/// as "kind id" lines. Empty means nothing is left.
pub async fn leftovers(aws: &Aws, env: &str) -> Vec<String> {
    let mut left = Vec::new();
    let f = || tag_filter(env);
    let vpcs = aws.ec2.describe_vpcs().filters(f()).send().await.unwrap();
    left.extend(
        vpcs.vpcs()
            .iter()
            .map(|v| format!("vpc {}", v.vpc_id().unwrap_or_default())),
    );
    let subnets = aws
        .ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        subnets
            .subnets()
            .iter()
            .map(|v| format!("subnet {}", v.subnet_id().unwrap_or_default())),
    );
    let sgs = aws
        .ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        sgs.security_groups()
            .iter()
            .map(|v| format!("sg {}", v.group_id().unwrap_or_default())),
    );
    let igws = aws
        .ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        igws.internet_gateways()
            .iter()
            .map(|v| format!("igw {}", v.internet_gateway_id().unwrap_or_default())),
    );
    let rts = aws
        .ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        rts.route_tables()
            .iter()
            .map(|v| format!("rt {}", v.route_table_id().unwrap_or_default())),
    );
    let lts = aws
        .ec2
        .describe_launch_templates()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        lts.launch_templates()
            .iter()
            .map(|v| format!("lt {}", v.launch_template_id().unwrap_or_default())),
    );
    let instances = aws
        .ec2
        .describe_instances()
        .filters(f())
        .send()
        .await
        .unwrap();
    for r in instances.reservations() {
        for i in r.instances() {
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            if state != "terminated" && state != "shutting-down" {
                left.push(format!(
                    "instance {} {state}",
                    i.instance_id().unwrap_or_default()
                ));
            }
        }
    }
    let asgs = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .filters(
            aws_sdk_autoscaling::types::Filter::builder()
                .name("tag:ftctl:deployment")
                .values(env)
                .build(),
        )
        .send()
        .await
        .unwrap();
    left.extend(
        asgs.auto_scaling_groups()
            .iter()
            .map(|g| format!("asg {}", g.auto_scaling_group_name().unwrap_or_default())),
    );
    let prefix = format!("{env}-");
    let lbs = aws.elb.describe_load_balancers().send().await.unwrap();
    left.extend(
        lbs.load_balancers()
            .iter()
            .filter(|l| {
                l.load_balancer_name()
                    .unwrap_or_default()
                    .starts_with(&prefix)
            })
            .map(|l| format!("lb {}", l.load_balancer_name().unwrap_or_default())),
    );
    let tgs = aws.elb.describe_target_groups().send().await.unwrap();
    left.extend(
        tgs.target_groups()
            .iter()
            .filter(|t| {
                t.target_group_name()
                    .unwrap_or_default()
                    .starts_with(&prefix)
            })
            .map(|t| format!("tg {}", t.target_group_name().unwrap_or_default())),
    );
    let dbs = aws.rds.describe_db_instances().send().await.unwrap();
    left.extend(
        dbs.db_instances()
            .iter()
            .filter(|d| {
                d.tag_list()
                    .iter()
                    .any(|t| t.key() == Some("ftctl:deployment") && t.value() == Some(env))
            })
            .map(|d| format!("db {}", d.db_instance_identifier().unwrap_or_default())),
    );
    let groups = aws.rds.describe_db_subnet_groups().send().await.unwrap();
    left.extend(
        groups
            .db_subnet_groups()
            .iter()
            .filter(|g| {
                g.db_subnet_group_name()
                    .unwrap_or_default()
                    .starts_with(&prefix)
            })
            .map(|g| {
                format!(
                    "db-subnet-group {}",
                    g.db_subnet_group_name().unwrap_or_default()
                )
            }),
    );
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .send()
        .await
        .unwrap();
    left.extend(
        alarms
            .metric_alarms()
            .iter()
            .map(|a| format!("alarm {}", a.alarm_name().unwrap_or_default())),
    );
    let topics = aws.sns.list_topics().send().await.unwrap();
    left.extend(
        topics
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .filter(|arn| arn.contains(&format!(":{prefix}")))
            .map(|arn| format!("topic {arn}")),
    );
    // A replication group being deleted is gone as far as anyone can use it (moto keeps such
    // groups listed as `deleting` for ever).
    let caches = aws
        .elasticache
        .describe_replication_groups()
        .send()
        .await
        .unwrap();
    left.extend(
        caches
            .replication_groups()
            .iter()
            .filter(|g| {
                g.replication_group_id()
                    .unwrap_or_default()
                    .starts_with(&prefix)
                    && g.status() != Some("deleting")
            })
            .map(|g| format!("cache {}", g.replication_group_id().unwrap_or_default())),
    );
    let cache_subnets = aws
        .elasticache
        .describe_cache_subnet_groups()
        .send()
        .await
        .unwrap();
    left.extend(
        cache_subnets
            .cache_subnet_groups()
            .iter()
            .filter(|g| {
                g.cache_subnet_group_name()
                    .unwrap_or_default()
                    .starts_with(&prefix)
            })
            .map(|g| {
                format!(
                    "cache-subnet-group {}",
                    g.cache_subnet_group_name().unwrap_or_default()
                )
            }),
    );
    let endpoints = aws
        .ec2
        .describe_vpc_endpoints()
        .filters(f())
        .send()
        .await
        .unwrap();
    left.extend(
        endpoints
            .vpc_endpoints()
            .iter()
            // EC2 answers lower-case states; the SDK's variants are capitalised.
            .filter(|e| {
                let state = e.state().map(|s| s.as_str().to_ascii_lowercase());
                !matches!(state.as_deref(), Some("deleted" | "deleting"))
            })
            .map(|e| format!("vpc-endpoint {}", e.vpc_endpoint_id().unwrap_or_default())),
    );
    let traces = aws.xray.get_groups().send().await.unwrap();
    left.extend(
        traces
            .groups()
            .iter()
            .filter(|g| g.group_name().unwrap_or_default().starts_with(&prefix))
            .map(|g| format!("xray-group {}", g.group_name().unwrap_or_default())),
    );
    let rules = aws.xray.get_sampling_rules().send().await.unwrap();
    left.extend(
        rules
            .sampling_rule_records()
            .iter()
            .filter_map(|r| r.sampling_rule()?.rule_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("xray-sampling-rule {n}")),
    );
    let clusters = aws.ecs.list_clusters().send().await.unwrap();
    left.extend(
        clusters
            .cluster_arns()
            .iter()
            .filter(|a| a.contains(&format!(":cluster/{prefix}")))
            .map(|a| format!("ecs-cluster {a}")),
    );
    let file_systems = aws.efs.describe_file_systems().send().await.unwrap();
    left.extend(
        file_systems
            .file_systems()
            .iter()
            .filter(|f| {
                f.tags()
                    .iter()
                    .any(|t| t.key() == "ftctl:deployment" && t.value() == env)
            })
            .map(|f| format!("file-system {}", f.file_system_id())),
    );
    let roles = aws
        .iam
        .list_roles()
        .path_prefix(format!("/ftctl/{env}/"))
        .send()
        .await
        .unwrap();
    left.extend(
        roles
            .roles()
            .iter()
            .map(|r| format!("role {}", r.role_name())),
    );
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/ftctl/{env}/"))
        .send()
        .await
        .unwrap();
    left.extend(
        groups
            .log_groups()
            .iter()
            .map(|g| format!("log-group {}", g.log_group_name().unwrap_or_default())),
    );
    // KMS keys by alias (destroy deletes the alias and schedules the key's deletion).
    let aliases = aws.kms.list_aliases().send().await.unwrap();
    left.extend(
        aliases
            .aliases()
            .iter()
            .filter_map(|a| a.alias_name())
            .filter(|a| a.starts_with(&format!("alias/{prefix}")))
            .map(|a| format!("kms-alias {a}")),
    );
    for key in aws.kms.list_keys().send().await.unwrap().keys() {
        let id = key.key_id().unwrap_or_default();
        let meta = aws.kms.describe_key().key_id(id).send().await.unwrap();
        let state = meta.key_metadata().and_then(|m| m.key_state()).cloned();
        if state == Some(aws_sdk_kms::types::KeyState::PendingDeletion) {
            continue;
        }
        let tags = aws
            .kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == "ftctl:deployment" && t.tag_value() == env)
        {
            left.push(format!("kms-key {id}"));
        }
    }
    let certificates = aws.acm.list_certificates().send().await.unwrap();
    for c in certificates.certificate_summary_list() {
        let arn = c.certificate_arn().unwrap_or_default();
        let tags = aws
            .acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "ftctl:deployment" && t.value() == Some(env))
        {
            left.push(format!("certificate {arn}"));
        }
    }
    let acls = aws
        .wafv2
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .send()
        .await
        .unwrap();
    left.extend(
        acls.web_acls()
            .iter()
            .filter_map(|a| a.name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("web-acl {n}")),
    );
    let plans = aws.backup.list_backup_plans().send().await.unwrap();
    left.extend(
        plans
            .backup_plans_list()
            .iter()
            .filter_map(|p| p.backup_plan_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("backup-plan {n}")),
    );
    let vaults = aws.backup.list_backup_vaults().send().await.unwrap();
    left.extend(
        vaults
            .backup_vault_list()
            .iter()
            .filter_map(|v| v.backup_vault_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("backup-vault {n}")),
    );
    let zones = aws.route53.list_hosted_zones().send().await.unwrap();
    left.extend(
        zones
            .hosted_zones()
            .iter()
            .filter(|z| {
                z.config()
                    .and_then(|c| c.comment())
                    .is_some_and(|c| c.contains(&format!("deployment={env} ")))
            })
            .map(|z| format!("hosted-zone {}", z.name())),
    );
    let clusters = aws
        .emr
        .list_clusters()
        .cluster_states(aws_sdk_emr::types::ClusterState::Starting)
        .cluster_states(aws_sdk_emr::types::ClusterState::Running)
        .cluster_states(aws_sdk_emr::types::ClusterState::Waiting)
        .send()
        .await
        .unwrap();
    left.extend(
        clusters
            .clusters()
            .iter()
            .filter(|c| c.name().is_some_and(|n| n.starts_with(&prefix)))
            .map(|c| format!("emr-cluster {}", c.id().unwrap_or_default())),
    );
    // Buckets the deployment still owns (by tag): an audit bucket kept on destroy is handed
    // over (tagged ftctl:retained-from) and is not a leftover.
    let buckets = aws.s3.list_buckets().send().await.unwrap();
    for name in buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|n| n.starts_with(&prefix))
    {
        let owned = match aws.s3.get_bucket_tagging().bucket(name).send().await {
            Ok(t) => t
                .tag_set()
                .iter()
                .any(|t| t.key() == "ftctl:deployment" && t.value() == env),
            Err(_) => true,
        };
        if owned {
            left.push(format!("bucket {name}"));
        }
    }
    let profiles = aws
        .iam
        .list_instance_profiles()
        .path_prefix(format!("/ftctl/{env}/"))
        .send()
        .await
        .unwrap();
    left.extend(
        profiles
            .instance_profiles()
            .iter()
            .map(|p| format!("instance-profile {}", p.instance_profile_name())),
    );
    let trails = aws.cloudtrail.describe_trails().send().await.unwrap();
    left.extend(
        trails
            .trail_list()
            .iter()
            .filter_map(|t| t.name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("trail {n}")),
    );
    let checks = aws.route53.list_health_checks().send().await.unwrap();
    left.extend(
        checks
            .health_checks()
            .iter()
            .filter(|h| h.caller_reference().starts_with(&format!("ftctl/{env}/")))
            .map(|h| format!("health-check {}", h.id())),
    );
    for (region, client) in [
        ("home", &aws.dynamodb),
        (REPLICA_REGION, &aws.dynamodb_west),
    ] {
        let tables = client.list_tables().send().await.unwrap();
        left.extend(
            tables
                .table_names()
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .map(|n| format!("table {n} ({region})")),
        );
    }
    left
}

/// A loopback listener standing in for every AWS endpoint, for commands that must not call AWS.
pub struct NoAws {
    listener: std::net::TcpListener,
    url: String,
    /// Every endpoint variable to point at the listener: the general one, those of the services
    /// the emulators serve, and any other set in this environment (which `ftctl_with` passes on
    /// through the proxy).
    vars: Vec<String>,
}

impl NoAws {
    pub fn new() -> NoAws {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut vars: Vec<String> = [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_EC2",
            "AWS_ENDPOINT_URL_AUTO_SCALING",
            "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
            "AWS_ENDPOINT_URL_RDS",
            "AWS_ENDPOINT_URL_ELASTICACHE",
            "AWS_ENDPOINT_URL_EFS",
            "AWS_ENDPOINT_URL_EMR",
            "AWS_ENDPOINT_URL_XRAY",
            "AWS_ENDPOINT_URL_ACM",
            "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING",
        ]
        .map(String::from)
        .to_vec();
        let proxied = aws_like().map(|p| p.env()).unwrap_or_default();
        vars.extend(
            std::env::vars()
                .map(|(k, _)| k)
                .chain(proxied.into_iter().map(|(k, _)| k.to_string()))
                .filter(|k| k.starts_with("AWS_ENDPOINT_URL")),
        );
        vars.sort();
        vars.dedup();
        NoAws {
            listener,
            url,
            vars,
        }
    }

    /// Test credentials and every endpoint variable ftctl reads, all pointing at the listener.
    pub fn env(&self) -> Vec<(&str, &str)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ];
        for var in &self.vars {
            env.push((var.as_str(), self.url.as_str()));
        }
        env
    }

    /// Fails if anything connected.
    pub fn assert_untouched(&self) {
        match self.listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("ftctl connected to AWS: {other:?}"),
        }
    }
}

/// (logical id, action) of every change `plan --json` reports for `stage` on deployment `env`.
/// The dashboard grows and shrinks with the stage, always in place: that is checked here and it
/// is left out of the list.
pub fn plan_changes(stage: &str, env: &str, vars: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["plan", stage, "--env", env, "--json"];
    for v in vars {
        args.extend(["--var", v]);
    }
    let run = ftctl(&args).ok();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("plan --json: {e}\n{}\n{}", run.stdout, run.stderr));
    let mut changes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    if let Some(i) = changes
        .iter()
        .position(|(id, _)| id == "monitoring.dashboard")
    {
        assert_eq!(
            changes.remove(i).1,
            "update",
            "the dashboard is updated in place"
        );
    }
    changes
}

/// Targets the load balancer reports healthy in the target group of Auto Scaling group `group`.
pub async fn healthy_targets(aws: &Aws, group: &str) -> usize {
    let g = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let tg = g.auto_scaling_groups()[0].target_group_arns()[0].clone();
    let h = aws
        .elb
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .unwrap();
    h.target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health()
                .and_then(|t| t.state())
                .map(|s| s.as_str())
                == Some("healthy")
        })
        .count()
}

/// Puts the deployment's alarms back to OK. ministack matches an alarm's metric by name only,
/// so breaching data another test put in for its own deployment (tests/monitoring.rs) also
/// fires this deployment's alarms; a test that needs steady state and runs after such a test
/// undoes that first. (CloudWatch itself would keep them OK: their own metrics are healthy.)
pub async fn calm_alarms(aws: &Aws, env: &str) {
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{env}-"))
        .send()
        .await
        .unwrap();
    for a in alarms.metric_alarms() {
        aws.cloudwatch
            .set_alarm_state()
            .alarm_name(a.alarm_name().unwrap())
            .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
            .state_reason("reset by the test: another test's data fired it (see calm_alarms)")
            .send()
            .await
            .unwrap();
    }
}

/// Destroys deployment `env` (in `region`, or the environment's) when dropped, so a test that
/// fails half-way leaves nothing behind; a destroy that fails while the test passes fails it.
pub struct DestroyOnDrop {
    pub env: String,
    pub region: Option<&'static str>,
}

impl Drop for DestroyOnDrop {
    fn drop(&mut self) {
        let mut args = vec![
            "destroy",
            "--env",
            &self.env,
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ];
        if let Some(region) = self.region {
            args.extend(["--region", region]);
        }
        let run = ftctl(&args);
        if run.code != 0 && !std::thread::panicking() {
            panic!(
                "destroy of {} failed: {}\n{}",
                self.env, run.stdout, run.stderr
            );
        }
    }
}
