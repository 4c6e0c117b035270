//! Stack files → one validated, typed `Stack`. Handles `extends` (a stage builds on the previous
//! one), `--var` overrides, and errors that name file, line and field. No network here.

pub mod model;
pub mod source;

pub use model::*;
use source::{dotted, Layered, Origin};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in the stack, located.
#[derive(Debug, Clone)]
pub struct StackError {
    pub origin: Option<Origin>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, self.field.is_empty()) {
            (Some(o), false) => write!(f, "{o}: {}: {}", self.field, self.message),
            (Some(o), true) => write!(f, "{o}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.field, self.message),
            (None, true) => write!(f, "{}", self.message),
        }
    }
}

/// All problems found; the stack is refused if there is any.
#[derive(Debug)]
pub struct StackErrors(pub Vec<StackError>);

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "the stack is invalid ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// A validated stack and the files it came from.
#[derive(Debug, Clone)]
pub struct LoadedStack {
    pub stack: Stack,
    /// The file named on the command line, then the ones it extends. Errors name files through
    /// origins, so only tests read this now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub files: Vec<PathBuf>,
    /// Where each value came from, for errors found after loading.
    layered: Layered,
}

impl LoadedStack {
    /// Locates problems found after loading (for example against the configured region).
    pub fn locate(&self, problems: Vec<(String, String)>) -> StackErrors {
        StackErrors(
            problems
                .into_iter()
                .map(|(field, message)| {
                    let path: Vec<String> = field.split('.').map(str::to_string).collect();
                    StackError {
                        origin: self.layered.origin_of(&path).cloned(),
                        field,
                        message,
                    }
                })
                .collect(),
        )
    }
}

/// Resolves `stage1` to `stacks/stage1.toml` (under `stacks_dir`); a path to a file works too.
pub fn resolve_reference(reference: &str, stacks_dir: &Path) -> PathBuf {
    let as_path = PathBuf::from(reference);
    if as_path.is_file() || reference.contains('/') || reference.ends_with(".toml") {
        return as_path;
    }
    stacks_dir.join(format!("{reference}.toml"))
}

pub fn load(path: &Path, vars: &[String]) -> Result<LoadedStack, StackErrors> {
    let one = |origin: Option<Origin>, message: String| {
        StackErrors(vec![StackError {
            origin,
            field: String::new(),
            message,
        }])
    };
    // Read the chain of files: the named one first, then what it extends, outermost last.
    let mut chain: Vec<(PathBuf, source::Parsed)> = Vec::new();
    let mut next = Some((path.to_path_buf(), None::<Origin>));
    while let Some((file, referenced_at)) = next.take() {
        if chain.iter().any(|(p, _)| same_file(p, &file)) {
            return Err(one(
                referenced_at,
                format!("`extends` makes a cycle through {}", file.display()),
            ));
        }
        let bytes = std::fs::read(&file).map_err(|e| {
            one(
                referenced_at.clone(),
                format!("cannot read stack file {}: {e}", file.display()),
            )
        })?;
        let text = source::decode_file(&file, bytes).map_err(|e| one(Some(e.origin), e.message))?;
        let parsed =
            source::parse_file(&file, &text).map_err(|e| one(Some(e.origin), e.message))?;
        if let Some(base) = parsed
            .value
            .get("stack")
            .and_then(|s| s.get("extends"))
            .and_then(|e| e.as_str())
        {
            let at = parsed
                .origins
                .get(&vec!["stack".to_string(), "extends".to_string()])
                .cloned();
            let dir = file.parent().unwrap_or(Path::new("."));
            next = Some((dir.join(base), at));
        }
        chain.push((file, parsed));
    }
    let files: Vec<PathBuf> = chain.iter().map(|(p, _)| p.clone()).collect();
    let mut layered = Layered::new();
    // A missing top-level section is the named file's problem: its first line.
    layered.set_root_origin(Origin::File {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
    });
    let n = chain.len();
    for (i, (_, mut parsed)) in chain.into_iter().rev().enumerate() {
        // `extends` belongs to the file that says it, not to the merged result.
        if i + 1 < n {
            if let Some(s) = parsed
                .value
                .get_mut("stack")
                .and_then(|s| s.as_object_mut())
            {
                s.remove("extends");
            }
        }
        layered.overlay(parsed);
    }
    let vars = source::parse_vars(vars).map_err(|e| one(Some(e.origin), e.message))?;
    layered.overlay(vars);

    let stack: Stack = serde_path_to_error::deserialize(layered.value.clone()).map_err(|e| {
        let mut path: Vec<String> = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let message = e.inner().to_string();
        // For an unknown or missing key, name the key itself (a missing one is located at the
        // table that lacks it, its closest ancestor with an origin).
        if let Some(key) = message
            .strip_prefix("unknown field `")
            .or_else(|| message.strip_prefix("missing field `"))
            .and_then(|rest| rest.split('`').next())
        {
            if path.last().map(String::as_str) != Some(key) {
                path.push(key.to_string());
            }
        }
        StackErrors(vec![StackError {
            origin: layered.origin_of(&path).cloned(),
            field: dotted(&path),
            message,
        }])
    })?;

    let problems = validate(&stack);
    let loaded = LoadedStack {
        stack,
        files,
        layered,
    };
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(loaded.locate(problems))
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Names of tiers, balancers and databases become part of AWS names: keep them short and plain.
fn valid_component_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 12
}

