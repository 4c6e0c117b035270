//! What a deployment costs at list price: each resource's monthly figure from its size (an Auto
//! Scaling group's minimum, a database's class and storage, a replication group's nodes) and a
//! price book (`prices/aws.toml`), the parts AWS bills by use (data processed, requests, storage
//! that grows) as unit prices rather than guesses, and for a plan the figures before and after
//! it. Pure: the caller reads the book's text; nothing here asks AWS.

use crate::plan::{Action, Plan};
use crate::resource::{Kind, Observed, Props, ResourceSpec, Val};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

mod book;
pub mod price_list;

use book::is_global;
pub use book::{days_from_date, Per, Price, PriceBook, SHIPPED, SHIPPED_PATH};

/// A month of running, as AWS's pricing pages and calculator count it.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// One priced part of a resource: `quantity` units of `item` at `usd` per `per`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub what: String,
    pub item: String,
    pub quantity: f64,
    pub usd: f64,
    pub per: Per,
    pub monthly_usd: f64,
}

/// A part AWS bills by use: its unit price only, never a guessed amount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub what: String,
    pub item: String,
    pub usd: f64,
    pub per: Per,
}

/// What one resource costs a month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// At the size it runs at (a group or service at its minimum).
    pub monthly_usd: f64,
    /// At the largest size the stack lets it scale to, when that differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_usd_at_max: Option<f64>,
    pub parts: Vec<Part>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<Usage>,
    /// What has a price but none in the book: named, never guessed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
    /// Other resources the figure was read from (a group's launch template).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
}

/// A resource as the estimate sees it: a desired spec or an observed one (whose references
/// are physical ids, not `Ref`s).
#[derive(Clone, Copy)]
pub struct Res<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub physical_id: Option<&'a str>,
    pub props: &'a Props,
    pub outputs: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Res<'a> {
    pub fn of_spec(s: &'a ResourceSpec) -> Res<'a> {
        Res {
            id: &s.id,
            kind: s.kind,
            physical_id: None,
            props: &s.props,
            outputs: None,
        }
    }

    pub fn of_observed(o: &'a Observed) -> Res<'a> {
        Res {
            id: &o.id,
            kind: o.kind,
            physical_id: Some(&o.physical_id),
            props: &o.props,
            outputs: Some(&o.outputs),
        }
    }

    fn str(&self, name: &str) -> Option<&'a str> {
        self.props.get(name).and_then(Val::as_str)
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.props.get(name).and_then(Val::as_i64)
    }

    /// A size that the stack may give as a range (`{ min, max }`, desired) or AWS as a number.
    fn size(&self, name: &str) -> Option<(i64, i64)> {
        match self.props.get(name)? {
            Val::Map(m) => {
                let min = m.get("min").and_then(Val::as_i64)?;
                Some((min, m.get("max").and_then(Val::as_i64).unwrap_or(min)))
            }
            v => v.as_i64().map(|n| (n, n)),
        }
    }
}

/// The resource `value` names among `all`: a `Ref` by logical id, a string by physical id, ARN
/// or id output.
fn referenced<'a>(value: Option<&Val>, all: &[Res<'a>]) -> Option<Res<'a>> {
    match value? {
        Val::Ref(r) => all.iter().find(|x| x.id == r.id).copied(),
        Val::Str(s) => all
            .iter()
            .find(|x| {
                x.physical_id == Some(s.as_str())
                    || x.outputs
                        .is_some_and(|o| o.get("arn") == Some(s) || o.get("id") == Some(s))
            })
            .copied(),
        _ => None,
    }
}

/// Builds one estimate from the book.
struct Pricing<'b> {
    book: &'b PriceBook,
    region: &'b str,
    est: Estimate,
    at_max: f64,
    scales: bool,
    used: BTreeSet<(String, String)>,
}

impl<'b> Pricing<'b> {
    fn new(book: &'b PriceBook, region: &'b str) -> Self {
        Pricing {
            book,
            region,
            est: Estimate {
                monthly_usd: 0.0,
                monthly_usd_at_max: None,
                parts: Vec::new(),
                usage: Vec::new(),
                unpriced: Vec::new(),
                from: Vec::new(),
            },
            at_max: 0.0,
            scales: false,
            used: BTreeSet::new(),
        }
    }

