//! Test support: run the ftctl binary like a user would, and read back what the emulators hold
//! with the AWS SDK (the same endpoint variables ftctl uses).

pub mod iam;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

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

/// A deployment name no other test (in this process or another) uses: tag, process id, and a
/// process-wide count, so two tests with one tag do not drive the same deployment. Short:
/// ftctl takes at most 16 characters (src/expand.rs, `validate_env`) and the longest use,
/// the crash tests' "k1" + 5 + "x" + count + "a" + request number, needs 14.
pub fn unique_env(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}{}x{n}", std::process::id() % 100_000)
}

/// The emulators' shared state. Tests that count everything the emulators hold, whoever made
/// it (`resilience::everything`), take it for writing; every other test that touches the
/// emulators takes it for reading, so none makes or removes anything while a count runs.
/// Tokio's lock, so a waiting test does not block a runtime thread; it is fair, so a writer is
/// not starved by a stream of readers.
static EMULATORS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// For a test that uses the emulators: shared with every other such test, not with a count.
/// Checks they are configured first.
pub async fn emulators() -> tokio::sync::RwLockReadGuard<'static, ()> {
    require_emulators();
    EMULATORS.read().await
}

/// `emulators()` for a synchronous test.
pub fn emulators_blocking() -> tokio::sync::RwLockReadGuard<'static, ()> {
    require_emulators();
    EMULATORS.blocking_read()
}

/// For a test that counts everything the emulators hold: alone.
pub async fn emulators_alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    require_emulators();
    EMULATORS.write().await
}

/// This process's scratch directory: HOME and XDG_STATE_HOME of every ftctl the tests spawn,
/// so deployment locks (src/lock.rs: $XDG_STATE_HOME/ftctl/locks, else
/// ~/.local/state/ftctl/locks) and anything else ftctl keeps per user never reach the user's
/// own. Removed when the process exits.
pub fn scratch() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        extern "C" fn remove() {
            if let Some(dir) = DIR.get() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        let dir = std::env::temp_dir().join(format!("ftctl-test-{}", std::process::id()));
        // Left by a killed test process that had this pid: nothing in it is live.
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["home", "state"] {
            std::fs::create_dir_all(dir.join(sub)).expect("the test scratch directory");
        }
        // libtest ends with `process::exit`, which runs atexit handlers.
        unsafe { libc::atexit(remove) };
        dir
    })
}

/// Where ftctl keeps local deployment locks during this test process.
pub fn test_state_dir() -> PathBuf {
    scratch().join("state")
}

/// Points a command (ftctl, or a program that starts it) at this process's scratch instead of
/// the user's home and state, without colour.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env("HOME", scratch().join("home"))
        .env("XDG_STATE_HOME", test_state_dir())
        .env("NO_COLOR", "1")
        // The emulated load balancers' DNS names resolve nowhere: a chaos run sends load only
        // when a test names its own server with --load.
        .env("FTCTL_NO_LOAD", "1")
}

/// The binary under test: `FTCTL_BIN` when set (a build directory shared between checkouts can
/// be overwritten by another checkout's build while tests run), else cargo's.
pub fn ftctl_bin() -> PathBuf {
    std::env::var_os("FTCTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ftctl")))
}

