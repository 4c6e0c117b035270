//! The databases of a stack (RDS databases): their settings in the stack file, what is checked of
//! them beyond what the types say, the resources they expand into and, where they have metrics
//! worth watching, their rows on the dashboard.

use super::monitoring::{metric, Row};
use super::{alarm, tcp_rule_from_sg, AlarmDef, Component, Cx, TOPIC};
use crate::deployment::{global_name, physical_name};
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Mysql,
    Postgres,
}

impl Engine {
    pub fn as_aws(self) -> &'static str {
        match self {
            Engine::Mysql => "mysql",
            Engine::Postgres => "postgres",
        }
    }
    /// The engine RDS names `engine` (`mysql`, `postgres`), when it is one ftctl makes.
    pub fn from_aws(engine: &str) -> Option<Engine> {
        [Engine::Mysql, Engine::Postgres]
            .into_iter()
            .find(|e| e.as_aws() == engine)
    }
    /// The logs Security Hub's RDS.9 wants exported for the engine (AWS Config rule
    /// rds-logging-enabled).
    pub fn logs_security_hub_wants(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &["audit", "error", "general", "slowquery"],
            Engine::Postgres => &["postgresql", "upgrade"],
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            Engine::Mysql => 3306,
            Engine::Postgres => 5432,
        }
    }
    /// The log types RDS can export for the engine (RDS API reference, CreateDBInstance,
    /// EnableCloudwatchLogsExports), and those ftctl exports unless told otherwise.
    pub fn log_types(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &[
                "audit",
                "error",
                "general",
                "slowquery",
                "iam-db-auth-error",
            ],
            Engine::Postgres => &["postgresql", "upgrade", "iam-db-auth-error"],
        }
    }
    pub fn default_log_exports(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => &["error", "slowquery"],
            Engine::Postgres => &["postgresql", "upgrade"],
        }
    }
    /// The parameter group family of a version: `mysql8.4`, `postgres16` (RDS API reference,
    /// CreateDBParameterGroup: "RDS for MySQL Example: mysql8.0").
    pub fn parameter_family(self, version: &str) -> String {
        let major = crate::resource::major_version(version);
        match self {
            Engine::Mysql => format!("mysql{major}"),
            Engine::Postgres => format!("postgres{major}"),
        }
    }
    pub fn default_version(self) -> &'static str {
        match self {
            // MySQL 8.0 left RDS standard support on 2026-07-31 (later creations are billed
            // Extended Support); 8.4 is the current long-term release.
            Engine::Mysql => "8.4",
            Engine::Postgres => "16",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub engine: Engine,
    #[serde(default)]
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub allocated_storage_gb: u32,
    #[serde(default = "yes")]
    pub multi_az: bool,
    #[serde(default = "default_backup_days")]
    pub backup_retention_days: u32,
    #[serde(default = "yes")]
    pub deletion_protection: bool,
    /// Let RDS keep running a major version past its end of standard support, billed as RDS
    /// Extended Support. Off: creating such a database fails instead of costing more.
    #[serde(default)]
    pub extended_support: bool,
    #[serde(default = "default_master_user")]
    pub master_username: String,
    /// Tiers allowed to connect.
    #[serde(default)]
    pub allow_from: Vec<String>,
    #[serde(default = "default_db_cpu")]
    pub cpu_alarm_percent: f64,
    /// Free storage, as a percentage of allocated storage, below which it alarms.
    #[serde(default = "default_db_free")]
    pub free_storage_alarm_percent: f64,
    #[serde(default = "five_minute_alarm")]
    pub alarm: AlarmPolicy,
    /// IAM database authentication (Security Hub RDS.10): clients may sign in with short-lived
    /// IAM tokens instead of a stored password.
    #[serde(default = "yes")]
    pub iam_auth: bool,
    /// Logs exported to CloudWatch Logs (RDS.9). Default: MySQL `error` and `slowquery`,
    /// PostgreSQL `postgresql` and `upgrade`. MySQL's `general` log records every statement
    /// (CloudWatch Logs ingestion is billed per GB); its `audit` log needs the MariaDB audit
    /// plugin's option group, which ftctl does not make.
    #[serde(default)]
    pub log_exports: Option<Vec<String>>,
    /// A daily AWS Backup of the database into the deployment's vault, kept as long as the
    /// automated backups (RDS.26): a copy outside the database's own retention, that survives
    /// its deletion. On by default; AWS Backup bills the snapshot storage (about $0.095 per
    /// GB-month, incremental after the first).
    #[serde(default = "yes")]
    pub aws_backup: bool,
}

