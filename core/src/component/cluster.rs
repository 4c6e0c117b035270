//! The emr clusters of a stack (EMR clusters): their settings in the stack file, what is checked of
//! them beyond what the types say, the resources they expand into and, where they have metrics
//! worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::tier::SSM_INSTANCE_POLICY;
use super::{alarm, statement, AlarmDef, Component, Cx, BUCKET_NAME_MAX, TOPIC};
use crate::deployment::{global_name, physical_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

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
    #[serde(default = "five_minute_alarm")]
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

/// The EMR clusters.
pub(crate) struct Clusters;

impl Component for Clusters {
    /// Reports each problem of the stack's emr clusters as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, c) in &stack.clusters {
            let at = format!("clusters.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            if !c.release_label.starts_with("emr-") {
                bad(
                    format!("{at}.release_label"),
                    format!(
                        "`{}` is not an EMR release such as emr-7.1.0",
                        c.release_label
                    ),
                );
            }
            for (field, value) in [
                ("master_instance_type", &c.master_instance_type),
                ("core_instance_type", &c.core_instance_type),
            ] {
                if !value.contains('.') {
                    bad(
                        format!("{at}.{field}"),
                        format!("`{value}` is not an instance type such as m5.xlarge"),
                    );
                }
            }
            if c.core_instance_count == 0 {
                bad(
                    format!("{at}.core_instance_count"),
                    "at least 1 core node (HDFS lives there)".into(),
                );
            }
            if c.idle_timeout_seconds.is_some() {
                bad(
                    format!("{at}.idle_timeout_seconds"),
                    "ftctl keeps EMR clusters running until destroy: a cluster that ended itself \
                     when idle would be re-created by every later apply. Remove this line (and \
                     destroy, or scale in with managed_scaling, to stop paying)"
                        .into(),
                );
            }
            if let Some(m) = c.managed_scaling {
                if m.min_instances == 0 || m.min_instances > m.max_instances {
                    bad(
                        format!("{at}.managed_scaling.min_instances"),
                        "1 <= min_instances <= max_instances".into(),
                    );
                } else if !(m.min_instances..=m.max_instances).contains(&c.core_instance_count) {
                    // Managed scaling counts core and task nodes only, never the master.
                    bad(
                        format!("{at}.core_instance_count"),
                        format!(
                            "the cluster starts with {} core nodes, outside managed scaling's {}..{} \
                             (which counts core and task nodes, not the master)",
                            c.core_instance_count, m.min_instances, m.max_instances
                        ),
                    );
                }
            }
            check_policy(bad, &format!("{at}.unhealthy_alarm"), c.unhealthy_alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
        for (name, cluster) in &stack.clusters {
            out.extend(expand_emr(
                env,
                region,
                topic,
                name,
                cluster,
                private_ids,
                &stack.retention,
            ));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .clusters
            .keys()
            .map(|name| {
                let d = [("JobFlowId", Val::reference(format!("emr.{name}"), "id"))];
                let m = |metric_name| metric("AWS/ElasticMapReduce", metric_name, &d);
                Row::new(
                    cx,
                    format!("EMR cluster {name}"),
                    vec![
                        ("Unhealthy nodes", vec![m("MRUnhealthyNodes")], "Maximum"),
                        ("Idle", vec![m("IsIdle")], "Minimum"),
                    ],
                )
            })
            .collect()
    }
}

/// AWS's managed policy for the EMR service role. The v2 policy needs every subnet and
/// security group the cluster uses tagged `for-use-with-amazon-emr-managed-policies`; this one
/// does not.
const EMR_SERVICE_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole";

fn expand_emr(
    env: &str,
    region: &str,
    topic: &str,
    name: &str,
    c: &crate::stack::EmrCluster,
    private_ids: &[String],
    retention: &crate::stack::Retention,
) -> Vec<ResourceSpec> {
    let id = format!("emr.{name}");
    let logs = format!("emr.{name}.logs");
    let service_role = format!("emr.{name}.service-role");
    let node_role = format!("emr.{name}.node-role");
    let profile = format!("emr.{name}.profile");
    // EMR's managed security groups, made by ftctl so they are tagged and go with the
    // deployment (EMR would make untagged ones that outlive it and keep the VPC from being
    // deleted). EMR writes their rules, so the specs have none (see security_group).
    let master_sg = format!("emr.{name}.master-sg");
    let core_sg = format!("emr.{name}.core-sg");
    let service_sg = format!("emr.{name}.service-sg");
    let emr_group = |id: &str, suffix: &str, what: &str| {
        ResourceSpec::new(
            id,
            Kind::SecurityGroup,
            physical_name(env, &format!("{name}-emr-{suffix}"), 255),
        )
        .with("vpc_id", Val::reference("network.vpc", "id"))
        .with(
            "description",
            Val::str(format!(
                "ftctl {env}: EMR cluster {name}, {what} (rules kept by EMR)"
            )),
        )
    };
    let groups = [
        emr_group(&master_sg, "master", "primary node"),
        emr_group(&core_sg, "core", "core nodes"),
        emr_group(&service_sg, "service", "service access"),
    ];
    let mut cluster = ResourceSpec::new(&id, Kind::EmrCluster, physical_name(env, name, 255))
        .with("release_label", Val::str(&c.release_label))
        // Runs until destroyed: a cluster that ended itself when idle would be made again by
        // the next apply (an idle policy set outside ftctl is removed).
        .with("auto_termination", Val::Bool(false))
        .with(
            "applications",
            Val::list(c.applications.iter().map(Val::str)),
        )
        .with("master_instance_type", Val::str(&c.master_instance_type))
        .with("core_instance_type", Val::str(&c.core_instance_type))
        .with(
            "core_instance_count",
            Val::Int(c.core_instance_count.into()),
        )
        // One subnet: an EMR cluster lives in one zone; its data is rebuilt, not failed over.
        .with("subnet_id", Val::reference(&private_ids[0], "id"))
        .with("master_security_group", Val::reference(&master_sg, "id"))
        .with("core_security_group", Val::reference(&core_sg, "id"))
        .with("service_security_group", Val::reference(&service_sg, "id"))
        .with("service_role", Val::reference(&service_role, "name"))
        .with("instance_profile", Val::reference(&profile, "name"))
        .with("log_uri", Val::reference(&logs, "uri"));
    if let Some(m) = c.managed_scaling {
        cluster = cluster
            .with("managed_min", Val::Int(m.min_instances.into()))
            .with("managed_max", Val::Int(m.max_instances.into()));
    }
    let mut specs: Vec<ResourceSpec> = groups.into();
    specs.extend([
        ResourceSpec::new(
            &logs,
            Kind::S3Bucket,
            physical_name(env, &format!("{name}-emr-logs"), BUCKET_NAME_MAX),
        )
        .with("kms_encrypted", Val::Bool(true))
        .with("public_access_blocked", Val::Bool(true))
        .with("lifecycle", retention.rules()),
        ResourceSpec::new(
            &service_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-emr-service"), 64),
        )
        .with("trust_service", Val::str("elasticmapreduce.amazonaws.com"))
        .with(
            "managed_policies",
            Val::list([Val::str(EMR_SERVICE_POLICY)]),
        )
        .with("statements", Val::List(Vec::new())),
        // The nodes may write their logs to the cluster's bucket, nothing more.
        ResourceSpec::new(
            &node_role,
            Kind::IamRole,
            global_name(env, region, &format!("{name}-emr-node"), 64),
        )
        .with("trust_service", Val::str("ec2.amazonaws.com"))
        // Managed by Systems Manager like the tiers' instances (SSM.1).
        .with(
            "managed_policies",
            Val::list([Val::str(SSM_INSTANCE_POLICY)]),
        )
        .with(
            "statements",
            Val::list([
                statement(&["s3:ListBucket"], vec![Val::reference(&logs, "arn")]),
                statement(
                    &["s3:GetObject", "s3:PutObject"],
                    vec![Val::reference(&logs, "objects_arn")],
                ),
            ]),
        ),
        // Not the role's name: physical ids must differ for deletions to be ordered.
        ResourceSpec::new(
            &profile,
            Kind::InstanceProfile,
            global_name(env, region, &format!("{name}-emr-profile"), 128),
        )
        .with("role_name", Val::reference(&node_role, "name")),
        cluster,
        alarm(
            env,
            topic,
            AlarmDef {
                id: format!("alarm.emr.{name}.unhealthy-nodes"),
                name_suffix: format!("{name}-emr-unhealthy-nodes"),
                description: format!("EMR cluster {name}: a node is unhealthy"),
                namespace: "AWS/ElasticMapReduce",
                metric: "MRUnhealthyNodes",
                statistic: "Maximum",
                dimensions: vec![("JobFlowId", Val::reference(&id, "id"))],
                comparison: "GreaterThanThreshold",
                threshold: 0.0,
                policy: c.unhealthy_alarm,
                missing: "notBreaching",
            },
        ),
    ]);
    specs
}
