//! Service clients, built once from one configuration.

use crate::aws::ctx::Ctx;
use crate::aws::sdk::aws_error;
use anyhow::{anyhow, Result};
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;

/// Service clients, built once from one configuration.
pub struct Clients {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub rds: aws_sdk_rds::Client,
    pub docdb: aws_sdk_docdb::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub autoscaling_apps: aws_sdk_applicationautoscaling::Client,
    pub iam: aws_sdk_iam::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
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
    /// Run Command, for the gray-failure experiments.
    pub ssm: aws_sdk_ssm::Client,
    /// Fault Injection Service and EventBridge Scheduler, for game days scheduled in AWS.
    pub fis: aws_sdk_fis::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// SES, for game-day reports by e-mail.
    pub sesv2: aws_sdk_sesv2::Client,
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
            docdb: aws_sdk_docdb::Client::new(&conf),
            cloudfront: aws_sdk_cloudfront::Client::new(&conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
            sns: aws_sdk_sns::Client::new(&conf),
            sqs: aws_sdk_sqs::Client::new(&conf),
            elasticache: aws_sdk_elasticache::Client::new(&conf),
            dynamodb: aws_sdk_dynamodb::Client::new(&conf),
            autoscaling_apps: aws_sdk_applicationautoscaling::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&conf),
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
            ssm: aws_sdk_ssm::Client::new(&conf),
            fis: aws_sdk_fis::Client::new(&conf),
            scheduler: aws_sdk_scheduler::Client::new(&conf),
            sesv2: aws_sdk_sesv2::Client::new(&conf),
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
    account_of(ctx.clients).await
}

/// `caller_account` for callers outside a provider (the evidence bucket).
pub async fn account_of(clients: &Clients) -> Result<(String, String)> {
    let sts = &clients.sts;
    let caller = clients
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
