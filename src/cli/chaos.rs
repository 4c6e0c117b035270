//! The options of `ftctl chaos ...` and `ftctl verify`: which deployment, how an experiment
//! runs, each fault's own arguments, the FIS export, and the game day around them.

use super::*;

#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Region to look in; defaults to the AWS configuration.
    #[arg(long)]
    pub region: Option<String>,
}

/// `ftctl verify`: the experiments' own options apply to each of them.
#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Only this failure mode (`kill-az us-east-1a`), or every mode of an experiment
    /// (`kill-az`) (repeatable).
    #[arg(long, value_name = "MODE")]
    pub only: Vec<String>,
    /// Only the failure modes without valid passing evidence: never run, failed, or proven on
    /// a configuration that has changed since.
    #[arg(long)]
    pub stale: bool,
    /// Go on after a failure (by default the first failure stops the game day).
    #[arg(long)]
    pub keep_going: bool,
    /// Seconds to wait for steady state before each experiment.
    #[arg(long, default_value_t = 600.0, value_parser = non_negative_seconds)]
    pub steady_timeout: f64,
    /// Send the report to this address through Amazon SES (repeatable; needs --mail-from).
    #[arg(long, value_name = "ADDRESS", value_parser = email, requires = "mail_from")]
    pub mail_to: Vec<String>,
    /// The SES-verified identity the report is sent from.
    #[arg(long, value_name = "ADDRESS", value_parser = email)]
    pub mail_from: Option<String>,
    /// Instead of running now: have AWS run the selected failure modes on this schedule
    /// (`rate(7 days)`, `cron(0 9 ? * MON *)`) as FIS experiments started by EventBridge
    /// Scheduler, with an FIS role allowed only their actions. Replaces an earlier schedule.
    #[arg(long, value_name = "EXPRESSION", conflicts_with_all = ["unschedule", "collect"])]
    pub schedule: Option<String>,
    /// Seconds between the first runs of two scheduled failure modes, so none overlap.
    #[arg(long, default_value_t = 3600.0, value_parser = positive_seconds)]
    pub stagger: f64,
    /// Remove what --schedule made: the schedules, the FIS templates and both roles.
    #[arg(long, conflicts_with = "collect")]
    pub unschedule: bool,
    /// Read the scheduled FIS experiments that have finished back into evidence.
    #[arg(long)]
    pub collect: bool,
}

/// An e-mail address, checked before any AWS call.
fn email(s: &str) -> Result<String, String> {
    if crate::stack::looks_like_email(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an e-mail address"))
    }
}

