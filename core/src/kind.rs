//! The kinds of AWS resource ftctl manages, declared once: the enum, the list of all of them
//! and the name each is shown by in plans are generated from the one table below, so a kind
//! cannot exist without being listed (the AWS layer's registry test then checks that every
//! kind has exactly one provider).

use serde::{Deserialize, Serialize};

macro_rules! kinds {
    ($($kind:ident => $label:literal),+ $(,)?) => {
        /// Every kind of AWS resource ftctl manages. The order is not significant: the dependency
        /// graph decides the order of operations, and each provider declares which kinds it must
        /// observe after.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($kind),+
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),+];

            /// The name AWS users know the resource by, as shown in plans.
            pub fn label(self) -> &'static str {
                match self {
                    $(Kind::$kind => $label),+
                }
            }
        }
    };
}

kinds! {
    Vpc => "ec2 vpc",
    Subnet => "ec2 subnet",
    InternetGateway => "ec2 internet gateway",
    ElasticIp => "ec2 elastic ip",
    NatGateway => "ec2 nat gateway",
    RouteTable => "ec2 route table",
    NetworkAcl => "ec2 network acl",
    VpcEndpoint => "ec2 vpc endpoint",
    SecurityGroup => "ec2 security group",
    LaunchTemplate => "ec2 launch template",
    TargetGroup => "elbv2 target group",
    LoadBalancer => "elbv2 load balancer",
    Certificate => "acm certificate",
    Listener => "elbv2 listener",
    WebAcl => "wafv2 web acl",
    AutoScalingGroup => "autoscaling group",
    DbSubnetGroup => "rds db subnet group",
    DbParameterGroup => "rds db parameter group",
    DbInstance => "rds db instance",
    DocdbParameterGroup => "docdb cluster parameter group",
    DocdbCluster => "docdb cluster",
    DocdbInstance => "docdb instance",
    BackupVault => "backup vault",
    BackupPlan => "backup plan",
    KmsKey => "kms key",
    SnsTopic => "sns topic",
    SqsQueue => "sqs queue",
    QueuePolicy => "sqs queue policy",
    MetricAlarm => "cloudwatch alarm",
    CacheSubnetGroup => "elasticache subnet group",
    CacheReplicationGroup => "elasticache replication group",
    CacheScaling => "application-autoscaling target",
    DynamoTable => "dynamodb table",
    TableReplica => "dynamodb table replica",
    IamRole => "iam role",
    LogGroup => "logs log group",
    EcsCluster => "ecs cluster",
    TaskDefinition => "ecs task definition",
    EcsService => "ecs service",
    ServiceScaling => "application-autoscaling target",
    ListenerRule => "elbv2 listener rule",
    EfsFileSystem => "efs file system",
    EfsMountTarget => "efs mount target",
    EfsAccessPoint => "efs access point",
    HostedZone => "route53 hosted zone",
    DnsRecord => "route53 record",
    HealthCheck => "route53 health check",
    InstanceProfile => "iam instance profile",
    S3Bucket => "s3 bucket",
    BucketPolicy => "s3 bucket policy",
    Distribution => "cloudfront distribution",
    OriginAccessControl => "cloudfront origin access control",
    EmrCluster => "emr cluster",
    Dashboard => "cloudwatch dashboard",
    Trail => "cloudtrail trail",
    TracingGroup => "xray group",
    SamplingRule => "xray sampling rule",
}