impl Database {
    pub fn log_exports(&self) -> Vec<String> {
        match &self.log_exports {
            Some(l) => l.clone(),
            None => self
                .engine
                .default_log_exports()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

fn default_backup_days() -> u32 {
    7
}
fn default_master_user() -> String {
    "ftctl_admin".into()
}
fn default_db_cpu() -> f64 {
    80.0
}
fn default_db_free() -> f64 {
    10.0
}

/// The RDS databases, their parameter and subnet groups, alarms, and AWS Backup for them.
pub(crate) struct Databases;

impl Component for Databases {
    /// Reports each problem of the stack's databases as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        for (name, db) in &stack.databases {
            let at = format!("databases.{name}");
            if !valid_component_name(name) {
                bad(
                    at.clone(),
                    "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
                );
            }
            let exports = db.log_exports();
            for (i, e) in exports.iter().enumerate() {
                let types = db.engine.log_types();
                if exports[..i].contains(e) {
                    bad(
                        format!("{at}.log_exports.{i}"),
                        format!("`{e}` is listed twice"),
                    );
                } else if e == "audit" && db.engine == Engine::Mysql {
                    bad(
                        format!("{at}.log_exports.{i}"),
                        "MySQL's audit log needs an option group with the MariaDB audit plugin, which \
                         ftctl does not make: RDS would export an empty log"
                            .into(),
                    );
                } else if !types.contains(&e.as_str()) {
                    bad(
                        format!("{at}.log_exports.{i}"),
                        format!(
                            "`{e}` is not a log RDS exports for {}; known: {}",
                            db.engine.as_aws(),
                            types.join(", ")
                        ),
                    );
                }
            }
            if !db.instance_class.starts_with("db.") {
                bad(
                    format!("{at}.instance_class"),
                    format!(
                        "`{}` is not a DB instance class such as db.t3.medium",
                        db.instance_class
                    ),
                );
            }
            if !(20..=65536).contains(&db.allocated_storage_gb) {
                bad(
                    format!("{at}.allocated_storage_gb"),
                    "must be between 20 and 65536".into(),
                );
            }
            if db.backup_retention_days < 7 || db.backup_retention_days > 35 {
                bad(
                    format!("{at}.backup_retention_days"),
                    "must be between 7 and 35 days (point-in-time recovery needs a week at least)"
                        .into(),
                );
            }
            let user = &db.master_username;
            if user.is_empty()
                || user.len() > 16
                || !user.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || ["admin", "root", "rdsadmin", "postgres"].contains(&user.as_str())
            {
                bad(
                    format!("{at}.master_username"),
                    "1-16 letters, digits or _, starting with a letter, and not a reserved name"
                        .into(),
                );
            }
            for (i, tier) in db.allow_from.iter().enumerate() {
                if !stack.tiers.contains_key(tier) {
                    bad(
                        format!("{at}.allow_from.{i}"),
                        format!("no tier named `{tier}`"),
                    );
                }
            }
            if !(1.0..=100.0).contains(&db.cpu_alarm_percent) {
                bad(
                    format!("{at}.cpu_alarm_percent"),
                    "must be between 1 and 100".into(),
                );
            }
            if !(1.0..=90.0).contains(&db.free_storage_alarm_percent) {
                bad(
                    format!("{at}.free_storage_alarm_percent"),
                    "must be between 1 and 90".into(),
                );
            }
            check_policy(bad, &format!("{at}.alarm"), db.alarm);
        }
    }

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack, env, region, ..
        } = *cx;
        let (private_ids, topic) = (&cx.private_subnets, TOPIC);
        // AWS Backup: one vault, one plan, one role for every database that asks for it.
        let backed_up: Vec<(&String, &crate::stack::Database)> = stack
            .databases
            .iter()
            .filter(|(_, db)| db.aws_backup)
            .collect();
        if !backed_up.is_empty() {
            let keep_days = backed_up
                .iter()
                .map(|(_, db)| db.backup_retention_days)
                .max()
                .unwrap_or_default();
            out.extend([
                ResourceSpec::new(BACKUP_VAULT, Kind::BackupVault, backup_vault_name(env)),
                ResourceSpec::new(
                    BACKUP_ROLE,
                    Kind::IamRole,
                    global_name(env, region, "backup", 64),
                )
                .with("trust_service", Val::str("backup.amazonaws.com"))
                .with(
                    "managed_policies",
                    Val::list([Val::str(BACKUP_SERVICE_POLICY)]),
                )
                .with("statements", Val::List(Vec::new())),
                ResourceSpec::new(
                    "backup.plan",
                    Kind::BackupPlan,
                    physical_name(env, "databases", BACKUP_NAME_MAX),
                )
                .with("vault_name", Val::reference(BACKUP_VAULT, "name"))
                // 05:00 UTC daily, as AWS Backup's own default plans.
                .with("schedule", Val::str("cron(0 5 ? * * *)"))
                .with("delete_after_days", Val::Int(keep_days.into()))
                .with("iam_role_arn", Val::reference(BACKUP_ROLE, "arn"))
                .with(
                    "resources",
                    Val::list(
                        backed_up
                            .iter()
                            .map(|(name, _)| Val::reference(format!("db.{name}"), "arn")),
                    ),
                ),
            ]);
        }
        for (name, db) in &stack.databases {
            let sg = format!("db.{name}.sg");
            let port = db.engine.default_port();
            out.push(
                ResourceSpec::new(
                    &sg,
                    Kind::SecurityGroup,
                    physical_name(env, &format!("{name}-db"), 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: database {name}")),
                )
                .with(
                    "ingress",
                    Val::List(
                        db.allow_from
                            .iter()
                            .map(|t| tcp_rule_from_sg(port, &format!("tier.{t}.sg")))
                            .collect(),
                    ),
                ),
            );
            let subnet_group = format!("db.{name}.subnets");
            out.push(
                ResourceSpec::new(
                    &subnet_group,
                    Kind::DbSubnetGroup,
                    physical_name(env, &format!("{name}-db"), 255),
                )
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: private subnets of database {name}")),
                )
                .with(
                    "subnet_ids",
                    Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
                ),
            );
            let version = db
                .engine_version
                .clone()
                .unwrap_or_else(|| db.engine.default_version().to_string());
            let family = db.engine.parameter_family(&version);
            let mut exports = db.log_exports();
            exports.sort();
            // TLS required of every client (Security Hub RDS.38/RDS.39), and the logs exported
            // actually written: MySQL writes its general and slow query logs only when asked to, to
            // a file for RDS to ship (RDS User Guide, "Publishing MySQL logs to CloudWatch Logs").
            let mut parameters: Vec<(&str, Val)> = Vec::new();
            match db.engine {
                crate::stack::Engine::Mysql => {
                    parameters.push(("require_secure_transport", Val::str("1")));
                    if exports.iter().any(|e| e == "slowquery") {
                        parameters.push(("slow_query_log", Val::str("1")));
                    }
                    if exports.iter().any(|e| e == "general") {
                        parameters.push(("general_log", Val::str("1")));
                    }
                    if exports.iter().any(|e| e == "slowquery" || e == "general") {
                        parameters.push(("log_output", Val::str("FILE")));
                    }
                }
                crate::stack::Engine::Postgres => parameters.push(("rds.force_ssl", Val::str("1"))),
            }
            // The family is part of the id and the name: a major version upgrade needs a group of
            // the new family (RDS refuses to upgrade a database on a custom group of the old one),
            // so it makes a new group and the old one goes once the database has moved.
            // (names of parameter groups may not hold a period)
            let family_slug = family.replace('.', "-");
            let params = format!("db.{name}.params.{family_slug}");
            out.push(
                ResourceSpec::new(
                    &params,
                    Kind::DbParameterGroup,
                    physical_name(env, &format!("{name}-{family_slug}"), 255),
                )
                .with("family", Val::str(&family))
                .with(
                    "description",
                    Val::str(format!("ftctl {env}: database {name} ({family})")),
                )
                .with("parameters", Val::map(parameters)),
            );
            let id = format!("db.{name}");
            out.push(
                ResourceSpec::new(&id, Kind::DbInstance, physical_name(env, name, 63))
                    .with("engine", Val::str(db.engine.as_aws()))
                    .with("engine_version", Val::str(&version))
                    .with(
                        "engine_lifecycle_support",
                        Val::str(if db.extended_support {
                            "open-source-rds-extended-support"
                        } else {
                            "open-source-rds-extended-support-disabled"
                        }),
                    )
                    .with("instance_class", Val::str(&db.instance_class))
                    .with(
                        "allocated_storage_gb",
                        Val::Int(db.allocated_storage_gb.into()),
                    )
                    .with("multi_az", Val::Bool(db.multi_az))
                    .with("storage_encrypted", Val::Bool(true))
                    .with("publicly_accessible", Val::Bool(false))
                    .with(
                        "backup_retention_days",
                        Val::Int(db.backup_retention_days.into()),
                    )
                    .with("deletion_protection", Val::Bool(db.deletion_protection))
                    .with("master_username", Val::str(&db.master_username))
                    .with("manage_master_user_password", Val::Bool(true))
                    .with("port", Val::Int(port.into()))
                    .with(
                        "db_subnet_group_name",
                        Val::reference(&subnet_group, "name"),
                    )
                    .with("security_group_ids", Val::list([Val::reference(&sg, "id")]))
                    .with("parameter_group_name", Val::reference(&params, "name"))
                    .with("iam_auth", Val::Bool(db.iam_auth))
                    .with("log_exports", Val::list(exports.iter().map(Val::str))),
            );
            out.push(alarm(
                env,
                topic,
                AlarmDef {
                    id: format!("alarm.db.{name}.cpu"),
                    name_suffix: format!("{name}-db-cpu"),
                    description: format!("Database {name}: CPU above {}%", db.cpu_alarm_percent),
                    namespace: "AWS/RDS",
                    metric: "CPUUtilization",
                    statistic: "Average",
                    dimensions: vec![("DBInstanceIdentifier", Val::reference(&id, "name"))],
                    comparison: "GreaterThanThreshold",
                    threshold: db.cpu_alarm_percent,
                    policy: db.alarm,
                    missing: "missing",
                },
            ));
            let free_bytes = db.allocated_storage_gb as f64
                * 1024.0
                * 1024.0
                * 1024.0
                * db.free_storage_alarm_percent
                / 100.0;
            out.push(alarm(
                env,
                topic,
                AlarmDef {
                    id: format!("alarm.db.{name}.free-storage"),
                    name_suffix: format!("{name}-db-free-storage"),
                    description: format!(
                        "Database {name}: less than {}% of its storage free",
                        db.free_storage_alarm_percent
                    ),
                    namespace: "AWS/RDS",
                    metric: "FreeStorageSpace",
                    statistic: "Minimum",
                    dimensions: vec![("DBInstanceIdentifier", Val::reference(&id, "name"))],
                    comparison: "LessThanThreshold",
                    threshold: free_bytes.round(),
                    policy: db.alarm,
                    missing: "missing",
                },
            ));
        }
    }

    fn dashboard(&self, cx: &Cx<'_>) -> Vec<Row> {
        cx.stack
            .databases
            .keys()
            .map(|name| {
                let d = [(
                    "DBInstanceIdentifier",
                    Val::reference(format!("db.{name}"), "name"),
                )];
                let m = |metric_name| metric("AWS/RDS", metric_name, &d);
                Row::new(
                    cx,
                    format!("Database {name}"),
                    vec![
                        ("CPU", vec![m("CPUUtilization")], "Average"),
                        ("Free storage", vec![m("FreeStorageSpace")], "Minimum"),
                        ("Connections", vec![m("DatabaseConnections")], "Maximum"),
                        (
                            "Read / write latency",
                            vec![m("ReadLatency"), m("WriteLatency")],
                            "Average",
                        ),
                    ],
                )
            })
            .collect()
    }
}

const BACKUP_VAULT: &str = "backup.vault";
const BACKUP_ROLE: &str = "backup.role";
/// CreateBackupVault and CreateBackupPlan: names of at most 50 characters.
const BACKUP_NAME_MAX: usize = 50;

/// The deployment's AWS Backup vault (`ftctl backup --list` reads its recovery points).
pub fn backup_vault_name(env: &str) -> String {
    physical_name(env, "backups", BACKUP_NAME_MAX)
}
/// What AWS Backup needs to snapshot RDS (and the other services it backs up) for the plan.
const BACKUP_SERVICE_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup";
