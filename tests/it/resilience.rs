//! The engine under fire: ftctl between the emulators and a fault-injecting proxy
//! (support/proxy.rs) that throttles, fails, drops, goes down, or lets a test kill ftctl at the
//! k-th request.

use crate::support::proxy::{Faults, Proxy};
use crate::support::*;

#[test]
fn the_proxy_forwards_and_counts_requests() {
    let _emulators = emulators_blocking();
    let proxy = Proxy::in_front_of_the_emulators();
    let env = unique_env("px");
    ftctl_with(&["plan", "stage1", "--env", &env], &proxy.env()).success();
    let counts = proxy.counts();
    eprintln!("{counts:#?}");
    assert!(counts.keys().any(|k| k == "ec2:DescribeVpcs"), "{counts:?}");
    assert_eq!(proxy.total(), counts.values().sum::<u64>());
    let _ = Faults::default();
}

/// The AWS behaviours the proxy enforces answer as AWS does, and ftctl gets through them: the
/// shipped stage 1 applies although Auto Scaling refuses each group's first request (its
/// instance profile not yet propagated), and what AWS would refuse is refused with AWS's
/// error: a dashboard metric widget without a region, a hosted zone under example.com. On the
/// way, the deployed stage's no-op plan is read with shared calls, and per resource where a
/// policy refuses those.
#[tokio::test(flavor = "multi_thread")]
async fn what_aws_refuses_is_refused_and_ftctl_gets_through_iam_propagation() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let proxy = Proxy::in_front_of_the_emulators();
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("ar");
    let env = deployment.created().to_string();
    // ftctl apply stage1 --env ar… (through the proxy)
    ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], &proxy.env()).success();
    let refused = proxy.refused();
    assert_eq!(
        refused.get("autoscaling:CreateAutoScalingGroup"),
        Some(&2),
        "each tier's group refused once: {refused:?}"
    );
    assert!(
        !refused.contains_key("monitoring:PutDashboard"),
        "{refused:?}"
    );
    let mut calls = proxy.counts();

    // A no-op plan reads the alarms' tags (Resource Groups Tagging API) and the roles with their
    // policies and tags (GetAccountAuthorizationDetails) in one shared call each, not per resource.
    let plan = [
        "plan",
        "stage1",
        "--env",
        env.as_str(),
        "--detailed-exitcode",
    ];
    proxy.reset();
    // ftctl plan stage1 --env ar… --detailed-exitcode (through the proxy)
    let run = ftctl_with(&plan, &proxy.env());
    assert_eq!(
        run.code, 0,
        "not converged:\n{}\n{}",
        run.stdout, run.stderr
    );
    let reads = proxy.counts();
    assert_eq!(reads.get("tagging:GetResources"), Some(&1), "{reads:?}");
    assert_eq!(
        reads.get("iam:GetAccountAuthorizationDetails"),
        Some(&1),
        "{reads:?}"
    );
    const PER_RESOURCE: [&str; 5] = [
        "monitoring:ListTagsForResource",
        "iam:ListRoleTags",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfileTags",
    ];
    for op in PER_RESOURCE {
        assert!(!reads.contains_key(op), "{op} made: {reads:?}");
    }
    // Under a policy that allows neither shared call, the same plan reads each resource instead,
    // says so, and still finds the deployment as it is.
    proxy.reset();
    proxy.set_faults(Faults {
        denied: vec![
            "tagging:GetResources".into(),
            "iam:GetAccountAuthorizationDetails".into(),
        ],
        ..Faults::default()
    });
    let run = ftctl_with(&plan, &proxy.env());
    assert_eq!(
        run.code, 0,
        "not converged:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("tag:GetResources is not allowed")
            && run
                .stderr
                .contains("iam:GetAccountAuthorizationDetails is not allowed"),
        "{}",
        run.stderr
    );
    let reads = proxy.counts();
    for op in PER_RESOURCE {
        assert!(
            reads.get(op).is_some_and(|n| *n >= 1),
            "{op} not made: {reads:?}"
        );
    }
    proxy.reset();

    // The same requests straight from an SDK client, through the proxy.
    let endpoint = |var: &str| {
        proxy
            .env()
            .into_iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
            .unwrap()
    };
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint("AWS_ENDPOINT_URL"))
        .load()
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&conf);
    let body = r#"{"widgets":[{"type":"metric","x":0,"y":0,"width":6,"height":6,"properties":{"metrics":[["AWS/EC2","CPUUtilization"]],"stat":"Average","period":60}}]}"#;
    let err = cloudwatch
        .put_dashboard()
        .dashboard_name(format!("{env}-bad"))
        .dashboard_body(body)
        .send()
        .await
        .unwrap_err();
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(
        text.contains("InvalidParameterInput")
            && text.contains("Should have required property 'region'"),
        "{text}"
    );
    let route53 = aws_sdk_route53::Client::new(&conf);
    let err = route53
        .create_hosted_zone()
        .name("shop.example.com")
        .caller_reference(format!("{env}-reserved"))
        .send()
        .await
        .unwrap_err();
    let text = format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    assert!(
        text.contains("InvalidDomainName") && text.contains("reserved by AWS"),
        "{text}"
    );

    proxy.reset();
    ftctl_with(&destroy_args(&env), &proxy.env()).success();
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    calls.extend(proxy.counts());

    // The shipped IAM policy of stage 1 allows every call this apply and destroy made.
    let made = crate::support::iam::actions(&calls)
        .unwrap_or_else(|unknown| panic!("requests with no IAM action known: {unknown:?}"));
    let text = std::fs::read_to_string(repo().join("docs/iam/stage1.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let allowed: std::collections::BTreeSet<&str> = doc["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let missing: Vec<&String> = made
        .iter()
        .filter(|a| !allowed.contains(a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/iam/stage1.json lacks {missing:?}: run make iam-policies"
    );
    deployment.destroyed();
}

fn destroy_args(env: &str) -> Vec<&str> {
    vec![
        "destroy",
        "--env",
        env,
        "--yes",
        "--disable-deletion-protection",
        "--skip-final-snapshot",
        "--delete-evidence",
    ]
}

/// With a tenth of all requests throttled, apply and destroy still complete: the SDK's retry
/// configuration absorbs it (standard mode, 8 attempts). The proxy throttles each attempt
/// independently, so a request fails for good with probability rate^8: at a fifth that is
/// 2.6e-6 per request, about one run in 150 over the few thousand requests of this test (CI
/// saw it once, on a KMS DescribeKey); at a tenth it is 1e-8. The same faults with the user's
/// AWS_MAX_ATTEMPTS=1 make apply fail on a throttling error, which shows the retries are the
/// SDK's (the configuration decides) and not a loop of ftctl's own.
#[tokio::test(flavor = "multi_thread")]
async fn apply_and_destroy_complete_with_a_tenth_of_requests_throttled() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let proxy = Proxy::in_front_of_the_emulators();
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("th");
    let env = deployment.created().to_string();
    proxy.set_faults(Faults {
        throttle_percent: 10,
        seed: 1,
        ..Faults::default()
    });
    ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], &proxy.env()).success();
    let during_apply = proxy.injected().throttled;
    assert!(during_apply >= 10, "only {during_apply} throttled");
    // Converged: a plan through the same faults has nothing to do.
    ftctl_with(
        &["plan", "stage1", "--env", &env, "--detailed-exitcode"],
        &proxy.env(),
    )
    .success();
    ftctl_with(&destroy_args(&env), &proxy.env()).success();
    assert!(proxy.injected().throttled > during_apply);
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());

    // No retries allowed: the first throttled request ends the run, with the error named.
    let mut env_vars = proxy.env();
    env_vars.push(("AWS_MAX_ATTEMPTS", "1"));
    let run = ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], &env_vars);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("Throttling") || run.stderr.contains("RequestLimitExceeded"),
        "{}",
        run.stderr
    );
    proxy.reset();
    ftctl_with(&destroy_args(&env), &proxy.env()).success();
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    deployment.destroyed();
}