/// Fargate's task sizes: CPU units and the memory (MiB) each allows.
fn fargate_size_ok(cpu: u32, memory: u32) -> bool {
    let (low, high, step) = match cpu {
        256 => return [512, 1024, 2048].contains(&memory),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => return false,
    };
    (low..=high).contains(&memory) && (memory - low) % step == 0
}

fn looks_like_region(region: &str) -> bool {
    region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks that need the deployment's region when the stack does not name one (it comes from
/// the AWS configuration): no replica may sit in the deployment's own region.
pub fn check_region(stack: &Stack, region: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, table) in &stack.tables {
        for (i, r) in table.replica_regions.iter().enumerate() {
            if r == region {
                out.push((
                    format!("tables.{name}.replica_regions.{i}"),
                    format!(
                        "{r} is the deployment's own region: a replica must be in another region"
                    ),
                ));
            }
        }
    }
    out
}

/// Semantic checks the type system cannot express. Returns (dotted field, message) pairs.
pub fn validate(stack: &Stack) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut bad = |field: String, message: String| out.push((field, message));

    if stack.stack.name.trim().is_empty() {
        bad("stack.name".into(), "must not be empty".into());
    }
    if let Some(region) = &stack.stack.region {
        if !looks_like_region(region) {
            bad(
                "stack.region".into(),
                format!("`{region}` is not an AWS region name such as us-east-1"),
            );
        }
    }

    // Network.
    let net = &stack.network;
    match net.cidr.parse::<ipnet::Ipv4Net>() {
        Err(_) => bad(
            "network.cidr".into(),
            format!(
                "`{}` is not an IPv4 CIDR block such as 10.0.0.0/16",
                net.cidr
            ),
        ),
        Ok(cidr) => {
            if cidr.network() != cidr.addr() {
                bad(
                    "network.cidr".into(),
                    format!(
                        "`{}` has host bits set; did you mean {}?",
                        net.cidr,
                        cidr.trunc()
                    ),
                );
            } else if !(16..=28).contains(&cidr.prefix_len()) {
                bad(
                    "network.cidr".into(),
                    "a VPC block must be between /16 and /28".into(),
                );
            } else if net.subnet_prefix < cidr.prefix_len() || net.subnet_prefix > 28 {
                bad(
                    "network.subnet_prefix".into(),
                    format!(
                        "must be between the VPC prefix (/{}) and /28",
                        cidr.prefix_len()
                    ),
                );
            } else {
                let available = 1u64 << (net.subnet_prefix - cidr.prefix_len());
                let needed = 2 * net.az_count as u64;
                if needed > available {
                    bad(
                        "network.subnet_prefix".into(),
                        format!(
                            "{needed} subnets (a public and a private one per AZ) of /{} do not fit in {}",
                            net.subnet_prefix, net.cidr
                        ),
                    );
                }
            }
        }
    }
    if net.az_count < 2 {
        bad(
            "network.az_count".into(),
            format!(
                "is {}: a highly available stack needs at least 2 availability zones",
                net.az_count
            ),
        );
    } else if net.az_count > 6 {
        bad("network.az_count".into(), "at most 6 zones".into());
    }
    if let Some(zones) = &net.availability_zones {
        for (i, zone) in zones.iter().enumerate() {
            // Zone names go into AWS names and tags; anything else would only fail at apply.
            let ok = (1..=32).contains(&zone.len())
                && zone
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                bad(
                    format!("network.availability_zones.{i}"),
                    format!(
                        "`{}` is not an availability zone name such as us-east-1a",
                        zone.escape_debug()
                    ),
                );
            }
        }
        let distinct: BTreeSet<&String> = zones.iter().collect();
        if distinct.len() != zones.len() {
            bad(
                "network.availability_zones".into(),
                "lists a zone twice".into(),
            );
        }
        if (zones.len() as u32) < net.az_count {
            bad(
                "network.availability_zones".into(),
                format!(
                    "names {} zones but az_count is {}",
                    zones.len(),
                    net.az_count
                ),
            );
        }
    }

    // Load balancers.
    for (name, lb) in &stack.load_balancers {
        let at = format!("load_balancers.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        for (i, cidr) in lb.allow_cidrs.iter().enumerate() {
            if cidr.parse::<ipnet::Ipv4Net>().is_err() {
                bad(
                    format!("{at}.allow_cidrs.{i}"),
                    format!("`{cidr}` is not an IPv4 CIDR block"),
                );
            }
        }
        if lb.scheme == Scheme::Internal && lb.allow_cidrs.iter().any(|c| c == "0.0.0.0/0") {
            bad(
                format!("{at}.allow_cidrs"),
                "an internal balancer must not be open to 0.0.0.0/0".into(),
            );
        }
        for (i, tier) in lb.allow_from.iter().enumerate() {
            if !stack.tiers.contains_key(tier) {
                bad(
                    format!("{at}.allow_from.{i}"),
                    format!("no tier named `{tier}`"),
                );
            }
        }
        if lb.port == 0 {
            bad(format!("{at}.port"), "must be a port number".into());
        }
        check_policy(&mut bad, &format!("{at}.alarms.elb_5xx"), lb.alarms.elb_5xx);
    }

    // Tiers.
    for (name, tier) in &stack.tiers {
        let at = format!("tiers.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if !stack.load_balancers.contains_key(&tier.load_balancer) {
            bad(
                format!("{at}.load_balancer"),
                format!("no load balancer named `{}`", tier.load_balancer),
            );
        }
        for (i, t) in tier.fallback_instance_types.iter().enumerate() {
            let earlier = &tier.fallback_instance_types[..i];
            if t.trim().is_empty() || t == &tier.instance_type || earlier.contains(t) {
                bad(
                    format!("{at}.fallback_instance_types.{i}"),
                    "must be an instance type other than instance_type and the others listed"
                        .into(),
                );
            }
        }
        if tier.instance_type.trim().is_empty() {
            bad(format!("{at}.instance_type"), "must not be empty".into());
        }
        if tier.image.trim().is_empty() {
            bad(format!("{at}.image"), "must not be empty".into());
        }
        if tier.min_size > tier.max_size {
            bad(
                format!("{at}.min_size"),
                format!(
                    "min_size ({}) is greater than max_size ({})",
                    tier.min_size, tier.max_size
                ),
            );
        } else if tier.desired_capacity < tier.min_size || tier.desired_capacity > tier.max_size {
            bad(
                format!("{at}.desired_capacity"),
                format!(
                    "desired_capacity ({}) must lie between min_size ({}) and max_size ({})",
                    tier.desired_capacity, tier.min_size, tier.max_size
                ),
            );
        }
        if tier.max_size == 0 {
            bad(format!("{at}.max_size"), "must be at least 1".into());
        }
        if !tier.health_check_path.starts_with('/') {
            bad(
                format!("{at}.health_check_path"),
                "must start with /".into(),
            );
        }
        if !(1.0..=100.0).contains(&tier.target_cpu_percent) {
            bad(
                format!("{at}.target_cpu_percent"),
                "must be between 1 and 100".into(),
            );
        }
        if tier.port == 0 {
            bad(format!("{at}.port"), "must be a port number".into());
        }
        if tier.volume_size_gb == 0 {
            bad(format!("{at}.volume_size_gb"), "must be at least 1".into());
        }
        check_policy(
            &mut bad,
            &format!("{at}.capacity_alarm"),
            tier.capacity_alarm,
        );
    }

    // Databases.
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
                "1-16 letters, digits or _, starting with a letter, and not a reserved name".into(),
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
        check_policy(&mut bad, &format!("{at}.alarm"), db.alarm);
    }

    // Caches.
    for (name, cache) in &stack.caches {
        let at = format!("caches.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if !cache.node_type.starts_with("cache.") {
            bad(
                format!("{at}.node_type"),
                format!(
                    "`{}` is not a cache node type such as cache.r7g.large",
                    cache.node_type
                ),
            );
        }
        let version_ok = cache
            .engine_version
            .split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 6);
        if !version_ok {
            bad(
                format!("{at}.engine_version"),
                format!(
                    "`{}`: encryption in transit and Multi-AZ need Redis 6 or later",
                    cache.engine_version
                ),
            );
        }
        if cache.shards == 0 || cache.shards > 500 {
            bad(format!("{at}.shards"), "must be between 1 and 500".into());
        } else if !cache.cluster_mode && cache.shards != 1 {
            bad(
                format!("{at}.shards"),
                "more than one shard needs cluster_mode = true".into(),
            );
        }
        if cache.replicas_per_shard > 5 {
            bad(
                format!("{at}.replicas_per_shard"),
                "at most 5 replicas per shard".into(),
            );
        }
        if cache.automatic_failover && cache.replicas_per_shard == 0 {
            bad(
                format!("{at}.replicas_per_shard"),
                "is 0 with automatic_failover on: failover needs a replica to promote".into(),
            );
        }
        if cache.multi_az && !cache.automatic_failover {
            bad(
                format!("{at}.multi_az"),
                "Multi-AZ needs automatic_failover = true".into(),
            );
        }
        if cache.cluster_mode && !cache.automatic_failover {
            bad(
                format!("{at}.automatic_failover"),
                "cluster mode needs automatic failover".into(),
            );
        }
        if cache.snapshot_retention_days == 0 || cache.snapshot_retention_days > 35 {
            bad(
                format!("{at}.snapshot_retention_days"),
                "must be between 1 and 35 days: a cache without snapshots cannot be recovered"
                    .into(),
            );
        }
        if cache.port == 0 {
            bad(format!("{at}.port"), "must be a port number".into());
        }
        for (i, tier) in cache.allow_from.iter().enumerate() {
            if !stack.tiers.contains_key(tier) {
                bad(
                    format!("{at}.allow_from.{i}"),
                    format!("no tier named `{tier}`"),
                );
            }
        }
        let scaling = &cache.autoscaling;
        if scaling.enabled {
            if !cache.cluster_mode {
                bad(
                    format!("{at}.autoscaling.enabled"),
                    "ElastiCache auto scaling needs cluster_mode = true".into(),
                );
            }
            if cache.node_type.starts_with("cache.t") {
                bad(
                    format!("{at}.autoscaling.enabled"),
                    format!(
                        "ElastiCache auto scaling does not support burstable nodes ({})",
                        cache.node_type
                    ),
                );
            }
            if scaling.min_replicas > scaling.max_replicas || scaling.max_replicas > 5 {
                bad(
                    format!("{at}.autoscaling.max_replicas"),
                    "min_replicas <= max_replicas <= 5".into(),
                );
            } else if cache.replicas_per_shard < scaling.min_replicas
                || cache.replicas_per_shard > scaling.max_replicas
            {
                bad(
                    format!("{at}.replicas_per_shard"),
                    format!(
                        "{} lies outside autoscaling's {}..{}",
                        cache.replicas_per_shard, scaling.min_replicas, scaling.max_replicas
                    ),
                );
            }
            if cache.automatic_failover && scaling.min_replicas == 0 {
                bad(
                    format!("{at}.autoscaling.min_replicas"),
                    "must be at least 1 with automatic failover on".into(),
                );
            }
            if !(1.0..=100.0).contains(&scaling.target_cpu_percent) {
                bad(
                    format!("{at}.autoscaling.target_cpu_percent"),
                    "must be between 1 and 100".into(),
                );
            }
        }
        if !(1.0..=100.0).contains(&cache.cpu_alarm_percent) {
            bad(
                format!("{at}.cpu_alarm_percent"),
                "must be between 1 and 100".into(),
            );
        }
        if cache.replication_lag_alarm_seconds <= 0.0 {
            bad(
                format!("{at}.replication_lag_alarm_seconds"),
                "must be above 0".into(),
            );
        }
        check_policy(&mut bad, &format!("{at}.alarm"), cache.alarm);
    }

    // Tables.
    for (name, table) in &stack.tables {
        let at = format!("tables.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        let key_ok = |k: &str| {
            !k.is_empty()
                && k.len() <= 255
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if !key_ok(&table.partition_key.name) {
            bad(
                format!("{at}.partition_key.name"),
                "1-255 letters, digits, _ - or .".into(),
            );
        }
        if let Some(sort) = &table.sort_key {
            if !key_ok(&sort.name) {
                bad(
                    format!("{at}.sort_key.name"),
                    "1-255 letters, digits, _ - or .".into(),
                );
            } else if sort.name == table.partition_key.name {
                bad(
                    format!("{at}.sort_key.name"),
                    "must differ from the partition key".into(),
                );
            }
        }
        match table.billing_mode {
            BillingMode::OnDemand => {
                if table.read_capacity.is_some() || table.write_capacity.is_some() {
                    bad(
                        format!("{at}.read_capacity"),
                        "capacity units apply only with billing_mode = \"provisioned\"".into(),
                    );
                }
            }
            BillingMode::Provisioned => {
                for (field, value) in [
                    ("read_capacity", table.read_capacity),
                    ("write_capacity", table.write_capacity),
                ] {
                    if value.unwrap_or(0) == 0 {
                        bad(
                            format!("{at}.{field}"),
                            "billing_mode = \"provisioned\" needs at least 1 unit".into(),
                        );
                    }
                }
                // DynamoDB refuses a replica of a provisioned table whose write capacity is not
                // auto scaled ("Table write capacity should either be Pay-Per-Request or
                // AutoScaled"), and ftctl does not auto scale table capacity.
                if !table.replica_regions.is_empty() {
                    bad(
                        format!("{at}.billing_mode"),
                        "a global table (replica_regions) needs billing_mode = \"on-demand\": \
                         DynamoDB accepts replicas of a provisioned table only with write \
                         capacity auto scaling, which ftctl does not manage"
                            .into(),
                    );
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, region) in table.replica_regions.iter().enumerate() {
            let field = format!("{at}.replica_regions.{i}");
            if !looks_like_region(region) {
                bad(
                    field,
                    format!("`{region}` is not an AWS region name such as us-west-2"),
                );
            } else if !seen.insert(region) {
                bad(field, format!("lists {region} twice"));
            } else if stack.stack.region.as_deref() == Some(region.as_str()) {
                bad(
                    field,
                    format!(
                        "{region} is the deployment's own region: a replica must be in another region"
                    ),
                );
            }
        }
        if table.replication_latency_alarm_ms <= 0.0 {
            bad(
                format!("{at}.replication_latency_alarm_ms"),
                "must be above 0".into(),
            );
        }
        check_policy(&mut bad, &format!("{at}.alarm"), table.alarm);
    }

    // Tracing.
    let tracing = &stack.tracing;
    if tracing.enabled {
        if tracing.tiers.is_empty() {
            bad(
                "tracing.tiers".into(),
                "name the tiers to trace, e.g. [\"app\"] (or set enabled = false)".into(),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, tier) in tracing.tiers.iter().enumerate() {
            if !stack.tiers.contains_key(tier) {
                bad(
                    format!("tracing.tiers.{i}"),
                    format!("no tier named `{tier}`"),
                );
            } else if !seen.insert(tier) {
                bad(
                    format!("tracing.tiers.{i}"),
                    format!("`{tier}` is listed twice"),
                );
            }
        }
        if !(0.0..=100.0).contains(&tracing.sample_percent) || tracing.sample_percent.is_nan() {
            bad(
                "tracing.sample_percent".into(),
                format!("is {}: a percentage from 0 to 100", tracing.sample_percent),
            );
        }
        if tracing.reservoir_per_second > 10_000 {
            bad(
                "tracing.reservoir_per_second".into(),
                "at most 10000 traced requests per second".into(),
            );
        }
    }

    // Services.
    for (name, svc) in &stack.services {
        let at = format!("services.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if stack.tiers.contains_key(name) {
            bad(
                at.clone(),
                format!("a tier is already named `{name}`: services and tiers share names in AWS"),
            );
        }
        if !stack.load_balancers.contains_key(&svc.load_balancer) {
            bad(
                format!("{at}.load_balancer"),
                format!("no load balancer named `{}`", svc.load_balancer),
            );
        }
        if svc.path_patterns.is_empty() || svc.path_patterns.len() > 5 {
            bad(
                format!("{at}.path_patterns"),
                "1 to 5 path patterns (one listener rule condition)".into(),
            );
        }
        for (i, pattern) in svc.path_patterns.iter().enumerate() {
            if !pattern.starts_with('/') || pattern.len() > 128 {
                bad(
                    format!("{at}.path_patterns.{i}"),
                    format!("`{pattern}` must start with / (at most 128 characters)"),
                );
            }
        }
        if svc.image.trim().is_empty() {
            bad(format!("{at}.image"), "must not be empty".into());
        }
        if !fargate_size_ok(svc.cpu, svc.memory) {
            bad(
                format!("{at}.memory"),
                format!(
                    "cpu {} with memory {} MiB is not a Fargate size (e.g. 256 with 512-2048, 512 with 1024-4096, 1024 with 2048-8192)",
                    svc.cpu, svc.memory
                ),
            );
        }
        if svc.container_port == 0 {
            bad(
                format!("{at}.container_port"),
                "must be a port number".into(),
            );
        }
        if !svc.health_check_path.starts_with('/') {
            bad(
                format!("{at}.health_check_path"),
                "must start with /".into(),
            );
        }
        if svc.desired_count == 0 {
            bad(
                format!("{at}.desired_count"),
                "must be at least 1 (2 or more to survive losing a task or a zone)".into(),
            );
        }
        if svc.autoscaling.enabled {
            let s = &svc.autoscaling;
            if s.min_tasks == 0 || s.min_tasks > s.max_tasks {
                bad(
                    format!("{at}.autoscaling.min_tasks"),
                    "1 <= min_tasks <= max_tasks".into(),
                );
            } else if svc.desired_count < s.min_tasks || svc.desired_count > s.max_tasks {
                bad(
                    format!("{at}.desired_count"),
                    format!(
                        "{} lies outside autoscaling's {}..{}",
                        svc.desired_count, s.min_tasks, s.max_tasks
                    ),
                );
            }
            if !(1.0..=100.0).contains(&s.target_cpu_percent) {
                bad(
                    format!("{at}.autoscaling.target_cpu_percent"),
                    "must be between 1 and 100".into(),
                );
            }
        }
        if let Some(fs) = &svc.file_system {
            if !stack.file_systems.contains_key(fs) {
                bad(
                    format!("{at}.file_system"),
                    format!("no file system named `{fs}`"),
                );
            }
        }
        if !svc.mount_path.starts_with('/') {
            bad(
                format!("{at}.mount_path"),
                "must be an absolute path".into(),
            );
        }
        const RETENTION: [u32; 22] = [
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
            2922, 3288, 3653,
        ];
        if !RETENTION.contains(&svc.log_retention_days) {
            bad(
                format!("{at}.log_retention_days"),
                "one of CloudWatch Logs' periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ... days".into(),
            );
        }
        for (field, value) in [
            ("cpu_alarm_percent", svc.cpu_alarm_percent),
            ("memory_alarm_percent", svc.memory_alarm_percent),
        ] {
            if !(1.0..=100.0).contains(&value) {
                bad(format!("{at}.{field}"), "must be between 1 and 100".into());
            }
        }
        check_policy(&mut bad, &format!("{at}.running_alarm"), svc.running_alarm);
    }

    // File systems.
    for (name, fs) in &stack.file_systems {
        let at = format!("file_systems.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if !fs.root_path.starts_with('/') || fs.root_path == "/" {
            bad(
                format!("{at}.root_path"),
                "an absolute directory below / (clients are rooted there)".into(),
            );
        }
        if !(1.0..=100.0).contains(&fs.io_limit_alarm_percent) {
            bad(
                format!("{at}.io_limit_alarm_percent"),
                "must be between 1 and 100".into(),
            );
        }
        check_policy(&mut bad, &format!("{at}.alarm"), fs.alarm);
    }

    // EMR clusters.
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
        check_policy(
            &mut bad,
            &format!("{at}.unhealthy_alarm"),
            c.unhealthy_alarm,
        );
    }

    // DNS.
    if let Some(dns) = &stack.dns {
        let label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        let zone = dns.zone.trim_end_matches('.');
        if zone.split('.').count() < 2 || !zone.split('.').all(label) {
            bad(
                "dns.zone".into(),
                format!(
                    "`{}` is not a domain name such as shop.mycompany.com",
                    dns.zone
                ),
            );
        } else if let Some(reserved) = reserved_domain(zone) {
            bad(
                "dns.zone".into(),
                format!(
                    "`{}` is under {reserved}, which is reserved for documentation and testing \
                     (RFC 2606, RFC 6761) and refused by Route 53: use a domain you own, or a \
                     private zone such as shop.internal",
                    dns.zone
                ),
            );
        }
        if !label(&dns.record) {
            bad(
                "dns.record".into(),
                format!("`{}` is not a DNS label such as www", dns.record),
            );
        }
        match stack.load_balancers.get(&dns.load_balancer) {
            None => bad(
                "dns.load_balancer".into(),
                format!("no load balancer named `{}`", dns.load_balancer),
            ),
            Some(lb) if lb.scheme == Scheme::Internal && !dns.private => bad(
                "dns.private".into(),
                "a public zone pointing at an internal balancer would publish a private address"
                    .into(),
            ),
            Some(lb) if !dns.private && lb.port == HTTPS_PORT => bad(
                format!("load_balancers.{}.port", dns.load_balancer),
                format!(
                    "the balancer a public zone names serves HTTPS on {0} and redirects its own \
                     port there: its port cannot also be {0} (use 80)",
                    HTTPS_PORT
                ),
            ),
            Some(_) => {}
        }
        if !dns.health_check_path.starts_with('/') {
            bad("dns.health_check_path".into(), "must start with /".into());
        }
        check_policy(&mut bad, "dns.health_alarm", dns.health_alarm);
    }

    // Notifications.
    for (i, email) in stack.notifications.emails.iter().enumerate() {
        let ok = email
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'));
        if !ok {
            bad(
                format!("notifications.emails.{i}"),
                format!("`{email}` is not an e-mail address"),
            );
        }
    }
    for (i, url) in stack.notifications.https_endpoints.iter().enumerate() {
        if !url.starts_with("https://") {
            bad(
                format!("notifications.https_endpoints.{i}"),
                "must be an https:// URL".into(),
            );
        }
    }
    for (i, arn) in stack.notifications.sqs_queue_arns.iter().enumerate() {
        if !arn.starts_with("arn:") || !arn.contains(":sqs:") {
            bad(
                format!("notifications.sqs_queue_arns.{i}"),
                "must be an SQS queue ARN".into(),
            );
        }
    }
    // The public subnets' ACL admits each (listener port, allowed CIDR) of the internet-facing
    // balancers, plus three rules of its own; an ACL takes 20 inbound rules unless the quota
    // is raised (Amazon VPC quotas, "Rules per network ACL").
    let public_in = stack.internet_ingress();
    if public_in.len() > 17 {
        out.push((
            "load_balancers".into(),
            format!(
                "the internet-facing balancers admit {} (port, CIDR) pairs; their subnets' network \
                 ACL holds 17 of them besides its own 3 rules (20 inbound rules per ACL): admit \
                 fewer, wider CIDR blocks",
                public_in.len()
            ),
        ));
    }
    out.extend(check_egress(stack));
    out.extend(check_opt_outs(stack));
    // Last, on an otherwise valid stack (which always expands): what the opt-outs cover.
    if out.is_empty() {
        out.extend(check_opt_out_resources(stack));
    }
    out
}

/// Interface endpoints a stack may ask for: the services its instances, tasks and clusters
/// call, and those an operator commonly adds (Session Manager, secrets, keys, queues).
const KNOWN_ENDPOINTS: [&str; 16] = [
    "monitoring",
    "xray",
    "logs",
    "ecr.api",
    "ecr.dkr",
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "elasticmapreduce",
    "ssm",
    "ssmmessages",
    "ec2messages",
    "sts",
    "secretsmanager",
    "kms",
    "sqs",
];

/// Opt-outs name a control `check` applies and give a reason.
fn check_opt_outs(stack: &Stack) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, o) in stack.opt_out.iter().enumerate() {
        if crate::check::control(&o.control).is_none() {
            out.push((
                format!("opt_out.{i}.control"),
                format!(
                    "`{}` is not a control ftctl checks (docs/controls.md lists them)",
                    o.control
                ),
            ));
        }
        if o.reason.trim().len() < 10 {
            out.push((
                format!("opt_out.{i}.reason"),
                "say why the stack does not meet the control (10 characters or more)".into(),
            ));
        }
    }
    out
}