    fn price(&mut self, region: &str, item: &str, what: &str) -> Option<&'b Price> {
        match self.book.get(region, item) {
            Some(p) => {
                self.used.insert((p.item.clone(), p.region.clone()));
                Some(p)
            }
            None => {
                let region = if is_global(item) { "global" } else { region };
                self.est
                    .unpriced
                    .push(format!("{what} ({item} in {region})"));
                None
            }
        }
    }

    /// A part billed for running: `quantity` units now, `at_max` at the largest size.
    fn fixed(&mut self, what: String, item: &str, quantity: f64, at_max: f64) {
        let region = self.region;
        let Some(p) = self.price(region, item, &what) else {
            return;
        };
        let factor = p.per.monthly_factor().unwrap_or(0.0);
        let monthly = p.usd * quantity * factor;
        self.est.monthly_usd += monthly;
        self.at_max += p.usd * at_max * factor;
        if at_max != quantity {
            self.scales = true;
        }
        self.est.parts.push(Part {
            what,
            item: item.to_string(),
            quantity,
            usd: p.usd,
            per: p.per,
            monthly_usd: monthly,
        });
    }

    fn once(&mut self, what: &str, item: &str) {
        self.fixed(what.to_string(), item, 1.0, 1.0);
    }

    fn usage_in(&mut self, region: &str, what: &str, item: &str) {
        if let Some(p) = self.price(region, item, what) {
            self.est.usage.push(Usage {
                what: what.to_string(),
                item: item.to_string(),
                usd: p.usd,
                per: p.per,
            });
        }
    }

    fn usage(&mut self, what: &str, item: &str) {
        let region = self.region;
        self.usage_in(region, what, item);
    }

    fn missing(&mut self, what: String) {
        self.est.unpriced.push(what);
    }

    fn done(mut self) -> (Estimate, BTreeSet<(String, String)>) {
        if self.scales {
            self.est.monthly_usd_at_max = Some(self.at_max);
        }
        (self.est, self.used)
    }
}

fn plural(n: i64, one: &str) -> String {
    format!("{n} × {one}")
}