/// The endpoint goes away in the middle of an apply: ftctl stops with an error that names the
/// resource and the endpoint, exits non-zero, and once the endpoint is back the same command
/// converges.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_mid_apply_is_reported_and_a_rerun_converges() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let proxy = Proxy::in_front_of_the_emulators();
    // Destroyed on drop should the test fail before its own destroy.
    let mut deployment = TestDeployment::new("ou");
    let env = deployment.created().to_string();
    // Reading the deployment takes ~31 requests; go down (every later request unanswered)
    // well into the creations.
    proxy.trip_at(60, || {});
    let mut env_vars = proxy.env();
    // Fewer attempts so the outage is declared in seconds, not after the full backoff.
    env_vars.push(("AWS_MAX_ATTEMPTS", "2"));
    let run = ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], &env_vars);
    assert!(proxy.tripped(), "the outage never came");
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    eprintln!("{}", run.stderr);
    assert!(
        run.stderr.contains("http://127.0.0.1:"),
        "endpoint not named: {}",
        run.stderr
    );
    proxy.reset();
    ftctl_with(&["apply", "stage1", "--env", &env, "--yes"], &proxy.env()).success();
    ftctl_with(
        &["plan", "stage1", "--env", &env, "--detailed-exitcode"],
        &proxy.env(),
    )
    .success();
    ftctl_with(&destroy_args(&env), &proxy.env()).success();
    assert_eq!(leftovers(&aws, &env).await, Vec::<String>::new());
    deployment.destroyed();
}