/// The resources an opt-out names are resources of the stack, or groups of them, as `check`
/// names them: an id (`lb.public.listener`) or a dot-separated start of ids (`lb.public`,
/// `network`). Read from the stack's expansion, so every id `check` can report is accepted and
/// nothing else.
fn check_opt_out_resources(stack: &Stack) -> Vec<(String, String)> {
    if stack.opt_out.iter().all(|o| o.resources.is_empty()) {
        return Vec::new();
    }
    let zones: Vec<String> = (1..=stack.network.az_count)
        .map(|i| format!("zone-{i}"))
        .collect();
    let region = stack.stack.region.as_deref().unwrap_or("us-east-1");
    let Ok(specs) = crate::expand::expand(stack, "check", region, &zones) else {
        return Vec::new();
    };
    let covers = |r: &str| {
        specs
            .iter()
            .any(|s| s.id == r || s.id.strip_prefix(r).is_some_and(|t| t.starts_with('.')))
    };
    // For the message: the components (`lb.public`, `network`, `alarm`), not every id.
    let mut components: Vec<&str> = specs
        .iter()
        .map(|s| {
            let parts: Vec<&str> = s.id.splitn(3, '.').collect();
            match parts.as_slice() {
                [kind, name, ..] if !matches!(*kind, "network" | "alarm") => {
                    &s.id[..kind.len() + 1 + name.len()]
                }
                [kind, ..] => kind,
                [] => "",
            }
        })
        .collect();
    components.sort();
    components.dedup();
    let mut out = Vec::new();
    for (i, o) in stack.opt_out.iter().enumerate() {
        for (j, r) in o.resources.iter().enumerate() {
            if !covers(r) {
                out.push((
                    format!("opt_out.{i}.resources.{j}"),
                    format!(
                        "`{r}` names no resource of this stack; write a resource as check names \
                         it, or its start: {}",
                        components.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

/// What a private subnet must reach for each component to work on AWS, checked before any call:
/// with `nat = "none"` only the VPC endpoints lead out, and a component whose service has none
/// fails on AWS long after apply started (a Fargate task that cannot pull its image, an
/// instance that cannot publish its metrics) although every emulator accepts it. EMR needs only
/// S3, whose gateway endpoint is always made.
fn check_egress(stack: &Stack) -> Vec<(String, String)> {
    let net = &stack.network;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, e) in net.endpoints.iter().enumerate() {
        if !KNOWN_ENDPOINTS.contains(&e.as_str()) {
            out.push((
                format!("network.endpoints.{i}"),
                format!(
                    "`{e}` is not an interface endpoint ftctl knows; known: {} (S3's gateway \
                     endpoint is always made)",
                    KNOWN_ENDPOINTS.join(", ")
                ),
            ));
        } else if !seen.insert(e.as_str()) {
            out.push((
                format!("network.endpoints.{i}"),
                format!("`{e}` is listed twice"),
            ));
        }
    }
    if net.nat != NatMode::None {
        return out;
    }
    let missing = |needed: &[&str]| -> Vec<String> {
        needed
            .iter()
            .filter(|n| !net.endpoints.iter().any(|e| e == *n))
            .map(|n| format!("\"{n}\""))
            .collect()
    };
    let mut needs: Vec<(String, String)> = Vec::new();
    let mut need = |what: String, needed: &[&str]| {
        let missing = missing(needed);
        if !missing.is_empty() {
            needs.push((
                "network.nat".into(),
                format!(
                    "{what}, but with nat = \"none\" the private subnets reach no AWS service but \
                     S3: set nat = \"per-az\" (or \"single\"), or add {} to network.endpoints",
                    missing.join(", ")
                ),
            ));
        }
    };
    // Every tier's user data publishes its requests per minute to CloudWatch.
    if let Some(tier) = stack.tiers.keys().next() {
        need(
            format!("tier {tier}'s instances publish metrics to CloudWatch"),
            &["monitoring"],
        );
    }
    // The SSM Agent registers and takes sessions through these three (SSM User Guide, "Improve
    // the security of EC2 instances by using VPC endpoints for Systems Manager").
    if let Some((tier, _)) = stack.tiers.iter().find(|(_, t)| t.ssm) {
        need(
            format!("tier {tier}'s instances are managed by Systems Manager (ssm = true)"),
            &["ssm", "ssmmessages", "ec2messages"],
        );
    }
    if stack.tracing.enabled {
        if let Some(tier) = stack.tracing.tiers.first() {
            need(
                format!("tier {tier}'s instances send traces to X-Ray"),
                &["xray"],
            );
        }
    }
    for (name, svc) in &stack.services {
        if is_private_ecr(&svc.image) {
            // Fargate pulls from private ECR through ecr.api and ecr.dkr (layers come from S3
            // through the gateway endpoint) and ships logs through logs (Amazon ECR User
            // Guide, "Amazon ECR interface VPC endpoints").
            need(
                format!("service {name}'s tasks pull from ECR and log to CloudWatch Logs"),
                &["ecr.api", "ecr.dkr", "logs"],
            );
        } else {
            out.push((
                format!("services.{name}.image"),
                format!(
                    "`{}` is pulled from outside AWS's private registry, which has no VPC endpoint, \
                     and with nat = \"none\" the tasks cannot reach it: set network.nat = \
                     \"per-az\" (or \"single\"), or use an image in your account's ECR \
                     (ACCOUNT.dkr.ecr.REGION.amazonaws.com/...) with network.endpoints \
                     \"ecr.api\", \"ecr.dkr\" and \"logs\"",
                    svc.image
                ),
            ));
        }
    }
    out.extend(needs);
    out
}

/// An image in an account's private ECR registry (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/...`).
fn is_private_ecr(image: &str) -> bool {
    image
        .split('/')
        .next()
        .is_some_and(|host| host.contains(".dkr.ecr.") && host.ends_with(".amazonaws.com"))
}

fn check_policy(bad: &mut impl FnMut(String, String), at: &str, policy: AlarmPolicy) {
    // PutMetricAlarm accepts 10 and 30 s periods only for high-resolution metrics; every alarm
    // ftctl makes watches an AWS/* metric, published once a minute, so a shorter period never
    // sees a data point (INSUFFICIENT_DATA, or ALARM where missing data breaches).
    let p = policy.period_seconds;
    if p == 0 || p % 60 != 0 {
        bad(
            format!("{at}.period_seconds"),
            "must be a multiple of 60: AWS publishes these metrics once a minute, so a shorter \
             period would never have a data point"
                .into(),
        );
    }
    if policy.evaluation_periods == 0 || policy.window_seconds() > 86_400 {
        bad(
            format!("{at}.evaluation_periods"),
            "must be at least 1, and the window at most one day".into(),
        );
    }
}

/// The reserved name a zone is under, if any: names for documentation (RFC 2606: example.com,
/// example.net, example.org) and special-use top-level names (RFC 6761: .test, .invalid,
/// .localhost, .example). Route 53 refuses the example domains ("InvalidDomainName ... is
/// reserved by AWS"); the others can never be delegated.
pub fn reserved_domain(zone: &str) -> Option<&'static str> {
    const RESERVED: [&str; 7] = [
        "example.com",
        "example.net",
        "example.org",
        "example",
        "test",
        "invalid",
        "localhost",
    ];
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    RESERVED
        .into_iter()
        .find(|r| zone == *r || zone.ends_with(&format!(".{r}")))
}

/// The VPC address plan: public subnets first, then private ones, one per AZ each.
pub fn subnet_cidrs(network: &Network) -> Option<(Vec<String>, Vec<String>)> {
    let cidr: ipnet::Ipv4Net = network.cidr.parse().ok()?;
    let mut subnets = cidr.subnets(network.subnet_prefix).ok()?;
    let n = network.az_count as usize;
    let public: Vec<String> = (&mut subnets).take(n).map(|s| s.to_string()).collect();
    let private: Vec<String> = subnets.take(n).map(|s| s.to_string()).collect();
    (public.len() == n && private.len() == n).then_some((public, private))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
