//! The one list of providers: every resource kind's `Provider`, exactly once (checked by the
//! test below), each kind's attribute schema as its provider declares it, and the order kinds
//! are observed in, derived from what each provider declares it must observe after (not from
//! the order of any list).

use super::provider::Provider;
use super::{
    acm, app_autoscaling, autoscaling, backup, cloudfront, cloudtrail, cloudwatch, docdb, dynamodb,
    ec2, ecs, efs, elasticache, elbv2, emr, iam, kms, logs, rds, route53, s3, sns, sqs, wafv2,
    xray,
};
use crate::resource::Kind;
use crate::schema::Schema;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Every provider, by the service it is made with. Adding a resource kind: its file, its line in
/// `ftctl_core::kind`, and here; a new service also gets its group, whose endpoint variable
/// its folder declares.
static SERVICES: &[Service] = &[
    Service {
        endpoint_var: ec2::ENDPOINT_VAR,
        providers: &[
            &ec2::vpc::VpcProvider,
            &ec2::subnet::SubnetProvider,
            &ec2::internet_gateway::InternetGatewayProvider,
            &ec2::elastic_ip::ElasticIpProvider,
            &ec2::nat_gateway::NatGatewayProvider,
            &ec2::route_table::RouteTableProvider,
            &ec2::network_acl::NetworkAclProvider,
            &ec2::vpc_endpoint::VpcEndpointProvider,
            &ec2::security_group::SecurityGroupProvider,
            &ec2::launch_template::LaunchTemplateProvider,
        ],
    },
    Service {
        endpoint_var: elbv2::ENDPOINT_VAR,
        providers: &[
            &elbv2::target_group::TargetGroupProvider,
            &elbv2::load_balancer::LoadBalancerProvider,
            &elbv2::listener::ListenerProvider,
            &elbv2::listener_rule::ListenerRuleProvider,
        ],
    },
    Service {
        endpoint_var: acm::ENDPOINT_VAR,
        providers: &[&acm::certificate::CertificateProvider],
    },
    Service {
        endpoint_var: wafv2::ENDPOINT_VAR,
        providers: &[&wafv2::web_acl::WebAclProvider],
    },
    Service {
        endpoint_var: autoscaling::ENDPOINT_VAR,
        providers: &[&autoscaling::group::AutoScalingGroupProvider],
    },
    Service {
        endpoint_var: rds::ENDPOINT_VAR,
        providers: &[
            &rds::subnet_group::DbSubnetGroupProvider,
            &rds::parameter_group::DbParameterGroupProvider,
            &rds::instance::DbInstanceProvider,
        ],
    },
    Service {
        endpoint_var: docdb::ENDPOINT_VAR,
        providers: &[
            &docdb::parameter_group::DocdbParameterGroupProvider,
            &docdb::cluster::DocdbClusterProvider,
            &docdb::instance::DocdbInstanceProvider,
        ],
    },
    Service {
        endpoint_var: backup::ENDPOINT_VAR,
        providers: &[
            &backup::vault::BackupVaultProvider,
            &backup::plan::BackupPlanProvider,
        ],
    },
    Service {
        endpoint_var: cloudfront::ENDPOINT_VAR,
        providers: &[
            &cloudfront::origin_access_control::OriginAccessControlProvider,
            &cloudfront::distribution::DistributionProvider,
        ],
    },
    Service {
        endpoint_var: kms::ENDPOINT_VAR,
        providers: &[&kms::key::KmsKeyProvider],
    },
    Service {
        endpoint_var: sns::ENDPOINT_VAR,
        providers: &[&sns::topic::SnsTopicProvider],
    },
    Service {
        endpoint_var: sqs::ENDPOINT_VAR,
        providers: &[
            &sqs::queue::SqsQueueProvider,
            &sqs::policy::QueuePolicyProvider,
        ],
    },
    Service {
        endpoint_var: cloudwatch::ENDPOINT_VAR,
        providers: &[
            &cloudwatch::alarm::MetricAlarmProvider,
            &cloudwatch::dashboard::DashboardProvider,
        ],
    },
    Service {
        endpoint_var: elasticache::ENDPOINT_VAR,
        providers: &[
            &elasticache::subnet_group::CacheSubnetGroupProvider,
            &elasticache::replication_group::ReplicationGroupProvider,
        ],
    },
    Service {
        endpoint_var: app_autoscaling::ENDPOINT_VAR,
        providers: &[
            &app_autoscaling::target::ScalingProvider(
                app_autoscaling::target::Scaled::CacheReplicas,
            ),
            &app_autoscaling::target::ScalingProvider(
                app_autoscaling::target::Scaled::ServiceTasks,
            ),
        ],
    },
    Service {
        endpoint_var: dynamodb::ENDPOINT_VAR,
        providers: &[
            &dynamodb::table::TableProvider,
            &dynamodb::replica::TableReplicaProvider,
        ],
    },
    Service {
        endpoint_var: iam::ENDPOINT_VAR,
        providers: &[
            &iam::role::IamRoleProvider,
            &iam::instance_profile::InstanceProfileProvider,
        ],
    },
    Service {
        endpoint_var: logs::ENDPOINT_VAR,
        providers: &[&logs::log_group::LogGroupProvider],
    },
    Service {
        endpoint_var: ecs::ENDPOINT_VAR,
        providers: &[
            &ecs::cluster::EcsClusterProvider,
            &ecs::task_definition::TaskDefinitionProvider,
            &ecs::service::EcsServiceProvider,
        ],
    },
    Service {
        endpoint_var: efs::ENDPOINT_VAR,
        providers: &[
            &efs::file_system::EfsFileSystemProvider,
            &efs::mount_target::EfsMountTargetProvider,
            &efs::access_point::EfsAccessPointProvider,
        ],
    },
    Service {
        endpoint_var: route53::ENDPOINT_VAR,
        providers: &[
            &route53::hosted_zone::HostedZoneProvider,
            &route53::record::DnsRecordProvider,
            &route53::health_check::HealthCheckProvider,
        ],
    },
    Service {
        endpoint_var: s3::ENDPOINT_VAR,
        providers: &[
            &s3::bucket::S3BucketProvider,
            &s3::policy::BucketPolicyProvider,
        ],
    },
    Service {
        endpoint_var: emr::ENDPOINT_VAR,
        providers: &[&emr::cluster::EmrClusterProvider],
    },
    Service {
        endpoint_var: cloudtrail::ENDPOINT_VAR,
        providers: &[&cloudtrail::trail::TrailProvider],
    },
    Service {
        endpoint_var: xray::ENDPOINT_VAR,
        providers: &[
            &xray::XrayProvider(xray::Traced::Group),
            &xray::XrayProvider(xray::Traced::SamplingRule),
        ],
    },
];

