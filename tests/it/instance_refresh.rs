//! The emulated Auto Scaling instance refresh (localstack/moto_patches/instance_refresh.py)
//! behaves as AWS's API reference describes, read through the Rust SDK: batches that keep the
//! minimum healthy percentage, a checkpoint, instances on the new template version at the end,
//! one refresh at a time, and a rollback when a watched alarm fires. ftctl's rolling updates
//! (issue 21) are built on it; until they are, this is what shows the emulator is right.

use crate::support::*;
use aws_sdk_autoscaling::types::{
    AlarmSpecification, DesiredConfiguration, InstanceRefreshStatus, LaunchTemplateSpecification,
    RefreshPreferences,
};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use aws_sdk_ec2::types::RequestLaunchTemplateData;
use std::time::{Duration, Instant};

/// The group's instances: id and the launch template version each was launched with.
async fn versions(aws: &Aws, group: &str) -> Vec<(String, String)> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_string(),
                i.launch_template()
                    .and_then(|t| t.version())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Polls the newest refresh until it ends: its status, the reasons it gave on the way, and the
/// fewest and most instances the group had meanwhile.
async fn until_done(
    aws: &Aws,
    group: &str,
) -> (InstanceRefreshStatus, Vec<String>, (usize, usize)) {
    let started = Instant::now();
    let mut reasons = Vec::new();
    let (mut least, mut most) = (usize::MAX, 0);
    loop {
        let out = aws
            .autoscaling
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .send()
            .await
            .unwrap();
        let r = &out.instance_refreshes()[0];
        if let Some(reason) = r.status_reason().filter(|s| !s.is_empty()) {
            reasons.push(reason.to_string());
        }
        let now = versions(aws, group).await.len();
        least = least.min(now);
        most = most.max(now);
        let status = r.status().cloned().unwrap();
        if !matches!(
            status,
            InstanceRefreshStatus::Pending
                | InstanceRefreshStatus::InProgress
                | InstanceRefreshStatus::Cancelling
                | InstanceRefreshStatus::RollbackInProgress
        ) {
            return (status, reasons, (least, most));
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the refresh never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the test made, deleted when it ends, also when it fails (nothing here is tagged as a
/// deployment, so no destroy would find it).
#[derive(Default)]
struct Made {
    group: Option<String>,
    template: Option<String>,
    subnet: Option<String>,
    vpc: Option<String>,
    alarm: Option<String>,
}

impl Drop for Made {
    fn drop(&mut self) {
        let made = std::mem::take(self);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                let aws = aws().await;
                if let Some(alarm) = &made.alarm {
                    let _ = aws
                        .cloudwatch
                        .delete_alarms()
                        .alarm_names(alarm)
                        .send()
                        .await;
                }
                if let Some(group) = &made.group {
                    let _ = aws
                        .autoscaling
                        .delete_auto_scaling_group()
                        .auto_scaling_group_name(group)
                        .force_delete(true)
                        .send()
                        .await;
                }
                if let Some(template) = &made.template {
                    let _ = aws
                        .ec2
                        .delete_launch_template()
                        .launch_template_id(template)
                        .send()
                        .await;
                }
                if let Some(subnet) = &made.subnet {
                    let _ = aws.ec2.delete_subnet().subnet_id(subnet).send().await;
                }
                if let Some(vpc) = &made.vpc {
                    let _ = aws.ec2.delete_vpc().vpc_id(vpc).send().await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulated_instance_refresh_rolls_in_batches_and_rolls_back_on_an_alarm() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let name = unique_env("ir");
    let mut made = Made::default();
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    made.vpc = Some(vpc.clone());
    let subnet = aws
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.42.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap();
    made.subnet = Some(subnet.clone());
    let data = |t: &str| {
        RequestLaunchTemplateData::builder()
            .image_id("ami-12c6146b")
            .instance_type(t.into())
            .build()
    };
    let template = aws
        .ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(data("t3.micro"))
        .send()
        .await
        .unwrap()
        .launch_template
        .unwrap()
        .launch_template_id
        .unwrap();
    made.template = Some(template.clone());
    made.group = Some(name.clone());
    aws.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&template)
                .version("$Default")
                .build(),
        )
        .min_size(2)
        .max_size(8)
        .desired_capacity(4)
        .vpc_zone_identifier(&subnet)
        .health_check_grace_period(100)
        .send()
        .await
        .unwrap();
    let before = versions(&aws, &name).await;
    assert_eq!(before.len(), 4);
    assert!(before.iter().all(|(_, v)| v == "1"), "{before:?}");

    // A new default version, rolled at 100 % healthy with room for half the group more:
    // batches of 2, launched before the old ones go, and a pause at 50 %.
    let v2 = aws
        .ec2
        .create_launch_template_version()
        .launch_template_id(&template)
        .launch_template_data(data("t3.small"))
        .send()
        .await
        .unwrap()
        .launch_template_version
        .unwrap()
        .version_number
        .unwrap();
    aws.ec2
        .modify_launch_template()
        .launch_template_id(&template)
        .default_version(v2.to_string())
        .send()
        .await
        .unwrap();
    aws.autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(&name)
        .preferences(
            RefreshPreferences::builder()
                .min_healthy_percentage(100)
                .max_healthy_percentage(150)
                .instance_warmup(100)
                .checkpoint_percentages(50)
                .checkpoint_delay(100)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let second = aws
        .autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_autoscaling::error::ProvideErrorMetadata::code(&second),
        Some("InstanceRefreshInProgress")
    );
    let (status, reasons, (least, most)) = until_done(&aws, &name).await;
    assert_eq!(status, InstanceRefreshStatus::Successful);
    assert!(
        reasons.iter().any(|r| r.contains("checkpoint 50%")),
        "{reasons:?}"
    );
    // Never fewer than 4: the new instances came before the old ones went (6 at most).
    assert!(least >= 4 && most > 4 && most <= 6, "{least}..{most}");
    let after = versions(&aws, &name).await;
    assert_eq!(after.len(), 4);
    assert!(after.iter().all(|(_, v)| *v == v2.to_string()), "{after:?}");
    assert!(after.iter().all(|i| !before.contains(i)));
    let none = aws
        .autoscaling
        .cancel_instance_refresh()
        .auto_scaling_group_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_autoscaling::error::ProvideErrorMetadata::code(&none),
        Some("ActiveInstanceRefreshNotFound")
    );

    // A watched alarm in ALARM: the refresh fails and, with AutoRollback, rolls back.
    let alarm = format!("{name}-watch");
    made.alarm = Some(alarm.clone());
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .metric_name("Probe")
        .namespace("ftctl/test")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&alarm)
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();
    aws.autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(&name)
        .desired_configuration(
            DesiredConfiguration::builder()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(&template)
                        .version("1")
                        .build(),
                )
                .build(),
        )
        .preferences(
            RefreshPreferences::builder()
                .min_healthy_percentage(50)
                .instance_warmup(50)
                .auto_rollback(true)
                .alarm_specification(AlarmSpecification::builder().alarms(&alarm).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (status, reasons, _) = until_done(&aws, &name).await;
    assert_eq!(status, InstanceRefreshStatus::RollbackSuccessful);
    assert!(reasons.iter().any(|r| r.contains(&alarm)), "{reasons:?}");
    assert_eq!(versions(&aws, &name).await, after);
}