/// The monthly estimate of `r` (`all`: the resources it may name, from the same side), or
/// `None` for kinds AWS does not bill (VPCs, subnets, security groups, roles, ...). Also the
/// prices it used, for the age of the estimate.
pub fn estimate(
    r: &Res<'_>,
    all: &[Res<'_>],
    region: &str,
    book: &PriceBook,
) -> Option<(Estimate, BTreeSet<(String, String)>)> {
    let mut p = Pricing::new(book, region);
    match r.kind {
        Kind::AutoScalingGroup => {
            let min = r.int("min_size").unwrap_or(0);
            let max = r.int("max_size").unwrap_or(min);
            match referenced(r.props.get("launch_template_id"), all) {
                Some(lt) => {
                    p.est.from.push(lt.id.to_string());
                    match lt.str("instance_type") {
                        Some(t) => p.fixed(
                            format!("{} instances", plural(min, t)),
                            &format!("ec2:instance:{t}"),
                            min as f64,
                            max as f64,
                        ),
                        None => p.missing(format!("the instance type of {}", lt.id)),
                    }
                    let gb = lt.int("volume_size_gb").unwrap_or(0);
                    if gb > 0 {
                        p.fixed(
                            format!("{} GB gp3 root volumes", plural(min, &gb.to_string())),
                            "ebs:volume:gp3",
                            (min * gb) as f64,
                            (max * gb) as f64,
                        );
                    }
                }
                None => p.missing("its launch template (not found)".into()),
            }
        }
        Kind::LoadBalancer => {
            let kind = r.str("type").unwrap_or("application");
            p.once(&format!("{kind} load balancer"), &format!("elb:{kind}"));
            // An internet-facing balancer's nodes hold public IPv4 addresses, billed like any
            // other since February 2024 (Amazon VPC pricing, "Public IPv4 address"): at least one
            // per zone, more as the balancer scales, so this is the floor.
            if r.str("scheme") == Some("internet-facing") {
                let zones = r.props.get("subnet_ids").map_or(0, |v| v.as_list().len()) as f64;
                p.fixed(
                    format!("{zones} public IPv4 addresses (at least)"),
                    "ec2:public-ipv4",
                    zones,
                    zones,
                );
            }
            p.usage("capacity units", &format!("elb:{kind}:lcu"));
        }
        Kind::NatGateway => {
            p.once("NAT gateway", "vpc:nat-gateway");
            p.usage("data processed", "vpc:nat-gateway:data");
        }
        Kind::ElasticIp => p.once("public IPv4 address", "ec2:public-ipv4"),
        Kind::VpcEndpoint => {
            if r.str("type") != Some("Interface") {
                return None;
            }
            let zones = r.props.get("subnet_ids").map_or(0, |v| v.as_list().len()) as f64;
            p.fixed(
                format!("interface endpoint in {zones} zones"),
                "vpc:interface-endpoint",
                zones,
                zones,
            );
            p.usage("data processed", "vpc:interface-endpoint:data");
        }
        Kind::DbInstance => {
            let class = r.str("instance_class").unwrap_or("?");
            let engine = r.str("engine").unwrap_or("?");
            let azs = if r.props.get("multi_az").and_then(Val::as_bool) == Some(true) {
                "multi-az"
            } else {
                "single-az"
            };
            p.once(
                &format!("{class} {engine} {azs}"),
                &format!("rds:instance:{class}:{engine}:{azs}"),
            );
            let gb = r.int("allocated_storage_gb").unwrap_or(0);
            p.fixed(
                format!("{gb} GB gp3 storage"),
                &format!("rds:storage:gp3:{azs}"),
                gb as f64,
                gb as f64,
            );
            if r.props
                .get("manage_master_user_password")
                .and_then(Val::as_bool)
                == Some(true)
            {
                p.once("master password secret", "secretsmanager:secret");
            }
            p.usage("backups beyond the database's size", "backup:storage");
        }
        Kind::DocdbInstance => {
            let class = r.str("instance_class").unwrap_or("?");
            p.once(
                &format!("{class} instance"),
                &format!("docdb:instance:{class}"),
            );
        }
        Kind::CacheReplicationGroup => {
            let node = r.str("node_type").unwrap_or("?");
            let engine = r.str("engine").unwrap_or("redis");
            let shards = r.int("shards").unwrap_or(1);
            let (replicas, replicas_max) = r.size("replicas_per_shard").unwrap_or((0, 0));
            let nodes = shards * (1 + replicas);
            p.fixed(
                format!("{} nodes", plural(nodes, node)),
                &format!("elasticache:node:{node}:{engine}"),
                nodes as f64,
                (shards * (1 + replicas_max)) as f64,
            );
        }
        Kind::EmrCluster => {
            // Managed scaling's maximum counts core and task instances only; the primary node
            // does not scale (EMR Management Guide, "Using managed scaling").
            let core = r.int("core_instance_count").unwrap_or(0);
            let core_max = r.int("managed_max").unwrap_or(core).max(core);
            for (role, t, n, n_max) in [
                ("primary", r.str("master_instance_type"), 1, 1),
                ("core", r.str("core_instance_type"), core, core_max),
            ] {
                let Some(t) = t else {
                    p.missing(format!("the {role} instance type"));
                    continue;
                };
                p.fixed(
                    format!("{} {role} instances", plural(n, t)),
                    &format!("ec2:instance:{t}"),
                    n as f64,
                    n_max as f64,
                );
                p.fixed(
                    format!("EMR fee on {} {role}", plural(n, t)),
                    &format!("emr:fee:{t}"),
                    n as f64,
                    n_max as f64,
                );
            }
        }
        Kind::EcsService => {
            let (count, count_max) = r
                .size("desired_count")
                .or_else(|| r.int("initial_count").map(|n| (n, n)))
                .unwrap_or((0, 0));
            match referenced(r.props.get("task_definition_arn"), all) {
                Some(task) => {
                    p.est.from.push(task.id.to_string());
                    let cpu = task.int("cpu").unwrap_or(0) as f64 / 1024.0;
                    let memory = task.int("memory").unwrap_or(0) as f64 / 1024.0;
                    p.fixed(
                        format!("{count} Fargate tasks × {cpu} vCPU"),
                        "ecs:fargate:vcpu",
                        count as f64 * cpu,
                        count_max as f64 * cpu,
                    );
                    p.fixed(
                        format!("{count} Fargate tasks × {memory} GB"),
                        "ecs:fargate:memory",
                        count as f64 * memory,
                        count_max as f64 * memory,
                    );
                }
                None => p.missing("its task definition (not found)".into()),
            }
        }
        Kind::MetricAlarm => p.once("alarm", "cloudwatch:alarm"),
        Kind::Dashboard => p.once("dashboard", "cloudwatch:dashboard"),
        Kind::HostedZone => {
            p.once("hosted zone", "route53:hosted-zone");
            if r.props.get("private").and_then(Val::as_bool) != Some(true) {
                p.usage("queries", "route53:queries");
            }
        }
        Kind::HealthCheck => p.once("health check", "route53:health-check"),
        Kind::KmsKey => {
            p.once("customer managed key", "kms:key");
            p.usage("requests", "kms:requests");
        }
        Kind::WebAcl => {
            p.once("web ACL", "wafv2:web-acl");
            let groups = r
                .props
                .get("managed_rule_groups")
                .map_or(0, |v| v.as_list().len()) as f64;
            p.fixed(
                format!("{groups} rule groups"),
                "wafv2:rule-group",
                groups,
                groups,
            );
            p.usage("requests inspected", "wafv2:requests");
        }
        Kind::EfsFileSystem => p.usage("storage", "efs:storage"),
        Kind::DynamoTable => {
            if r.str("billing_mode") != Some("PAY_PER_REQUEST") {
                p.missing("provisioned capacity (not estimated)".into());
            }
            p.usage("writes", "dynamodb:write");
            p.usage("reads", "dynamodb:read");
            p.usage("storage", "dynamodb:storage");
        }
        Kind::TableReplica => {
            let there = r.str("region").unwrap_or(region).to_string();
            p.usage_in(&there, "replicated writes", "dynamodb:write");
            p.usage_in(&there, "reads", "dynamodb:read");
            p.usage_in(&there, "storage", "dynamodb:storage");
        }
        Kind::S3Bucket => p.usage("storage", "s3:storage"),
        Kind::LogGroup => {
            p.usage("ingestion", "logs:ingest");
            p.usage("storage", "logs:storage");
        }
        Kind::BackupVault => p.usage(
            "backup storage (at the RDS snapshot rate)",
            "backup:storage",
        ),
        Kind::Distribution => {
            p.usage("requests", "cloudfront:requests");
            p.usage("data out", "cloudfront:data-out");
        }
        _ => return None,
    }
    Some(p.done())
}

/// One resource's cost in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    pub id: String,
    pub kind: Kind,
    /// The plan's action on it; `no_op` when only what it is computed from changes (a group
    /// whose launch template's instance type changes).
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Estimate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Estimate>,
    pub delta_usd: f64,
}