/// How many resources of each sort the emulators hold, whoever owns them: an untagged orphan
/// (made but never tagged, so no later run can find it) shows up here and nowhere else. Only
/// meaningful while no other test runs: the caller holds `emulators_alone()`.
async fn everything(aws: &Aws) -> std::collections::BTreeMap<&'static str, usize> {
    let mut n = std::collections::BTreeMap::new();
    n.insert(
        "vpc",
        aws.ec2.describe_vpcs().send().await.unwrap().vpcs().len(),
    );
    n.insert(
        "subnet",
        aws.ec2
            .describe_subnets()
            .send()
            .await
            .unwrap()
            .subnets()
            .len(),
    );
    n.insert(
        "security group",
        aws.ec2
            .describe_security_groups()
            .send()
            .await
            .unwrap()
            .security_groups()
            .len(),
    );
    n.insert(
        "internet gateway",
        aws.ec2
            .describe_internet_gateways()
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .len(),
    );
    n.insert(
        "route table",
        aws.ec2
            .describe_route_tables()
            .send()
            .await
            .unwrap()
            .route_tables()
            .len(),
    );
    n.insert(
        "address",
        aws.ec2
            .describe_addresses()
            .send()
            .await
            .unwrap()
            .addresses()
            .len(),
    );
    n.insert(
        "launch template",
        aws.ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .len(),
    );
    n.insert(
        "instance",
        aws.ec2
            .describe_instances()
            .filters(filter("instance-state-name", "pending"))
            .filters(filter("instance-state-name", "running"))
            .send()
            .await
            .unwrap()
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum(),
    );
    n.insert(
        "target group",
        aws.elb
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .len(),
    );
    n.insert(
        "load balancer",
        aws.elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .len(),
    );
    n.insert(
        "auto scaling group",
        aws.autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .len(),
    );
    n.insert(
        "db instance",
        aws.rds
            .describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
            .len(),
    );
    n.insert(
        "db subnet group",
        aws.rds
            .describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
            .len(),
    );
    n.insert(
        "topic",
        aws.sns.list_topics().send().await.unwrap().topics().len(),
    );
    n.insert(
        "alarm",
        aws.cloudwatch
            .describe_alarms()
            .send()
            .await
            .unwrap()
            .metric_alarms()
            .len(),
    );
    // (Dashboards: ministack's ListDashboards timestamps do not parse; the deployment's one
    // dashboard is found by name in `leftovers`.)
    n.insert(
        "role",
        aws.iam.list_roles().send().await.unwrap().roles().len(),
    );
    n.insert(
        "instance profile",
        aws.iam
            .list_instance_profiles()
            .send()
            .await
            .unwrap()
            .instance_profiles()
            .len(),
    );
    n.insert(
        "bucket",
        aws.s3.list_buckets().send().await.unwrap().buckets().len(),
    );
    n.insert(
        "vpc endpoint",
        aws.ec2
            .describe_vpc_endpoints()
            .send()
            .await
            .unwrap()
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                let state = e.state().map(|s| s.as_str().to_ascii_lowercase());
                !matches!(state.as_deref(), Some("deleted" | "deleting"))
            })
            .count(),
    );
    n.insert(
        "xray group",
        aws.xray.get_groups().send().await.unwrap().groups().len(),
    );
    n.insert(
        "xray sampling rule",
        aws.xray
            .get_sampling_rules()
            .send()
            .await
            .unwrap()
            .sampling_rule_records()
            .len(),
    );
    n.insert(
        "trail",
        aws.cloudtrail
            .describe_trails()
            .send()
            .await
            .unwrap()
            .trail_list()
            .len(),
    );
    n.insert(
        "cache",
        aws.elasticache
            .describe_replication_groups()
            .send()
            .await
            .unwrap()
            .replication_groups()
            .len(),
    );
    n.insert(
        "table",
        aws.dynamodb
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .len(),
    );
    n.insert(
        "table (replica region)",
        aws.dynamodb_west
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .len(),
    );
    n.insert(
        "log group",
        aws.logs
            .describe_log_groups()
            .send()
            .await
            .unwrap()
            .log_groups()
            .len(),
    );
    n.insert(
        "ecs cluster",
        aws.ecs
            .list_clusters()
            .send()
            .await
            .unwrap()
            .cluster_arns()
            .len(),
    );
    n.insert(
        "file system",
        aws.efs
            .describe_file_systems()
            .send()
            .await
            .unwrap()
            .file_systems()
            .len(),
    );
    n.insert(
        "hosted zone",
        aws.route53
            .list_hosted_zones()
            .send()
            .await
            .unwrap()
            .hosted_zones()
            .len(),
    );
    n.insert(
        "health check",
        aws.route53
            .list_health_checks()
            .send()
            .await
            .unwrap()
            .health_checks()
            .len(),
    );
    n.insert(
        "emr cluster",
        aws.emr
            .list_clusters()
            .cluster_states(aws_sdk_emr::types::ClusterState::Starting)
            .cluster_states(aws_sdk_emr::types::ClusterState::Running)
            .cluster_states(aws_sdk_emr::types::ClusterState::Waiting)
            .send()
            .await
            .unwrap()
            .clusters()
            .len(),
    );
    n
}

