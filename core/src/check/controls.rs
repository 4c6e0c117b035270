//! The controls `ftctl check` applies, one entry each: the AWS Security Hub Foundational Security
//! Best Practices (FSBP) control it implements (and the CIS AWS Foundations Benchmark v3.0.0
//! recommendation, where one exists), its severity as Security Hub rates it, and the test over a
//! resource's properties. The same test reads a spec (as planned) and an observed resource (as
//! AWS describes it). Controls with an `ftctl.` id are ftctl's own reliability rules, for what
//! Security Hub has no control. The list is documented in docs/controls.md.

use super::{Severity, Subject};
use crate::resource::{Kind, Props, Val};

/// A failing resource: what was found and the stack setting that fixes it.
pub struct Failed {
    pub finding: String,
    pub fix: String,
}

fn failed(finding: impl Into<String>, fix: impl Into<String>) -> Option<Failed> {
    Some(Failed {
        finding: finding.into(),
        fix: fix.into(),
    })
}

/// Fails with `finding` and `fix` when `cond` holds.
fn fail_if(cond: bool, finding: impl Into<String>, fix: impl Into<String>) -> Option<Failed> {
    if cond {
        failed(finding, fix)
    } else {
        None
    }
}

/// Fails when the boolean setting `key` is off (absent: not judged).
fn off(s: &Subject<'_>, key: &str, finding: &str, fix: &str) -> Option<Failed> {
    fail_if(bool_of(s.props, key) == Some(false), finding, fix)
}

pub struct Control {
    /// Security Hub's control id (`RDS.5`), or `ftctl.<name>` for ftctl's own.
    pub id: &'static str,
    /// The CIS AWS Foundations Benchmark v3.0.0 recommendation the control maps to.
    pub cis: Option<&'static str>,
    pub title: &'static str,
    pub severity: Severity,
    /// The kinds of resource the control judges; with none of them the control does not apply.
    pub kinds: &'static [Kind],
    pub why: &'static str,
    /// `None` when the subject passes.
    pub test: fn(&Subject<'_>, &[Subject<'_>]) -> Option<Failed>,
}

fn bool_of(p: &Props, k: &str) -> Option<bool> {
    p.get(k).and_then(Val::as_bool)
}

/// A count, or of a range (auto scaling) its lower bound: what is guaranteed.
fn int_of(p: &Props, k: &str) -> Option<i64> {
    let v = p.get(k)?;
    v.as_i64().or_else(|| v.range().map(|(lo, _)| lo))
}

fn str_of<'p>(p: &'p Props, k: &str) -> Option<&'p str> {
    p.get(k).and_then(Val::as_str)
}

fn count_of(p: &Props, k: &str) -> usize {
    p.get(k).map(|v| v.as_list().len()).unwrap_or(0)
}

/// Whether `value` (a reference in a spec, an identifier when observed) names `target`.
fn names(value: &Val, target: &Subject<'_>) -> bool {
    match value {
        Val::Ref(r) => r.id == target.id,
        Val::Str(s) => [target.physical_id, target.arn].contains(&Some(s.as_str())),
        _ => false,
    }
}