/// Options every experiment takes.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the exact targets and actions, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation against a non-loopback endpoint (required without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Recovery budget in seconds; by default the tightest window of the alarms guarding what
    /// the experiment touches (period × evaluation periods).
    #[arg(long, value_parser = positive_seconds)]
    pub budget: Option<f64>,
    /// Abort and roll back when this alarm (name or ftctl logical id) goes to ALARM (repeatable).
    #[arg(long = "stop-on", value_name = "ALARM")]
    pub stop_on: Vec<String>,
    /// Where the journal, report and timeline go [default: chaos-reports/ENV-EXPERIMENT-TIME].
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Print the journal as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Progress on stderr without a journal on stdout: `verify --json` prints one document.
    #[arg(skip)]
    pub progress_to_stderr: bool,
    /// Seconds between probes.
    #[arg(long, default_value_t = 1.0, value_parser = positive_seconds)]
    pub interval: f64,
    /// Seconds steady state must hold before it counts as recovered.
    #[arg(long, default_value_t = 10.0, value_parser = non_negative_seconds)]
    pub settle: f64,
    /// Seconds to wait for steady state after rollback [default: the budget].
    #[arg(long, value_parser = non_negative_seconds)]
    pub after_timeout: Option<f64>,
    /// Also publish the result as CloudWatch metrics in namespace ftctl/Chaos.
    #[arg(long)]
    pub publish_metrics: bool,
    /// Send steady GET requests to this URL during the steady-state check, the fault and the
    /// recovery, and judge the run by what users felt too [default: the deployment's public
    /// endpoint, when it has one].
    #[arg(long, value_name = "URL")]
    pub load: Option<String>,
    /// No load, even to the public endpoint (FTCTL_NO_LOAD=1 sets it for every run; an
    /// explicit --load still sends).
    #[arg(long, env = "FTCTL_NO_LOAD", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_load: bool,
    /// Load requests per second.
    #[arg(long, default_value_t = 10.0, value_parser = load_rate)]
    pub load_rate: f64,
    /// Seconds a load request may take before it counts as failed.
    #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
    pub load_timeout: f64,
    /// The share of load requests (0 to 1) that may fail during the fault; more fails the run
    /// as USERS NOTICED even when the deployment healed in time.
    #[arg(long, value_parser = share)]
    pub max_error_rate: Option<f64>,
    /// The p99 latency (ms) load requests may reach during the fault.
    #[arg(long, value_parser = positive_seconds)]
    pub max_p99_ms: Option<f64>,
    /// Write sequence-numbered marker items into the deployment's DynamoDB tables during the
    /// run and read them back in every region afterwards: the data lost (RPO) and how long the
    /// replicas took to catch up, measured [default: on for pause-replication].
    #[arg(long, conflicts_with = "no_markers")]
    pub markers: bool,
    /// No marker writes, even for pause-replication.
    #[arg(long)]
    pub no_markers: bool,
    /// Marker writes per second per table.
    #[arg(long, default_value_t = 5.0, value_parser = marker_rate)]
    pub marker_rate: f64,
    /// Seconds to wait after the fault for every region to hold every acknowledged marker.
    #[arg(long, default_value_t = 300.0, value_parser = non_negative_seconds)]
    pub converge_timeout: f64,
    /// Recovery point objective in seconds: the run fails when more than this span of
    /// acknowledged writes is missing in any region [default: none may be missing].
    #[arg(long, value_parser = non_negative_seconds)]
    pub rpo_seconds: Option<f64>,
    /// An experiment holds the deployment's lock, as apply does: neither runs under the other.
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args, Clone)]
pub struct InstanceArgs {
    /// Tier (or group name) to take instances from (repeatable) [default: every tier].
    #[arg(long = "group", value_name = "TIER")]
    pub groups: Vec<String>,
    /// Instances to terminate per tier [default: 1].
    #[arg(long, conflicts_with = "percent", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Percentage of each tier's running instances to terminate (rounded up; 100 takes all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percent: Option<u32>,
    /// Terminate exactly this instance (repeatable); it must belong to the deployment.
    #[arg(long = "instance", value_name = "ID", conflicts_with_all = ["groups", "count", "percent"])]
    pub instances: Vec<String>,
    /// Orders the candidates, so a run can be repeated exactly [default: derived from the
    /// deployment and its running instances, so a dry run names what the run will touch].
    #[arg(long)]
    pub seed: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct AzArgs {
    /// The zone to lose [default: the one holding the most running instances].
    #[arg(long)]
    pub az: Option<String>,
    /// Seconds the zone stays lost (its subnets cut off, groups kept out) before ftctl puts it
    /// back [default: the budget].
    #[arg(long, value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// terminate: the zone is gone; stop: a power interruption (started again on rollback).
    #[arg(long, value_enum, default_value_t = AzMode::Terminate)]
    pub mode: AzMode,
}

/// The command line's spelling of `chaos::design::AzMode` (the core knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AzMode {
    Terminate,
    Stop,
}