/// The deployment's resources by sort ("vpc", "subnet", ...), from `leftovers`.
async fn inventory(aws: &Aws, env: &str) -> std::collections::BTreeMap<String, usize> {
    let mut n = std::collections::BTreeMap::new();
    for line in leftovers(aws, env).await {
        let sort = line.split(' ').next().unwrap_or_default().to_string();
        *n.entry(sort).or_default() += 1;
    }
    n
}

/// Runs ftctl through the proxy and kills it (SIGKILL, by PID) when the proxy sees request
/// `k`. Returns whether it was killed (false: the run made fewer than k requests and ended).
fn killed_at(proxy: &Proxy, k: u64, args: &[&str]) -> bool {
    use std::sync::atomic::{AtomicU32, Ordering};
    proxy.reset();
    let pid = std::sync::Arc::new(AtomicU32::new(0));
    let target = pid.clone();
    proxy.trip_at(k, move || {
        // The child's PID is stored right after spawning, long before its k-th request; wait
        // for it rather than race.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while target.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let pid = target.load(Ordering::SeqCst).to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
    });
    let ftctl = Ftctl::new().args(args).envs(&proxy.env());
    eprintln!("$ {} (killed at request {k})", ftctl.command_line());
    let mut child = ftctl
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ftctl starts");
    pid.store(child.id(), Ordering::SeqCst);
    let status = child.wait().expect("ftctl ends");
    let killed = proxy.tripped();
    assert_eq!(
        killed,
        status.code().is_none(),
        "k={k}: killed by the proxy but {status}, or not killed and no exit code"
    );
    killed
}

/// What the next run tells the user to do about the lock a killed run left: `ftctl
/// force-unlock` (a no-op when the run ended before taking it). Until the tests' ftctl had a
/// state directory of their own, the killed runs' locks went to the user's
/// ~/.local/state/ftctl and the rerun, in the test directory, never saw them.
fn release_killed_runs_lock(env: &str) {
    ftctl(&["force-unlock", "--env", env]).success();
}

/// The points to crash at: about `spread` of them (the first, the last, and evenly between,
/// offset so successive runs of the suite do not always pick the same requests). With
/// FTCTL_CRASH_POINTS=long (`make test-crash`) about `long_spread` of them; with
/// FTCTL_CRASH_POINTS=all (`make test-crash-all`) every request.
fn crash_points(total: u64, spread: u64, long_spread: u64) -> Vec<u64> {
    let spread = match std::env::var("FTCTL_CRASH_POINTS").as_deref() {
        Ok("all") => return (1..=total).collect(),
        Ok("long") => long_spread,
        _ => spread,
    };
    let step = (total / spread).max(1);
    let offset = u64::from(std::process::id()) % step;
    let mut points: Vec<u64> = (1..=total).filter(|k| k % step == offset).collect();
    points.extend([1, total]);
    points.sort();
    points.dedup();
    points
}