/// A plan's cost: every resource it adds, changes or removes, and the totals.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub currency: &'static str,
    pub hours_per_month: f64,
    /// The price file used.
    pub prices: String,
    /// The oldest `read_on` of the prices used, and its age in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices_read_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices_age_days: Option<i64>,
    /// How many of the prices used are not confirmed against AWS's price list.
    pub unconfirmed_prices: usize,
    pub prices_used: usize,
    pub lines: Vec<CostLine>,
    pub before_usd: f64,
    pub after_usd: f64,
    pub delta_usd: f64,
    /// The deployment after the plan with every group and service at its maximum.
    pub after_at_max_usd: f64,
    /// What the estimate could not price, per resource.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unpriced: BTreeMap<String, Vec<String>>,
}

/// The estimate of each priced resource of one side, by logical id; the prices used go to `used`.
fn estimates(
    all: &[Res<'_>],
    region: &str,
    book: &PriceBook,
    used: &mut BTreeSet<(String, String)>,
) -> BTreeMap<String, Estimate> {
    let mut out = BTreeMap::new();
    for r in all {
        // Leftover duplicates of one logical id (an interrupted run) count once each.
        let key = match r.physical_id {
            Some(p) if out.contains_key(r.id) => format!("{} [{p}]", r.id),
            _ => r.id.to_string(),
        };
        if let Some((e, u)) = estimate(r, all, region, book) {
            used.extend(u);
            out.insert(key, e);
        }
    }
    out
}

fn total(estimates: &BTreeMap<String, Estimate>) -> (f64, f64) {
    estimates.values().fold((0.0, 0.0), |(now, max), e| {
        (
            now + e.monthly_usd,
            max + e.monthly_usd_at_max.unwrap_or(e.monthly_usd),
        )
    })
}

/// The cost of applying `plan`: before is what AWS holds (`observed`), after is the stack
/// (`desired`). `today` is days since 1970-01-01, for the age of the prices.
pub fn report(
    plan: &Plan,
    desired: &[ResourceSpec],
    observed: &[Observed],
    region: &str,
    book: &PriceBook,
    today: i64,
) -> CostReport {
    let mut used = BTreeSet::new();
    let after_res: Vec<Res<'_>> = desired.iter().map(Res::of_spec).collect();
    // What AWS holds, with what its readers do not read back (create-only settings such as an
    // EMR cluster's instance types) taken from the stack: a resource the plan does not replace
    // still has them. A count autoscaling moves (a service's desired count) is priced at the
    // stack's floor on both sides, so scaling out is not shown as a change of the stack.
    let specs: BTreeMap<&str, &ResourceSpec> = desired.iter().map(|s| (s.id.as_str(), s)).collect();
    let before_props: Vec<Props> = observed
        .iter()
        .map(|o| {
            let mut props = specs
                .get(o.id.as_str())
                .map_or_else(Props::new, |s| s.props.clone());
            for (k, v) in &o.props {
                if matches!(props.get(k), Some(Val::Map(m)) if m.contains_key("min"))
                    && v.as_i64().is_some()
                {
                    continue;
                }
                props.insert(k.clone(), v.clone());
            }
            props
        })
        .collect();
    let before_res: Vec<Res<'_>> = observed
        .iter()
        .zip(&before_props)
        .map(|(o, props)| Res {
            props,
            ..Res::of_observed(o)
        })
        .collect();
    let after = estimates(&after_res, region, book, &mut used);
    let before = estimates(&before_res, region, book, &mut used);
    let kinds: BTreeMap<&str, Kind> = desired
        .iter()
        .map(|s| (s.id.as_str(), s.kind))
        .chain(observed.iter().map(|o| (o.id.as_str(), o.kind)))
        .collect();
    let mut lines = Vec::new();
    let mut listed = BTreeSet::new();
    let line = |id: &str, action: Action| -> Option<CostLine> {
        let b = before.get(id).cloned();
        let a = if action == Action::Delete {
            None
        } else {
            after.get(id).cloned()
        };
        if a.is_none() && b.is_none() {
            return None;
        }
        let delta =
            a.as_ref().map_or(0.0, |e| e.monthly_usd) - b.as_ref().map_or(0.0, |e| e.monthly_usd);
        Some(CostLine {
            id: id.to_string(),
            kind: *kinds.get(id)?,
            action,
            before: b,
            after: a,
            delta_usd: delta,
        })
    };
    for c in &plan.changes {
        if listed.insert(c.id.clone()) {
            lines.extend(line(&c.id, c.action));
        }
    }
    // Resources the plan leaves alone whose figure moves with what they are computed from.
    for (id, a) in &after {
        if listed.contains(id) {
            continue;
        }
        if before
            .get(id)
            .is_some_and(|b| b.monthly_usd != a.monthly_usd)
        {
            lines.extend(line(id, Action::NoOp));
        }
    }
    let (before_usd, _) = total(&before);
    let (after_usd, after_at_max_usd) = total(&after);
    let mut unpriced = BTreeMap::new();
    for (id, e) in &after {
        if !e.unpriced.is_empty() {
            unpriced.insert(id.clone(), e.unpriced.clone());
        }
    }
    let read_on = book.oldest_of(&used).map(str::to_string);
    let unconfirmed = book
        .prices
        .iter()
        .filter(|p| !p.confirmed && used.contains(&(p.item.clone(), p.region.clone())))
        .count();
    CostReport {
        currency: "USD",
        hours_per_month: HOURS_PER_MONTH,
        prices: book.origin.clone(),
        prices_age_days: read_on
            .as_deref()
            .and_then(days_from_date)
            .map(|d| today - d),
        prices_read_on: read_on,
        unconfirmed_prices: unconfirmed,
        prices_used: used.len(),
        lines,
        before_usd,
        after_usd,
        delta_usd: after_usd - before_usd,
        after_at_max_usd,
        unpriced,
    }
}

fn usd(x: f64) -> String {
    format!("${x:.2}")
}

fn signed(x: f64) -> String {
    if x < 0.0 {
        format!("-${:.2}", -x)
    } else {
        format!("+${x:.2}")
    }
}

fn describe(e: &Estimate) -> String {
    let mut text: Vec<String> = e.parts.iter().map(|p| p.what.clone()).collect();
    if text.is_empty() && !e.usage.is_empty() {
        text.push("billed by use, below".into());
    }
    if let Some(max) = e.monthly_usd_at_max {
        text.push(format!("up to {} at the largest size", usd(max)));
    }
    text.join(", ")
}

impl CostReport {
    /// The line the apply prompt repeats the total in.
    pub fn apply_line(&self) -> String {
        let unpriced = match self.unpriced.len() {
            0 => String::new(),
            n => format!("; {n} resources not priced, see above"),
        };
        format!(
            "Once applied, the deployment costs about {} a month at list price ({} a month{unpriced}), plus what is billed by use.",
            usd(self.after_usd),
            signed(self.delta_usd)
        )
    }

    /// The cost section of a plan, for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let age = match (&self.prices_read_on, self.prices_age_days) {
            (Some(day), Some(age)) if age >= 0 => format!(", read {day} ({age} days ago)"),
            (Some(day), Some(_)) => format!(", read {day} (a date still to come: check the file)"),
            _ => String::new(),
        };
        let confirmed = if self.unconfirmed_prices > 0 {
            format!(
                "; {} of the {} prices used are not confirmed against AWS's price list",
                self.unconfirmed_prices, self.prices_used
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\nEstimated monthly cost (USD at list price, {} hours a month; prices from {}{age}{confirmed}):",
            self.hours_per_month, self.prices
        );
        let width = self.lines.iter().map(|l| l.id.len()).max().unwrap_or(0);
        for l in &self.lines {
            let symbol = if l.action == Action::NoOp {
                "~"
            } else {
                l.action.symbol()
            };
            let figure = match (&l.before, &l.after) {
                (None, Some(a)) => format!("{} ({})", usd(a.monthly_usd), describe(a)),
                (Some(b), None) => format!("-{} (was {})", usd(b.monthly_usd), describe(b)),
                (Some(b), Some(a)) if b.monthly_usd == a.monthly_usd => {
                    format!("{} (unchanged)", usd(a.monthly_usd))
                }
                (Some(b), Some(a)) => format!(
                    "{} -> {} ({}; {})",
                    usd(b.monthly_usd),
                    usd(a.monthly_usd),
                    signed(l.delta_usd),
                    describe(a)
                ),
                (None, None) => continue,
            };
            let via = match &l.after {
                Some(a)
                    if !a.from.is_empty()
                        && l.delta_usd != 0.0
                        && matches!(l.action, Action::NoOp | Action::Update) =>
                {
                    format!(" [follows {}]", a.from.join(", "))
                }
                _ => String::new(),
            };
            let _ = writeln!(out, "  {symbol:>3} {:width$}  {figure}{via}", l.id);
        }
        let usage: Vec<String> = self
            .lines
            .iter()
            .filter_map(|l| l.after.as_ref().map(|a| (l, a)))
            .flat_map(|(l, a)| {
                a.usage
                    .iter()
                    .map(move |u| format!("{} {}: ${} per {}", l.id, u.what, u.usd, u.per.label()))
            })
            .collect();
        if !usage.is_empty() {
            let _ = writeln!(out, "  Billed by use, not in the figures above:");
            for u in usage {
                let _ = writeln!(out, "    {u}");
            }
        }
        for (id, missing) in &self.unpriced {
            let _ = writeln!(
                out,
                "  Not priced (no price in the book): {id}: {}",
                missing.join(", ")
            );
        }
        if self.prices_used == 0 && !self.unpriced.is_empty() {
            let _ = writeln!(
                out,
                "  The price book has no prices for this region: `ftctl prices update --region REGION` adds them."
            );
        }
        let _ = writeln!(
            out,
            "  Total: {} -> {} a month ({}); {} with every group and service at its maximum.",
            usd(self.before_usd),
            usd(self.after_usd),
            signed(self.delta_usd),
            usd(self.after_at_max_usd)
        );
        out
    }
}

#[cfg(test)]
mod tests;