/// The one way the tests start ftctl: in the repository (so `stage1` resolves), without a
/// terminal on stdin, kept out of the user's state (`hermetic`).
pub fn ftctl_command() -> Command {
    let mut cmd = Command::new(ftctl_bin());
    hermetic(&mut cmd).current_dir(repo()).stdin(Stdio::null());
    cmd
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

/// An ftctl command line as a test would type it, in the manner of just's `Test::new()`:
/// `Ftctl::new().args(["apply", "stage1", "--env", &env, "--yes"]).run().success()`. The
/// harness adds nothing to the arguments; it sets only the environment (the AWS-like proxy's
/// endpoints, the scratch HOME and state, NO_COLOR) and whatever the test passes with `env`.
#[derive(Clone, Default)]
pub struct Ftctl {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Ftctl {
    pub fn new() -> Ftctl {
        Ftctl::default()
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Ftctl {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// `--var ASSIGNMENT`.
    pub fn var(self, assignment: &str) -> Ftctl {
        self.args(["--var", assignment])
    }

    pub fn env(mut self, key: &str, value: &str) -> Ftctl {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn envs(self, env: &[(&str, &str)]) -> Ftctl {
        env.iter().fold(self, |cmd, (k, v)| cmd.env(k, v))
    }

    /// The command line, as a user would type it: the variables the test set (endpoints
    /// summarised), then `ftctl` and its arguments, quoted where a shell needs it.
    pub fn command_line(&self) -> String {
        let quote = |s: &str| {
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        };
        let mut words: Vec<String> = Vec::new();
        let mut endpoints = 0;
        for (k, v) in &self.env {
            if k.starts_with("AWS_ENDPOINT_URL") {
                endpoints += 1;
            } else {
                words.push(format!("{k}={}", quote(v)));
            }
        }
        if endpoints > 0 {
            words.insert(0, format!("[{endpoints} AWS_ENDPOINT_URL* set]"));
        }
        words.push("ftctl".to_string());
        words.extend(self.args.iter().map(|a| quote(a)));
        words.join(" ")
    }

    /// The process, ready to spawn (the test may change its pipes).
    pub fn command(&self) -> Command {
        let mut cmd = ftctl_command();
        if let Some(proxy) = aws_like() {
            cmd.envs(proxy.env());
        }
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts it in the background, output piped; `finish` the child for its `Run`.
    pub fn spawn(&self) -> (String, std::process::Child) {
        let line = self.command_line();
        eprintln!("$ {line} &");
        let child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ftctl starts");
        (line, child)
    }

    /// Runs it to the end, printing the command line first (shown with a failing test).
    pub fn run(&self) -> Run {
        let line = self.command_line();
        eprintln!("$ {line}");
        Run::from(line, self.command().output().expect("ftctl runs"))
    }
}

pub struct Run {
    /// The command line that ran (`Ftctl::command_line`), for failure messages.
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(command: String, out: Output) -> Run {
        Run {
            command,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n$ {}\nexit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Exit code 0.
    #[track_caller]
    pub fn success(self) -> Run {
        if self.code != 0 {
            self.fail("ftctl failed");
        }
        self
    }

    /// `success`, under the name the tests used before the builder.
    #[track_caller]
    pub fn ok(self) -> Run {
        self.success()
    }

    /// Exit code `code`.
    #[track_caller]
    pub fn failure(self, code: i32) -> Run {
        if self.code != code {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        if !self.stdout.contains(text) {
            self.fail(&format!("stdout lacks {text:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        if !self.stderr.contains(text) {
            self.fail(&format!("stderr lacks {text:?}"));
        }
        self
    }
}

/// Waits for a child `Ftctl::spawn` started, off the runtime's threads.
/// Asks `check` every 100 ms until it answers `Some`, at most `tries` times: for what a
/// background ftctl is expected to do soon.
pub async fn until<T, F, Fut>(tries: usize, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..tries {
        if let Some(found) = check().await {
            return Some(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

pub async fn finish((command, child): (String, std::process::Child)) -> Run {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("ftctl ends"))
        .await
        .unwrap();
    Run::from(command, out)
}

/// `ftctl ARGS`: `Ftctl::new().args(args).run()`.
pub fn ftctl(args: &[&str]) -> Run {
    Ftctl::new().args(args).run()
}

/// `ftctl ARGS` with `env` set.
pub fn ftctl_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    Ftctl::new().args(args).envs(env).run()
}

/// A deployment a test makes, destroyed (with whatever it protects, no final snapshots) when
/// dropped, so a test that fails half-way leaves nothing in the emulators, which slow as state
/// accumulates. A destroy that fails is reported, and fails the test if it was passing.
pub struct TestDeployment {
    pub env: String,
    pub region: Option<&'static str>,
    /// Nothing is destroyed until the test may have created something (`created`).
    made: bool,
}

impl TestDeployment {
    /// A fresh name (`unique_env(tag)`); nothing made yet.
    pub fn new(tag: &str) -> TestDeployment {
        TestDeployment::named(&unique_env(tag))
    }

    /// Another deployment of an existing name (the same name in another region, say).
    pub fn named(env: &str) -> TestDeployment {
        TestDeployment {
            env: env.to_string(),
            region: None,
            made: false,
        }
    }

    pub fn in_region(mut self, region: &'static str) -> TestDeployment {
        self.region = Some(region);
        self
    }

    /// The test is about to run something that may create resources.
    pub fn created(&mut self) -> &str {
        self.made = true;
        &self.env
    }

    /// The test destroyed it itself (and checked what was left): nothing to do on drop.
    pub fn destroyed(&mut self) {
        self.made = false;
    }

    /// The destroy the drop runs.
    pub fn destroy(&self) -> Ftctl {
        let mut cmd = Ftctl::new().args([
            "destroy",
            "--env",
            &self.env,
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
            "--delete-evidence",
        ]);
        if let Some(region) = self.region {
            cmd = cmd.args(["--region", region]);
        }
        cmd
    }
}

impl Drop for TestDeployment {
    fn drop(&mut self) {
        if !self.made {
            return;
        }
        let run = self.destroy().run();
        if run.code != 0 {
            if std::thread::panicking() {
                eprintln!("cleanup of {} failed too:\n{}", self.env, run.stderr);
            } else {
                run.fail(&format!("destroy of {} failed", self.env));
            }
        }
    }
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
    pub docdb: aws_sdk_docdb::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
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
    pub ssm: aws_sdk_ssm::Client,
    pub fis: aws_sdk_fis::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub sesv2: aws_sdk_sesv2::Client,
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
        docdb: aws_sdk_docdb::Client::new(&conf),
        cloudfront: aws_sdk_cloudfront::Client::new(&conf),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
        sns: aws_sdk_sns::Client::new(&conf),
        sqs: aws_sdk_sqs::Client::new(&conf),
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
        ssm: aws_sdk_ssm::Client::new(&conf),
        fis: aws_sdk_fis::Client::new(&conf),
        scheduler: aws_sdk_scheduler::Client::new(&conf),
        sesv2: aws_sdk_sesv2::Client::new(&conf),
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
        "--delete-evidence",
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
    // Buckets the deployment still owns (by tag), its evidence bucket among them: an audit
    // bucket kept on destroy is handed over (tagged ftctl:retained-from) and is not a leftover.
    let buckets = aws.s3.list_buckets().send().await.unwrap();
    for name in buckets
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|n| n.starts_with(&prefix))
    {
        let owned = match aws.s3.get_bucket_tagging().bucket(name).send().await {
            Ok(t) => t.tag_set().iter().any(|t| {
                matches!(t.key(), "ftctl:deployment" | "ftctl:evidence-of") && t.value() == env
            }),
            Err(_) => true,
        };
        if owned {
            left.push(format!("bucket {name}"));
        }
    }
    let docdb_only = || {
        aws_sdk_docdb::types::Filter::builder()
            .name("engine")
            .values("docdb")
            .build()
    };
    let documents = aws
        .docdb
        .describe_db_clusters()
        .filters(docdb_only())
        .send()
        .await
        .unwrap();
    left.extend(
        documents
            .db_clusters()
            .iter()
            .filter_map(|c| c.db_cluster_identifier())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("docdb-cluster {n}")),
    );
    let document_instances = aws
        .docdb
        .describe_db_instances()
        .filters(docdb_only())
        .send()
        .await
        .unwrap();
    left.extend(
        document_instances
            .db_instances()
            .iter()
            .filter(|d| d.engine() == Some("docdb"))
            .filter_map(|d| d.db_instance_identifier())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("docdb-instance {n}")),
    );
    let document_groups = aws
        .docdb
        .describe_db_cluster_parameter_groups()
        .send()
        .await
        .unwrap();
    left.extend(
        document_groups
            .db_cluster_parameter_groups()
            .iter()
            .filter_map(|g| g.db_cluster_parameter_group_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("docdb-parameter-group {n}")),
    );
    let queues = aws
        .sqs
        .list_queues()
        .queue_name_prefix(&prefix)
        .send()
        .await
        .unwrap();
    left.extend(queues.queue_urls().iter().map(|url| format!("queue {url}")));
    // CloudFront is global: the deployment's names start with its own.
    let distributions = aws.cloudfront.list_distributions().send().await.unwrap();
    left.extend(
        distributions
            .distribution_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .filter(|d| d.comment().starts_with(&prefix))
            .map(|d| format!("distribution {}", d.id())),
    );
    let controls = aws
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    left.extend(
        controls
            .origin_access_control_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .filter(|c| c.name().starts_with(&prefix))
            .map(|c| format!("origin-access-control {}", c.id())),
    );
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
            "AWS_ENDPOINT_URL_SSM",
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
/// so breaching data another test put in for its own deployment (monitoring.rs) also
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

/// The harness keeps ftctl out of the user's own state (~/.local/state/ftctl, where earlier
/// crash tests left over a thousand lock files): ftctl started by the builder names a lock
/// file in this process's scratch directory.
#[test]
fn ftctl_keeps_its_locks_in_the_test_scratch() {
    let no_aws = NoAws::new();
    let env = unique_env("hm");
    let run = Ftctl::new()
        .args(["force-unlock", "--env", &env])
        .envs(&no_aws.env())
        .run()
        .success();
    let want = test_state_dir().join(format!("ftctl/locks/us-east-1--{env}.json"));
    run.stdout_has(&format!("(lock file {})", want.display()));
    no_aws.assert_untouched();
}

/// And no test starts ftctl another way: every process the tests start that runs ftctl comes
/// from `ftctl_command` (which applies `hermetic`), or applies `hermetic` itself. A source
/// check, because a stray `Command::new` would write into the user's state only on the
/// machines where the test runs without XDG_STATE_HOME and HOME already pointing elsewhere.
#[test]
fn every_ftctl_the_tests_start_is_hermetic() {
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&repo().join("tests"), &mut files);
    sources(&repo().join("benches"), &mut files);
    let this = repo().join("tests/it/support/mod.rs");
    let mut stray = Vec::new();
    for file in files.iter().filter(|f| **f != this) {
        let text = std::fs::read_to_string(file).unwrap();
        let bypasses = text.contains("CARGO_BIN_EXE_ftctl")
            || text.contains("Command::new(ftctl_bin")
            || (text.contains("ftctl_bin()") && !text.contains("hermetic("));
        if bypasses {
            stray.push(file.display().to_string());
        }
    }
    assert!(
        stray.is_empty(),
        "these start ftctl without `ftctl_command` or `hermetic`: {stray:?}"
    );
}

/// The messages ministack's SES has accepted (its `/_ministack/ses/messages` inspection
/// endpoint), as JSON objects with `Source`, `To`, `Subject`, `BodyText`, `BodyHtml`.
pub fn sent_mail() -> Vec<serde_json::Value> {
    let base = std::env::var("FTCTL_MINISTACK_URL").expect("FTCTL_MINISTACK_URL");
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("{base}/_ministack/ses/messages")])
        .output()
        .expect("curl");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    doc["messages"]
        .as_object()
        .map(|by_account| {
            by_account
                .values()
                .filter_map(|v| v.as_array())
                .flatten()
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}