/// The providers of one AWS service, and the name the service has in its endpoint variable.
struct Service {
    endpoint_var: &'static str,
    providers: &'static [&'static dyn Provider],
}

fn providers() -> impl Iterator<Item = &'static dyn Provider> {
    SERVICES.iter().flat_map(|s| s.providers.iter().copied())
}

/// The provider of a kind.
pub fn provider(kind: Kind) -> &'static dyn Provider {
    static BY_KIND: OnceLock<BTreeMap<Kind, &'static dyn Provider>> = OnceLock::new();
    BY_KIND.get_or_init(|| providers().map(|p| (p.kind(), p)).collect())[&kind]
}

/// The endpoint variable (`AWS_ENDPOINT_URL_<SERVICE>`) of the service a kind is made with.
pub fn endpoint_var(kind: Kind) -> &'static str {
    static BY_KIND: OnceLock<BTreeMap<Kind, &'static str>> = OnceLock::new();
    BY_KIND.get_or_init(|| {
        SERVICES
            .iter()
            .flat_map(|s| s.providers.iter().map(|p| (p.kind(), s.endpoint_var)))
            .collect()
    })[&kind]
}

/// The schema of a kind, as its provider declares it: what the planner compares with.
pub fn schema(kind: Kind) -> &'static Schema {
    provider(kind).schema()
}

/// The kinds in waves: a kind's wave comes after the waves of every kind it observes after.
/// Kinds inside a wave are read concurrently; their results are kept in `Kind` order, so what
/// `observe` returns does not depend on which answer came first.
pub fn observe_waves() -> &'static [Vec<Kind>] {
    static WAVES: OnceLock<Vec<Vec<Kind>>> = OnceLock::new();
    WAVES.get_or_init(|| waves(providers().map(|p| (p.kind(), p.observe_after()))))
}

fn waves(needs: impl Iterator<Item = (Kind, &'static [Kind])>) -> Vec<Vec<Kind>> {
    let mut pending: BTreeMap<Kind, BTreeSet<Kind>> = needs
        .map(|(kind, after)| (kind, after.iter().copied().collect()))
        .collect();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<Kind> = pending
            .iter()
            .filter(|(_, after)| after.iter().all(|k| !pending.contains_key(k)))
            .map(|(kind, _)| *kind)
            .collect();
        assert!(
            !ready.is_empty(),
            "providers observe after one another in a circle: {pending:?}"
        );
        for kind in &ready {
            pending.remove(kind);
        }
        out.push(ready);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_provider() {
        let mut seen = BTreeMap::new();
        for p in providers() {
            *seen.entry(p.kind()).or_insert(0) += 1;
        }
        for kind in Kind::ALL {
            assert_eq!(
                seen.get(kind),
                Some(&1),
                "{kind:?} needs exactly one provider"
            );
        }
        assert_eq!(seen.len(), Kind::ALL.len());
    }

    #[test]
    fn every_schema_is_its_providers_kind_and_names_each_attribute_once() {
        for p in providers() {
            let schema = p.schema();
            assert_eq!(
                schema.kind,
                p.kind(),
                "the schema of {:?}'s provider",
                p.kind()
            );
            let mut names = BTreeSet::new();
            for a in schema.attributes {
                assert!(
                    names.insert(a.name),
                    "{:?} declares {} twice",
                    p.kind(),
                    a.name
                );
            }
        }
    }

    #[test]
    fn observe_order_puts_every_kind_after_what_it_needs() {
        let waves = observe_waves();
        let wave_of: BTreeMap<Kind, usize> = waves
            .iter()
            .enumerate()
            .flat_map(|(i, w)| w.iter().map(move |k| (*k, i)))
            .collect();
        assert_eq!(wave_of.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            for need in provider(*kind).observe_after() {
                assert!(
                    wave_of[need] < wave_of[kind],
                    "{kind:?} is observed in wave {} but needs {need:?} (wave {})",
                    wave_of[kind],
                    wave_of[need]
                );
            }
        }
        // Listener rules need listeners, which need balancers: three waves at least.
        assert!(wave_of[&Kind::ListenerRule] >= 2);
    }

    #[test]
    fn a_circle_is_refused() {
        static A: &[Kind] = &[Kind::Subnet];
        static B: &[Kind] = &[Kind::Vpc];
        let run =
            std::panic::catch_unwind(|| waves([(Kind::Vpc, A), (Kind::Subnet, B)].into_iter()));
        assert!(run.is_err());
    }
}