impl From<AzMode> for crate::chaos::design::AzMode {
    fn from(mode: AzMode) -> Self {
        match mode {
            AzMode::Terminate => Self::Terminate,
            AzMode::Stop => Self::Stop,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database (stack name or identifier) to fail over (repeatable) [default: every Multi-AZ one].
    #[arg(long = "db", value_name = "NAME")]
    pub databases: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct DocsArgs {
    /// Document database (stack name or cluster identifier) to fail over (repeatable)
    /// [default: every one with a replica].
    #[arg(long = "docs", value_name = "NAME")]
    pub documents: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct TaskArgs {
    /// Service (stack name or ECS name) to stop tasks of (repeatable) [default: every one].
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Tasks to stop per service [default: 1]; at least one always keeps running.
    #[arg(long, conflicts_with = "percent", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Share of each service's running tasks to stop (rounded up; never all of them).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub percent: Option<u32>,
    /// Orders the tasks to choose from, so a run can be repeated exactly [default: derived
    /// from the deployment and its running tasks].
    #[arg(long)]
    pub seed: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CacheArgs {
    /// Cache (stack name or replication group id) to fail over (repeatable) [default: every one].
    #[arg(long = "cache", value_name = "NAME")]
    pub caches: Vec<String>,
    /// Only this shard (node group id such as 0001) [default: every shard].
    #[arg(long)]
    pub shard: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// The experiments this deployment supports, with their targets and budgets.
    List {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long)]
        json: bool,
        /// Also write each experiment as a scenario file in DIR (for `chaos run`), to start from.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Run a scenario file: ftctl's faults in sequence or in parallel, against targets named by
    /// logical id, judged as one experiment (see docs/chaos-guide.md, "Scenarios").
    Run {
        #[command(flatten)]
        run: RunArgs,
        /// The scenario (TOML).
        file: PathBuf,
    },
    /// Terminate instances of the deployment's groups.
    KillInstance {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        instances: InstanceArgs,
    },
    /// Lose one availability zone: its instances die and groups cannot launch there.
    KillAz {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        az: AzArgs,
    },
    /// Fail a Multi-AZ database over to its standby.
    RdsFailover {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Fail a DocumentDB cluster over to a replica (FailoverDBCluster).
    DocdbFailover {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        docs: DocsArgs,
    },
    /// Stop tasks of an ECS service and measure how fast it runs its desired count again.
    KillTask {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        task: TaskArgs,
    },
    /// Fail a Redis cache's primaries over to replicas (ElastiCache TestFailover).
    CacheFailover {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Stop the experiment running on the deployment (from any terminal or machine that sees
    /// its lock) and wait while it rolls back.
    Abort {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        lock: LockArgs,
        /// Seconds to wait for the experiment to finish rolling back and release its lock.
        #[arg(long, default_value_t = 600.0, value_parser = non_negative_seconds)]
        wait: f64,
    },
    /// Gray failure: add latency and jitter to what a share of a tier's instances send, for a
    /// while, through Systems Manager (AWSFIS-Run-Network-Latency-Sources). Steady state must hold.
    Latency {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        latency: LatencyArgs,
    },
    /// Gray failure: drop a share of the packets a share of a tier's instances send, for a while,
    /// through Systems Manager (AWSFIS-Run-Network-Packet-Loss-Sources). Steady state must hold.
    PacketLoss {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        loss: LossArgs,
    },
    /// Gray failure: load the CPUs of a share of a tier's instances, for a while, through
    /// Systems Manager (AWSFIS-Run-CPU-Stress). Steady state must hold.
    CpuStress {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        cpu: CpuArgs,
    },
    /// Lost replication: pause a DynamoDB global table's replication to its replicas for a while
    /// (a resource-policy deny of the replication role, as FIS's
    /// aws:dynamodb:global-table-pause-replication), then resume it and measure how long the
    /// replicas take to catch up. Steady state must hold.
    PauseReplication {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        replication: ReplicationArgs,
    },
    /// Print an experiment as an AWS Fault Injection Service experiment template (JSON).
    ExportFis {
        #[command(subcommand)]
        experiment: FisExperiment,
    },
}

/// Which replicas lose replication, and for how long.
#[derive(Debug, Args, Clone)]
pub struct ReplicationArgs {
    /// Global table (stack name or table name) to pause (repeatable) [default: every one].
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// Replica region to cut off (repeatable) [default: every replica].
    #[arg(long = "replica", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Seconds replication stays paused, 60 to 3600 (a replica paused for 20 hours is
    /// converted to a single-Region table for good).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(60..=3600))]
    pub duration: u32,
}

#[derive(Debug, Args, Clone)]
pub struct FisArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The IAM role FIS runs the experiment as.
    #[arg(long)]
    pub role_arn: String,
    /// Extra stop-condition alarms (name or ftctl logical id).
    #[arg(long = "stop-on", value_name = "ALARM")]
    pub stop_on: Vec<String>,
}

/// Which instances a gray failure hits, and for how long.
#[derive(Debug, Args, Clone)]
pub struct ShareArgs {
    /// Tier (or group name) to degrade (repeatable) [default: every tier Systems Manager reaches].
    #[arg(long = "group", value_name = "TIER")]
    pub groups: Vec<String>,
    /// Instances to degrade per tier [default: 1].
    #[arg(long, conflicts_with = "percent", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Percentage of each tier's running instances to degrade (rounded up; 100 takes all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percent: Option<u32>,
    /// Orders the candidates, so a run can be repeated exactly [default: derived from the
    /// deployment and its running instances, so a dry run names what the run will touch].
    #[arg(long)]
    pub seed: Option<String>,
    /// Seconds the fault lasts (the document's DurationSeconds), 60 to 43200 (an FIS action's range).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(60..=43_200))]
    pub duration: u32,
}

#[derive(Debug, Args, Clone)]
pub struct LatencyArgs {
    /// Delay added to every packet, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub delay_ms: u32,
    /// Jitter around the delay, in milliseconds (at most the delay).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub jitter_ms: u32,
}

#[derive(Debug, Args, Clone)]
pub struct LossArgs {
    /// Percentage of packets dropped.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub loss_percent: u32,
}

#[derive(Debug, Args, Clone)]
pub struct CpuArgs {
    /// Target CPU load, in percent of every vCPU.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub load_percent: u32,
}

#[derive(Debug, Subcommand)]
pub enum FisExperiment {
    KillInstance {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        instances: InstanceArgs,
    },
    KillAz {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        az: AzArgs,
    },
    RdsFailover {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    Latency {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        latency: LatencyArgs,
    },
    PacketLoss {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        loss: LossArgs,
    },
    CpuStress {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        cpu: CpuArgs,
    },
    PauseReplication {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        replication: ReplicationArgs,
    },
    KillTask {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        task: TaskArgs,
    },
    CacheFailover {
        #[command(flatten)]
        fis: FisArgs,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// A scenario file: each later step waits (aws:fis:wait) for its `at`.
    Run {
        #[command(flatten)]
        fis: FisArgs,
        /// The scenario (TOML).
        file: PathBuf,
    },
}
