//! `ftctl isolate`: take a slow or suspect instance out of service without killing it (group
//! standby: the load balancer stops sending it traffic, the group launches a replacement, the
//! instance stays for investigation), bring it back, or name outliers worth isolating.

use super::InputError;
use crate::aws::{aws_error, AwsCloud, DeleteOptions};
use crate::chaos::Inventory;
use crate::cloud::Cloud;
use crate::deployment::{self, Deployment};
use anyhow::{bail, Result};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::process::ExitCode;

/// The group (of the deployment) an instance belongs to, and its lifecycle state there.
async fn membership(cloud: &AwsCloud, inv: &Inventory, instance: &str) -> Result<(String, String)> {
    let out = cloud
        .clients
        .autoscaling
        .describe_auto_scaling_instances()
        .instance_ids(instance)
        .send()
        .await
        .map_err(|e| aws_error(&format!("reading instance {instance}"), e))?;
    let Some(member) = out.auto_scaling_instances().first() else {
        bail!("{instance} is in no Auto Scaling group");
    };
    let group = member.auto_scaling_group_name().unwrap_or_default();
    if !inv.groups.iter().any(|g| g.name == group) {
        bail!(
            "{instance} belongs to group {group}, which is not deployment {}'s: ftctl only touches what it owns",
            inv.env
        );
    }
    Ok((
        group.to_string(),
        member.lifecycle_state().unwrap_or_default().to_string(),
    ))
}

pub async fn run(
    env: &str,
    region: Option<&str>,
    instance: Option<&str>,
    release: bool,
    suggest: bool,
) -> Result<ExitCode> {
    deployment::validate_env(env).map_err(InputError)?;
    let cloud = AwsCloud::connect(region, DeleteOptions::default()).await?;
    let observed = cloud
        .observe(&Deployment {
            env: env.to_string(),
            stack: String::new(),
        })
        .await?;
    let inv = Inventory::from_observed(env, &observed);
    if inv.groups.is_empty() {
        bail!(
            "deployment {env} has no Auto Scaling group in {}",
            cloud.target()
        );
    }
    if suggest {
        return suggest_outliers(&cloud, &inv).await;
    }
    let Some(instance) = instance else {
        return Err(InputError("isolate needs an instance id, or --suggest".into()).into());
    };
    let (group, state) = membership(&cloud, &inv, instance).await?;
    let asg = &cloud.clients.autoscaling;
    if release {
        if state != "Standby" {
            bail!("{instance} is {state} in {group}, not isolated");
        }
        asg.exit_standby()
            .auto_scaling_group_name(&group)
            .instance_ids(instance)
            .send()
            .await
            .map_err(|e| aws_error(&format!("returning {instance} to service"), e))?;
        println!(
            "{instance} is back in service in {group}. The group's desired capacity grew by one \
             (its replacement stays); the scaling policy or `ftctl apply` brings it back down."
        );
    } else {
        if state != "InService" {
            bail!("{instance} is {state} in {group}: only an instance in service can be isolated");
        }
        asg.enter_standby()
            .auto_scaling_group_name(&group)
            .instance_ids(instance)
            // Keep capacity: the group launches a replacement while this one is examined.
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .map_err(|e| aws_error(&format!("isolating {instance}"), e))?;
        println!(
            "{instance} is isolated in {group}: in standby, out of the load balancer, still \
             running for investigation; the group launches a replacement. \
             `ftctl isolate --release {instance} --env {env}` returns it."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Instances whose average CPU over the last 15 minutes stands out from their tier's: above
/// 1.5 × the tier's median and at least 20 points above it.
async fn suggest_outliers(cloud: &AwsCloud, inv: &Inventory) -> Result<ExitCode> {
    let asg = &cloud.clients.autoscaling;
    let mut found = 0;
    for g in &inv.groups {
        let out = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&g.name)
            .send()
            .await
            .map_err(|e| aws_error(&format!("reading group {}", g.name), e))?;
        let ids: Vec<String> = out
            .auto_scaling_groups()
            .iter()
            .flat_map(|x| x.instances())
            .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let now = aws_smithy_types::DateTime::from_secs(crate::aws::unix_now() as i64);
        let start = aws_smithy_types::DateTime::from_secs(crate::aws::unix_now() as i64 - 900);
        let queries: Vec<MetricDataQuery> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                MetricDataQuery::builder()
                    .id(format!("cpu{n}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace("AWS/EC2")
                                    .metric_name("CPUUtilization")
                                    .dimensions(
                                        Dimension::builder().name("InstanceId").value(id).build(),
                                    )
                                    .build(),
                            )
                            .period(900)
                            .stat("Average")
                            .build(),
                    )
                    .build()
            })
            .collect();
        let data = cloud
            .clients
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(start)
            .end_time(now)
            .send()
            .await
            .map_err(|e| aws_error("reading instance CPU", e))?;
        let mut cpu: Vec<(String, f64)> = data
            .metric_data_results()
            .iter()
            .filter_map(|r| {
                let n: usize = r.id()?.trim_start_matches("cpu").parse().ok()?;
                let values = r.values();
                (!values.is_empty()).then(|| {
                    (
                        ids[n].clone(),
                        values.iter().sum::<f64>() / values.len() as f64,
                    )
                })
            })
            .collect();
        if cpu.len() < 2 {
            println!("tier {}: not enough CPU data to compare instances", g.tier);
            continue;
        }
        cpu.sort_by(|a, b| a.1.total_cmp(&b.1));
        let median = cpu[cpu.len() / 2].1;
        for (id, avg) in &cpu {
            if *avg > median * 1.5 && *avg - median >= 20.0 {
                found += 1;
                println!(
                    "tier {}: {id} averages {avg:.0}% CPU against the tier's median {median:.0}%: \
                     `ftctl isolate {id} --env {}`",
                    g.tier, inv.env
                );
            }
        }
    }
    if found == 0 {
        println!("No outlier: every in-service instance is close to its tier's median CPU.");
    }
    Ok(ExitCode::SUCCESS)
}