/// Kill -9 at the k-th AWS request of `apply STAGE` (and, separately, of `destroy`), then run
/// the same command again: it converges to what an uninterrupted run makes — the same
/// resources of every sort, none duplicated, nothing untagged left behind anywhere.
async fn killed_runs_converge(
    tag: &str,
    stage: &str,
    vars: &[&str],
    spread: u64,
    long_spread: u64,
) {
    // It counts everything the emulators hold: no other test may run meanwhile.
    let _alone = emulators_alone().await;
    let aws = aws().await;
    let proxy = Proxy::in_front_of_the_emulators();
    let base = unique_env(tag);
    let apply_args = |env: &str| -> Vec<String> {
        let mut args: Vec<String> = ["apply", stage, "--env", env, "--yes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for v in vars {
            args.extend(["--var".to_string(), v.to_string()]);
        }
        args
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ftctl_with(&args, &proxy.env())
    };
    let before = everything(&aws).await;

    // The uninterrupted run: what to converge to, and how many requests each command makes.
    proxy.reset();
    run(&apply_args(&base)).ok();
    let apply_requests = proxy.total();
    let want = inventory(&aws, &base).await;
    let applied = everything(&aws).await;
    proxy.reset();
    ftctl_with(&destroy_args(&base), &proxy.env()).ok();
    let destroy_requests = proxy.total();
    assert_eq!(everything(&aws).await, before);
    eprintln!("{stage}: apply {apply_requests} requests, destroy {destroy_requests}");

    // A deployment name per crash point: moto keeps a database's automated snapshot named
    // after the database and the minute, so one name cannot be made twice in a minute.
    for k in crash_points(apply_requests, spread, long_spread) {
        let env = format!("{base}a{k}");
        let apply = apply_args(&env);
        let apply_strs: Vec<&str> = apply.iter().map(String::as_str).collect();
        let killed = killed_at(&proxy, k, &apply_strs);
        release_killed_runs_lock(&env);
        proxy.reset();
        let done = run(&apply);
        assert_eq!(done.code, 0, "k={k}: {}\n{}", done.stdout, done.stderr);
        assert_eq!(
            inventory(&aws, &env).await,
            want,
            "apply killed at request {k}"
        );
        assert_eq!(
            everything(&aws).await,
            applied,
            "apply killed at request {k}"
        );
        if !killed {
            eprintln!("apply ended before request {k}");
        }
        ftctl_with(&destroy_args(&env), &proxy.env()).ok();
        assert_eq!(everything(&aws).await, before, "after apply killed at {k}");
    }

    for k in crash_points(destroy_requests, spread, long_spread) {
        let env = format!("{base}d{k}");
        let destroy = destroy_args(&env);
        proxy.reset();
        run(&apply_args(&env)).ok();
        killed_at(&proxy, k, &destroy);
        release_killed_runs_lock(&env);
        proxy.reset();
        let done = ftctl_with(&destroy, &proxy.env());
        assert_eq!(done.code, 0, "k={k}: {}\n{}", done.stdout, done.stderr);
        assert_eq!(
            leftovers(&aws, &env).await,
            Vec::<String>::new(),
            "destroy killed at {k}"
        );
        assert_eq!(
            everything(&aws).await,
            before,
            "destroy killed at request {k}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stage1_runs_killed_at_any_request_converge_when_run_again() {
    killed_runs_converge("k1", "stage1", &[], 8, 24).await;
}

/// Stage 3 has every kind (stage 1 and 2 included), as shipped: NAT gateways, VPC endpoints,
/// X-Ray, the cache's and the service's scaling targets.
#[tokio::test(flavor = "multi_thread")]
async fn stage3_runs_killed_at_any_request_converge_when_run_again() {
    killed_runs_converge("k3", "stage3", &[], 3, 6).await;
}

/// The least-privilege IAM policy of each stage, from the requests ftctl really makes through
/// the proxy (plan, apply, a no-op plan, an apply that changes a group, a listener port with its
/// ACL rule, the database's logs and parameters, publishing its metrics; status, check --live,
/// chaos list, a gray failure sent through Run Command and aborted by a stop condition, so that
/// its rollback cancels the command; a game day mailed, scheduled in AWS, collected and
/// unscheduled; destroy): rewrites docs/iam/<stage>.json. Run with `make
/// iam-policies`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/iam: make iam-policies"]
async fn iam_policies_are_written_from_the_calls_ftctl_makes() {
    let _emulators = emulators().await;
    let proxy = Proxy::in_front_of_the_emulators();
    // An alarm outside the deployment, in ALARM from the start: as a --stop-on it aborts the gray
    // failure at its first probe (the deployment itself stays steady), and rollback cancels.
    let aws = crate::support::aws().await;
    let stopper = unique_env("iam-stop");
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(&stopper)
        .namespace("ftctl/Test")
        .metric_name("Stop")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&stopper)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("iam policies: abort the gray failure")
        .send()
        .await
        .unwrap();
    for (n, stage) in ["stage1", "stage2", "stage3", "stage2-documents"]
        .into_iter()
        .enumerate()
    {
        // A name per stage: moto names a database's automated snapshot after it and the minute.
        let env = format!("{}s{n}", unique_env("iam"));
        proxy.reset();
        let reports = tempfile::tempdir().unwrap();
        let report_dir = reports.path().to_str().unwrap();
        let destroy = destroy_args(&env);
        let pause: &[&str] = &[
            "chaos",
            "pause-replication",
            "--env",
            &env,
            "--duration",
            "60",
            "--stop-on",
            &stopper,
            "--interval",
            "0.5",
            "--after-timeout",
            "1",
            "--converge-timeout",
            "5",
            "--report-dir",
            report_dir,
        ];
        let fixed: [&[&str]; 8] = [
            &["plan", stage, "--env", &env],
            &["apply", stage, "--env", &env, "--yes"],
            &["plan", stage, "--env", &env, "--detailed-exitcode"],
            &[
                "apply",
                stage,
                "--env",
                &env,
                "--yes",
                "--publish-metrics",
                "--var",
                "tiers.web.max_size=8",
                "--var",
                "load_balancers.public.port=8080",
                "--var",
                "databases.main.log_exports=[\"error\"]",
            ],
            &["status", "--env", &env, "--json"],
            &["check", stage, "--live", "--env", &env, "--json"],
            &["chaos", "list", "--env", &env],
            &[
                "chaos",
                "latency",
                "--env",
                &env,
                "--group",
                "web",
                "--duration",
                "60",
                "--stop-on",
                &stopper,
                "--interval",
                "0.5",
                "--after-timeout",
                "1",
                "--report-dir",
                report_dir,
            ],
        ];
        // A game day of one passing mode, mailed; then scheduled in AWS, collected, removed,
        // and scheduled again for destroy to remove.
        let (from, to) = (
            format!("ftctl-{env}@example.com"),
            format!("ops-{env}@example.com"),
        );
        aws.sesv2
            .create_email_identity()
            .email_identity(&from)
            .send()
            .await
            .unwrap();
        let verify: &[&str] = &[
            "verify",
            "--env",
            &env,
            "--only",
            "kill-instance web",
            "--interval",
            "0.5",
            "--settle",
            "1",
            "--report-dir",
            report_dir,
            "--mail-to",
            &to,
            "--mail-from",
            &from,
        ];
        let schedule: &[&str] = &[
            "verify",
            "--env",
            &env,
            "--schedule",
            "rate(7 days)",
            "--only",
            "kill-instance",
            "--yes",
        ];
        let collect: &[&str] = &["verify", "--env", &env, "--collect"];
        let unschedule: &[&str] = &["verify", "--env", &env, "--unschedule"];
        let mut runs: Vec<&[&str]> = fixed.to_vec();
        runs.extend([verify, schedule, collect, unschedule, schedule]);
        // Global tables (and so a replication to pause) from stage 2 on.
        if stage != "stage1" {
            runs.push(pause);
        }
        runs.push(&destroy);
        for args in runs {
            let run = ftctl_with(args, &proxy.env());
            // check exits 2 or 3 when controls fail (the account has no trail here); 1 is an
            // error, after which its calls would be missing from the policy.
            let fine = match (args[0], args.get(1).copied()) {
                ("check", _) => matches!(run.code, 0 | 2 | 3),
                // Aborted by the stop condition (2), its command cancelled.
                ("chaos", Some("latency" | "pause-replication")) => {
                    run.code == 2 && run.stdout.contains("stop condition")
                }
                _ => run.code == 0,
            };
            assert!(fine, "{args:?}: {}\n{}", run.stdout, run.stderr);
        }
        let actions = crate::support::iam::actions(&proxy.counts())
            .unwrap_or_else(|unknown| panic!("requests with no IAM action known: {unknown:?}"));
        let doc = crate::support::iam::policy(stage, &actions);
        let path = repo().join(format!("docs/iam/{stage}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        eprintln!("{}: {} actions", path.display(), actions.len());
    }
    let _ = aws
        .cloudwatch
        .delete_alarms()
        .alarm_names(&stopper)
        .send()
        .await;
}