/// Whether a security group is attached to an internet-facing load balancer: the one place the
/// internet may come in.
fn fronts_internet(subjects: &[Subject<'_>], sg: &Subject<'_>) -> bool {
    subjects
        .iter()
        .filter(|s| s.kind == Kind::LoadBalancer)
        .filter(|lb| str_of(lb.props, "scheme") == Some("internet-facing"))
        .any(|lb| {
            lb.props
                .get("security_group_ids")
                .map(Val::as_list)
                .unwrap_or_default()
                .iter()
                .any(|v| names(v, sg))
        })
}

/// For a database of `engine`: whether the parameter group it uses sets `parameter` on. On a
/// default group (no group of ftctl's named, or none), the engine's default decides: off for
/// MySQL, on for PostgreSQL 15 and later (RDS User Guide, "Using SSL with a PostgreSQL DB
/// instance": rds.force_ssl defaults to 1 from version 15).
fn tls_required(
    s: &Subject<'_>,
    all: &[Subject<'_>],
    engine: &str,
    parameter: &str,
) -> Option<Failed> {
    if str_of(s.props, "engine")? != engine {
        return None;
    }
    let value = s.props.get("parameter_group_name").and_then(|group| {
        all.iter()
            .filter(|g| g.kind == Kind::DbParameterGroup)
            .find(|g| names(group, g))?
            .props
            .get("parameters")?
            .as_map()?
            .get(parameter)?
            .as_str()
    });
    let on = match value {
        Some(v) => v == "1" || v.eq_ignore_ascii_case("on"),
        None => {
            let major = crate::resource::major_version(str_of(s.props, "engine_version")?);
            engine == "postgres" && major.parse::<u32>().is_ok_and(|m| m >= 15)
        }
    };
    fail_if(
        !on,
        format!("clients may connect without TLS ({parameter} is not on)"),
        "ftctl's parameter group sets it: use the database's own group",
    )
}

/// Every control, in the order `check` reports them.
pub const CONTROLS: &[Control] = &[
    Control {
        id: "AutoScaling.1",
        cis: None,
        title: "Auto Scaling groups associated with a load balancer should use ELB health checks",
        severity: Severity::Low,
        kinds: &[Kind::AutoScalingGroup],
        why: "an instance whose application fails keeps receiving traffic and is never replaced",
        test: |s, _| {
            let t = str_of(s.props, "health_check_type")?;
            if t == "ELB" {
                return None;
            }
            failed(
                "the group uses EC2 health checks",
                "use health_check_type ELB (ftctl's default)",
            )
        },
    },
    Control {
        id: "AutoScaling.2",
        cis: None,
        title: "Amazon EC2 Auto Scaling group should cover multiple Availability Zones",
        severity: Severity::Medium,
        kinds: &[Kind::AutoScalingGroup],
        why: "losing one availability zone takes the whole tier down",
        test: |s, _| {
            let zones = count_of(s.props, "subnet_ids");
            fail_if(zones < 2,
                format!("the group launches in {zones} subnet(s)"),
                "give the group a subnet in at least two zones (network.az_count >= 2)",
            )
        },
    },
    Control {
        id: "ftctl.min-capacity",
        cis: None,
        title: "A tier or service should keep at least two instances or tasks",
        severity: Severity::Medium,
        kinds: &[Kind::AutoScalingGroup, Kind::EcsService],
        why: "one instance or task failing or being replaced leaves the tier without capacity",
        test: |s, _| match s.kind {
            Kind::AutoScalingGroup if int_of(s.props, "min_size").is_some_and(|m| m < 2) => {
                failed("fewer than 2 instances at minimum", "set min_size = 2 or more")
            }
            Kind::EcsService if int_of(s.props, "desired_count").is_some_and(|d| d < 2) => {
                failed("fewer than 2 tasks", "run 2 or more tasks (min_tasks >= 2)")
            }
            _ => None,
        },
    },
    Control {
        id: "AutoScaling.6",
        cis: None,
        title: "Auto Scaling groups should use multiple instance types in multiple Availability Zones",
        severity: Severity::Medium,
        kinds: &[Kind::AutoScalingGroup],
        why: "when the one type has no capacity left in a zone, the tier cannot replace or add \
              instances there",
        test: |s, _| {
            fail_if(count_of(s.props, "mixed_instance_types") < 2,
                "the group launches one instance type",
                "give the tier fallback_instance_types (same vCPUs and memory)",
            )
        },
    },
    Control {
        id: "SSM.1",
        cis: None,
        title: "Amazon EC2 instances should be managed by AWS Systems Manager",
        severity: Severity::Medium,
        kinds: &[Kind::IamRole],
        why: "without it an instance is reached only over SSH, is not patched or inventoried, \
              and gray-failure experiments cannot run on it",
        test: |s, _| {
            if str_of(s.props, "trust_service")? != "ec2.amazonaws.com" {
                return None;
            }
            let managed = s.props.get("managed_policies").map(Val::strings).unwrap_or_default();
            fail_if(
                !managed.iter().any(|p| p == crate::expand::SSM_INSTANCE_POLICY),
                "the instances' role lacks AmazonSSMManagedInstanceCore",
                "set ssm = true on the tier (ftctl's default)",
            )
        },
    },
    Control {
        id: "EC2.170",
        cis: None,
        title: "EC2 launch templates should use Instance Metadata Service Version 2 (IMDSv2)",
        severity: Severity::Low,
        kinds: &[Kind::LaunchTemplate],
        why: "IMDSv1 lets a server-side request forgery read the instance's credentials",
        test: |s, _| {
            let tokens = str_of(s.props, "http_tokens")?;
            fail_if(tokens != "required",
                "instance metadata allows IMDSv1",
                "require IMDSv2 (http_tokens = required)",
            )
        },
    },
    Control {
        id: "EC2.3",
        cis: None,
        title: "Attached Amazon EBS volumes should be encrypted at-rest",
        severity: Severity::Medium,
        kinds: &[Kind::LaunchTemplate],
        why: "data on unencrypted volumes and their snapshots is readable by anyone who gets a copy",
        test: |s, _| {
            off(s, "volume_encrypted", "instance volumes are not encrypted", "encrypt the volumes")
        },
    },
    Control {
        id: "EC2.2",
        cis: Some("5.4"),
        title: "VPC default security groups should not allow inbound or outbound traffic",
        severity: Severity::High,
        kinds: &[Kind::Vpc],
        why: "anything launched without a group of its own lands in the default one and can talk \
              to everything else there",
        test: |s, _| {
            off(s, "default_security_group_closed",
                "the VPC's default security group has rules",
                "apply the stack: ftctl empties the default group",
            )
        },
    },
    Control {
        id: "EC2.21",
        cis: Some("5.1"),
        title: "Network ACLs should not allow ingress from 0.0.0.0/0 to port 22 or port 3389",
        severity: Severity::Medium,
        kinds: &[Kind::NetworkAcl, Kind::Vpc],
        why: "SSH and RDP open to the internet at the subnet edge leave one security group \
              mistake between an attacker and the instances",
        test: |s, _| {
            if s.kind == Kind::Vpc {
                return off(s, "default_network_acl_closed",
                    "the VPC's default network ACL admits all traffic from anywhere",
                    "apply the stack: ftctl moves every subnet onto its own ACL and empties \
                     the default one",
                );
            }
            let open: Vec<String> = s
                .props
                .get("entries")
                .map(Val::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(Val::as_map)
                .filter(|e| e.get("egress").and_then(Val::as_bool) == Some(false))
                .filter(|e| e.get("action").and_then(Val::as_str) == Some("allow"))
                .filter(|e| {
                    matches!(e.get("cidr").and_then(Val::as_str), Some("0.0.0.0/0" | "::/0"))
                })
                .filter(|e| {
                    let covers = |port: i64| {
                        let from = e.get("from_port").and_then(Val::as_i64).unwrap_or(0);
                        let to = e.get("to_port").and_then(Val::as_i64).unwrap_or(65535);
                        (from..=to).contains(&port)
                    };
                    match e.get("protocol").and_then(Val::as_str) {
                        Some("-1") => true,
                        Some("6" | "17") => covers(22) || covers(3389),
                        _ => false,
                    }
                })
                .map(|e| e.get("rule").map(Val::render).unwrap_or_default())
                .collect();
            fail_if(!open.is_empty(),
                format!("rule(s) {} admit port 22 or 3389 from anywhere", open.join(", ")),
                "admit from the internet only the balancers' listener ports (ftctl's ACLs \
                 do); a listener on 22 or 3389 open to 0.0.0.0/0 is the cause",
            )
        },
    },
    Control {
        id: "EC2.18",
        cis: None,
        title: "Security groups should only allow unrestricted incoming traffic for authorized ports",
        severity: Severity::High,
        kinds: &[Kind::SecurityGroup],
        why: "only the public load balancer should be reachable from the internet",
        test: |s, all| {
            let open = s
                .props
                .get("ingress")
                .map(Val::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(Val::as_map)
                .any(|r| r.get("source").and_then(Val::as_str) == Some("0.0.0.0/0"));
            fail_if(open && !fronts_internet(all, s),
                "open to 0.0.0.0/0",
                "allow the tier or balancer in front of it instead of any address",
            )
        },
    },
    Control {
        id: "ELB.1",
        cis: None,
        title: "Application Load Balancer should be configured to redirect all HTTP requests to HTTPS",
        severity: Severity::Medium,
        kinds: &[Kind::Listener],
        why: "requests and the session cookies in them cross the network in clear text",
        test: |s, _| {
            fail_if(
                str_of(s.props, "protocol") == Some("HTTP")
                    && !s.props.contains_key("redirect_https_port"),
                "the balancer is HTTP only: this listener serves plain HTTP instead of \
                 redirecting to HTTPS",
                "name the balancer in a public [dns] zone: ftctl then requests an ACM \
                 certificate for its record, serves HTTPS and redirects HTTP to it (a private \
                 zone cannot validate a certificate; opt out of ELB.1 with your reason)",
            )
        },
    },
    Control {
        id: "ELB.17",
        cis: None,
        title: "Application and Network Load Balancers with listeners should use recommended security policies",
        severity: Severity::Medium,
        kinds: &[Kind::Listener],
        why: "older TLS policies accept TLS 1.0/1.1 and ciphers without forward secrecy",
        test: |s, _| {
            if str_of(s.props, "protocol") != Some("HTTPS") {
                return None;
            }
            let policy = str_of(s.props, "ssl_policy").unwrap_or("ELBSecurityPolicy-2016-08");
            fail_if(
                !(policy.contains("-TLS13-1-3-") || policy.contains("-TLS13-1-2-Res-")),
                format!("the HTTPS listener uses {policy}"),
                "use ELBSecurityPolicy-TLS13-1-2-Res-2021-06 (ftctl's choice) or a TLS13-1-3 policy",
            )
        },
    },
    Control {
        id: "ELB.4",
        cis: None,
        title: "Application Load Balancer should be configured to drop invalid HTTP headers",
        severity: Severity::Medium,
        kinds: &[Kind::LoadBalancer],
        why: "headers the balancer passes on unparsed are how request smuggling reaches the tier",
        test: |s, _| {
            off(s, "drop_invalid_header_fields",
                "invalid header fields are passed to the targets",
                "drop them (ftctl always sets routing.http.drop_invalid_header_fields)",
            )
        },
    },
    Control {
        id: "ELB.5",
        cis: None,
        title: "Application and Classic Load Balancers logging should be enabled",
        severity: Severity::Medium,
        kinds: &[Kind::LoadBalancer],
        why: "without access logs, who sent which request during an incident cannot be known",
        test: |s, _| {
            fail_if(
                !s.props.contains_key("access_logs_bucket"),
                "access logs are off",
                "set access_logs = true on the balancer (ftctl's default)",
            )
        },
    },
    Control {
        id: "ELB.6",
        cis: None,
        title: "Application, Gateway, and Network Load Balancers should have deletion protection enabled",
        severity: Severity::Medium,
        kinds: &[Kind::LoadBalancer],
        why: "one wrong command takes the entry point of the service away, and its DNS name with it",
        test: |s, _| {
            off(s, "deletion_protection",
                "deletion protection is off",
                "set deletion_protection = true on the balancer (ftctl's default)",
            )
        },
    },
    Control {
        id: "ELB.16",
        cis: None,
        title: "Application Load Balancers should be associated with an AWS WAF web ACL",
        severity: Severity::Medium,
        kinds: &[Kind::LoadBalancer],
        why: "without a web ACL, common exploits and known bad inputs reach the tier unfiltered",
        test: |s, all| {
            let protected = all
                .iter()
                .filter(|w| w.kind == Kind::WebAcl)
                .filter_map(|w| w.props.get("resource_arn"))
                .any(|r| names(r, s));
            fail_if(
                !protected,
                "no web ACL protects the balancer",
                "set waf = true on the balancer (ftctl's default for internet-facing ones; \
                 about $7 a month plus $0.60 per million requests)",
            )
        },
    },
    Control {
        id: "ELB.13",
        cis: None,
        title: "Application, Network and Gateway Load Balancers should span multiple Availability Zones",
        severity: Severity::Medium,
        kinds: &[Kind::LoadBalancer],
        why: "a balancer in one zone goes down with it, whatever the tiers behind it do",
        test: |s, _| {
            let zones = count_of(s.props, "subnet_ids");
            fail_if(zones < 2,
                format!("the balancer is in {zones} subnet(s)"),
                "network.az_count >= 2",
            )
        },
    },
    Control {
        id: "RDS.2",
        cis: Some("2.3.3"),
        title: "RDS DB instances should prohibit public access",
        severity: Severity::Critical,
        kinds: &[Kind::DbInstance],
        why: "only the public load balancer should be reachable from the internet",
        test: |s, _| {
            fail_if(bool_of(s.props, "publicly_accessible") == Some(true),
                "the database has a public address",
                "set publicly_accessible = false",
            )
        },
    },
    Control {
        id: "RDS.3",
        cis: Some("2.3.1"),
        title: "RDS DB instances should have encryption at-rest enabled",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "data, backups and snapshots are readable by anyone who gets a copy",
        test: |s, _| {
            off(s, "storage_encrypted",
                "the database storage is not encrypted",
                "create it encrypted (storage_encrypted; needs a replacement)",
            )
        },
    },
    Control {
        id: "RDS.5",
        cis: None,
        title: "RDS DB instances should be configured with multiple Availability Zones",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "a zone or host failure stops the database until it is restored by hand",
        test: |s, _| {
            off(s, "multi_az",
                "the database has no standby in another zone",
                "set multi_az = true",
            )
        },
    },
    Control {
        id: "RDS.8",
        cis: None,
        title: "RDS DB instances should have deletion protection enabled",
        severity: Severity::Low,
        kinds: &[Kind::DbInstance],
        why: "one wrong command deletes the database",
        test: |s, _| {
            off(s, "deletion_protection", "deletion protection is off", "set deletion_protection = true")
        },
    },
    Control {
        id: "RDS.11",
        cis: None,
        title: "RDS instances should have automatic backups enabled",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "point-in-time recovery cannot reach back past a weekend's mistake",
        test: |s, _| {
            fail_if(
                int_of(s.props, "backup_retention_days").is_some_and(|d| d < 7),
                "automated backups are kept less than 7 days",
                "set backup_retention_days to 7-35",
            )
        },
    },
    Control {
        id: "RDS.26",
        cis: None,
        title: "RDS DB instances should be protected by a backup plan",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "automated backups go with the database's retention setting and its deletion; a \
              plan's recovery points are kept apart from both",
        test: |s, all| {
            let covered = all
                .iter()
                .filter(|p| p.kind == Kind::BackupPlan)
                .filter_map(|p| p.props.get("resources"))
                .flat_map(Val::as_list)
                .any(|r| names(r, s));
            fail_if(
                !covered,
                "no AWS Backup plan covers the database",
                "set aws_backup = true on the database (ftctl's default)",
            )
        },
    },
    Control {
        id: "RDS.9",
        cis: None,
        title: "RDS DB instances should publish logs to CloudWatch Logs",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "the database's errors and slow queries are gone with the instance, and are not \
              searchable or alarmed on while it runs",
        test: |s, _| {
            let engine = crate::stack::Engine::from_aws(str_of(s.props, "engine")?)?;
            let wanted = engine.logs_security_hub_wants();
            let have = s.props.get("log_exports").map(Val::strings).unwrap_or_default();
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|w| !have.iter().any(|h| h == *w))
                .copied()
                .collect();
            fail_if(!missing.is_empty(),
                format!("not exported to CloudWatch Logs: {}", missing.join(", ")),
                "add them to the database's log_exports (the general log is billed per GB \
                 ingested); MySQL's audit log needs the MariaDB audit plugin's option group, \
                 which ftctl does not make: opt out of RDS.9 with your reason",
            )
        },
    },
    Control {
        id: "RDS.10",
        cis: None,
        title: "IAM authentication should be configured for RDS instances",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "without it every client holds a long-lived database password",
        test: |s, _| {
            off(s, "iam_auth",
                "IAM database authentication is off",
                "set iam_auth = true (ftctl's default)",
            )
        },
    },
    Control {
        id: "RDS.38",
        cis: None,
        title: "RDS for PostgreSQL DB instances should be encrypted in transit",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "clients may connect without TLS and send queries and credentials in clear text",
        test: |s, all| tls_required(s, all, "postgres", "rds.force_ssl"),
    },
    Control {
        id: "RDS.39",
        cis: None,
        title: "RDS for MySQL DB instances should be encrypted in transit",
        severity: Severity::Medium,
        kinds: &[Kind::DbInstance],
        why: "clients may connect without TLS and send queries and credentials in clear text",
        test: |s, all| tls_required(s, all, "mysql", "require_secure_transport"),
    },
    Control {
        id: "DocumentDB.1",
        cis: None,
        title: "Amazon DocumentDB clusters should be encrypted at rest",
        severity: Severity::Medium,
        kinds: &[Kind::DocdbCluster],
        why: "documents, and their snapshots, are readable by whoever gets the storage",
        test: |s, _| {
            off(s, "storage_encrypted",
                "the cluster is not encrypted at rest",
                "create it encrypted (storage_encrypted; needs a replacement)",
            )
        },
    },
    Control {
        id: "DocumentDB.2",
        cis: None,
        title: "Amazon DocumentDB clusters should have an adequate backup retention period",
        severity: Severity::Medium,
        kinds: &[Kind::DocdbCluster],
        why: "point-in-time recovery cannot reach back past a weekend's mistake",
        test: |s, _| {
            fail_if(
                int_of(s.props, "backup_retention_days").is_some_and(|d| d < 7),
                "automated backups are kept less than 7 days",
                "set backup_retention_days to 7-35",
            )
        },
    },
    Control {
        id: "DocumentDB.5",
        cis: None,
        title: "Amazon DocumentDB clusters should have deletion protection enabled",
        severity: Severity::Medium,
        kinds: &[Kind::DocdbCluster],
        why: "one mistaken delete removes the cluster and its automated backups",
        test: |s, _| {
            off(s, "deletion_protection",
                "deletion protection is off",
                "set deletion_protection = true",
            )
        },
    },
    Control {
        id: "ElastiCache.3",
        cis: None,
        title: "ElastiCache replication groups should have automatic failover enabled",
        severity: Severity::Medium,
        kinds: &[Kind::CacheReplicationGroup],
        why: "a failed primary stops the cache until it is replaced",
        test: |s, _| {
            off(s, "automatic_failover",
                "automatic failover is off",
                "set automatic_failover = true with at least one replica",
            )
        },
    },
    Control {
        id: "ftctl.cache-multi-az",
        cis: None,
        title: "ElastiCache replication groups should place replicas in other zones (Multi-AZ)",
        severity: Severity::Medium,
        kinds: &[Kind::CacheReplicationGroup],
        why: "replicas may share the primary's zone and go down with it",
        test: |s, _| {
            fail_if(
                bool_of(s.props, "automatic_failover") != Some(false)
                    && bool_of(s.props, "multi_az") == Some(false),
                "Multi-AZ is off",
                "set multi_az = true",
            )
        },
    },
    Control {
        id: "ElastiCache.4",
        cis: None,
        title: "ElastiCache replication groups should be encrypted at rest",
        severity: Severity::Medium,
        kinds: &[Kind::CacheReplicationGroup],
        why: "snapshots and swapped data are readable by anyone who gets a copy",
        test: |s, _| {
            off(s, "at_rest_encryption",
                "the cache is not encrypted at rest",
                "create it encrypted (needs a replacement)",
            )
        },
    },
    Control {
        id: "ElastiCache.5",
        cis: None,
        title: "ElastiCache replication groups should be encrypted in transit",
        severity: Severity::Medium,
        kinds: &[Kind::CacheReplicationGroup],
        why: "session data crosses the network in clear text",
        test: |s, _| {
            off(s, "transit_encryption",
                "the cache is not encrypted in transit",
                "enable transit encryption (clients connect with TLS)",
            )
        },
    },
    Control {
        id: "ftctl.table-kms",
        cis: None,
        title: "DynamoDB tables should be encrypted with a KMS key",
        severity: Severity::Informational,
        kinds: &[Kind::DynamoTable],
        why: "use of an AWS-owned key is not in your CloudTrail and cannot be revoked by you",
        test: |s, _| {
            fail_if(
                str_of(s.props, "sse").is_some_and(|k| k != "KMS"),
                "encrypted with a key AWS owns",
                "use server-side encryption with KMS (ftctl's default)",
            )
        },
    },
    Control {
        id: "DynamoDB.2",
        cis: None,
        title: "DynamoDB tables should have point-in-time recovery enabled",
        severity: Severity::Medium,
        kinds: &[Kind::DynamoTable],
        why: "a bad write or delete cannot be undone",
        test: |s, _| {
            off(s, "point_in_time_recovery",
                "point-in-time recovery is off",
                "set point_in_time_recovery = true",
            )
        },
    },
    Control {
        id: "DynamoDB.6",
        cis: None,
        title: "DynamoDB tables should have deletion protection enabled",
        severity: Severity::Medium,
        kinds: &[Kind::DynamoTable],
        why: "one wrong command deletes the table and its data",
        test: |s, _| {
            off(s, "deletion_protection", "deletion protection is off", "set deletion_protection = true")
        },
    },
    Control {
        id: "EFS.1",
        cis: Some("2.4.1"),
        title: "Elastic File System should be configured to encrypt file data at-rest using AWS KMS",
        severity: Severity::Medium,
        kinds: &[Kind::EfsFileSystem],
        why: "files are readable by anyone who gets a copy",
        test: |s, _| {
            off(s, "encrypted",
                "the file system is not encrypted",
                "create it encrypted (needs a replacement)",
            )
        },
    },
    Control {
        id: "S3.8",
        cis: Some("2.1.4"),
        title: "S3 general purpose buckets should block public access",
        severity: Severity::High,
        kinds: &[Kind::S3Bucket],
        why: "one policy or ACL mistake publishes the logs",
        test: |s, _| {
            off(s, "public_access_blocked",
                "public access to the bucket is not blocked",
                "block all public access",
            )
        },
    },
    Control {
        id: "SQS.1",
        cis: None,
        title: "Amazon SQS queues should be encrypted at rest",
        severity: Severity::Medium,
        kinds: &[Kind::SqsQueue],
        why: "payments and jobs wait in the queue for days, readable in storage",
        test: |s, _| {
            off(s, "sqs_managed_sse",
                "the queue is not encrypted at rest",
                "turn on SQS-managed encryption (SqsManagedSseEnabled), in place",
            )
        },
    },
    Control {
        id: "CloudFront.3",
        cis: None,
        title: "CloudFront distributions should require encryption in transit",
        severity: Severity::Medium,
        kinds: &[Kind::Distribution],
        why: "viewers' requests and the pages they get cross the internet readable and changeable",
        test: |s, _| {
            fail_if(
                str_of(s.props, "viewer_protocol") == Some("allow-all"),
                "viewers may use plain HTTP",
                "redirect viewers to HTTPS (ftctl always does), in place",
            )
        },
    },
    Control {
        id: "CloudFront.9",
        cis: None,
        title: "CloudFront distributions should encrypt traffic to custom origins",
        severity: Severity::Medium,
        kinds: &[Kind::Distribution],
        why: "requests cross the internet from the edge to the balancer readable and changeable",
        test: |s, _| {
            fail_if(
                str_of(s.props, "origin_protocol") == Some("http-only"),
                "CloudFront reaches the balancer over plain HTTP",
                "give the balancer a certificate (a public [dns] zone you own): CloudFront then \
                 reaches it over HTTPS, in place",
            )
        },
    },
    Control {
        id: "CloudFront.13",
        cis: None,
        title: "CloudFront distributions should use origin access control",
        severity: Severity::Medium,
        kinds: &[Kind::Distribution],
        why: "without it, the maintenance page's bucket would have to be readable by anyone",
        test: |s, _| {
            fail_if(
                // A reference (to the control ftctl makes) is only known once it is made.
                !s.props.contains_key("maintenance_access")
                    || str_of(s.props, "maintenance_access") == Some(""),
                "the S3 origin is read without an origin access control",
                "read it through an origin access control (ftctl makes one), in place",
            )
        },
    },
    Control {
        id: "SNS.1",
        cis: None,
        title: "SNS topics should be encrypted at-rest using AWS KMS",
        severity: Severity::Medium,
        kinds: &[Kind::SnsTopic],
        why: "alarm notifications name the resources that fail and are kept until delivered",
        test: |s, _| {
            let key = s.props.get("kms_key_id");
            fail_if(
                key.is_none() || key.and_then(Val::as_str) == Some(""),
                "the topic is not encrypted with a KMS key",
                "encrypt it with the deployment's own key (ftctl makes one for each topic)",
            )
        },
    },
    Control {
        id: "KMS.4",
        cis: Some("3.6"),
        title: "AWS KMS key rotation should be enabled",
        severity: Severity::Medium,
        kinds: &[Kind::KmsKey],
        why: "a key material that never changes protects everything it ever encrypted if it leaks",
        test: |s, _| {
            off(s, "rotation",
                "automatic rotation of the key is off",
                "enable yearly rotation (ftctl's default)",
            )
        },
    },
    Control {
        id: "ftctl.service-zones",
        cis: None,
        title: "ECS services should run tasks in multiple Availability Zones",
        severity: Severity::Medium,
        kinds: &[Kind::EcsService],
        why: "losing one availability zone takes the service down",
        test: |s, _| {
            let zones = count_of(s.props, "subnet_ids");
            fail_if(zones < 2,
                format!("tasks run in {zones} subnet(s)"),
                "give the service a subnet in at least two zones",
            )
        },
    },
    Control {
        id: "ftctl.deployment-circuit-breaker",
        cis: None,
        title: "ECS services should roll back a failing deployment",
        severity: Severity::Medium,
        kinds: &[Kind::EcsService],
        why: "a broken release keeps replacing healthy tasks",
        test: |s, _| {
            off(s, "circuit_breaker_rollback",
                "no deployment circuit breaker",
                "enable the circuit breaker with rollback",
            )
        },
    },
    Control {
        id: "CloudWatch.15",
        cis: None,
        title: "CloudWatch alarms should have specified actions configured",
        severity: Severity::High,
        kinds: &[Kind::MetricAlarm],
        why: "an alarm nobody hears does not shorten an outage",
        test: |s, _| {
            fail_if(count_of(s.props, "alarm_actions") == 0,
                "the alarm notifies nobody",
                "send it to the deployment's SNS topic",
            )
        },
    },
];

/// CloudTrail.1, judged by `check --live` from the account's trails (see `trail_check`).
pub const CLOUDTRAIL: Control = Control {
    id: "CloudTrail.1",
    cis: Some("3.1"),
    title: "CloudTrail should be enabled and configured with at least one multi-Region trail \
            that includes read and write management events",
    severity: Severity::High,
    kinds: &[],
    why: "without a trail, who changed what in the deployment is known only from the last 90 \
          days of CloudTrail event history, with no log-file validation",
    test: |_, _| None,
};

/// ftctl's own: the live deployment against its stack (`check --live STACK`; see `drift`).
pub const DRIFT: Control = Control {
    id: "ftctl.drift",
    cis: None,
    title: "What runs should be what the stack says",
    severity: Severity::Medium,
    kinds: &[],
    why: "what runs is not what was reviewed; the next apply will change it",
    test: |_, _| None,
};

/// The controls about the account or the deployment as a whole rather than one resource: judged
/// only by `check --live`, not by the resource tests.
pub const ACCOUNT_CONTROLS: &[&Control] = &[&CLOUDTRAIL, &DRIFT];

/// The control with this id.
pub fn control(id: &str) -> Option<&'static Control> {
    CONTROLS
        .iter()
        .chain(ACCOUNT_CONTROLS.iter().copied())
        .find(|c| c.id == id)
}

impl Control {
    /// This control's finding on `resource`.
    pub fn finding(&'static self, resource: &str, failed: Failed) -> super::Finding {
        super::Finding {
            control: self.id,
            cis: self.cis,
            severity: self.severity,
            resource: resource.to_string(),
            finding: failed.finding,
            why: self.why,
            fix: failed.fix,
            opted_out: None,
        }
    }
}

/// CloudTrail.1 from the names of the trails that record the deployment's region: a failure
/// when there is none, else a pass whose note names them.
pub fn trail_check(region: &str, trails: &[String]) -> (super::Judged, Option<super::Finding>) {
    let failure = trails.is_empty().then(|| {
        CLOUDTRAIL.finding(
            "audit",
            Failed {
                finding: format!("no CloudTrail trail of the account records {region}"),
                fix: "turn on the account's (or organization's) trail, or set audit.trail = true"
                    .into(),
            },
        )
    });
    let note = (!trails.is_empty())
        .then(|| format!("recorded by the account's trail {}", trails.join(", ")));
    (
        super::Judged {
            control: &CLOUDTRAIL,
            resources: 1,
            note,
        },
        failure,
    )
}
