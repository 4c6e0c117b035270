//! Stack files → one validated, typed `Stack`. Handles `extends` (a stage builds on the previous
//! one), `--var` overrides, and errors that name file, line and field. No network here.

pub mod model;
pub mod source;

pub use model::*;
use source::{dotted, Layered, Origin};
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
        write_problems(f, "stack", &self.0)
    }
}

/// "the WHAT is invalid (N problems):" and one located problem per line, for stack and
/// scenario files alike.
pub fn write_problems(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    errors: &[StackError],
) -> fmt::Result {
    let n = errors.len();
    writeln!(
        f,
        "the {what} is invalid ({n} problem{}):",
        if n == 1 { "" } else { "s" }
    )?;
    for e in errors {
        writeln!(f, "  {e}")?;
    }
    Ok(())
}

/// Locates problems found after reading, given as (dotted field, message), at the place each
/// field (or its closest ancestor) was written.
pub fn locate(layered: &Layered, problems: Vec<(String, String)>) -> Vec<StackError> {
    problems
        .into_iter()
        .map(|(field, message)| {
            let path: Vec<String> = field.split('.').map(str::to_string).collect();
            StackError {
                origin: layered.origin_of(&path).cloned(),
                field,
                message,
            }
        })
        .collect()
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
        StackErrors(locate(&self.layered, problems))
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
        layered.overlay_file(parsed);
    }
    let vars = source::parse_vars(vars).map_err(|e| one(Some(e.origin), e.message))?;
    layered.overlay(vars);

    let stack: Stack = deserialize_located(&layered).map_err(|e| StackErrors(vec![e]))?;

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

/// Deserializes a layered document, locating the first error at the key it is about (the
/// file, line and field), as stack and scenario files report it.
pub fn deserialize_located<T: serde::de::DeserializeOwned>(
    layered: &Layered,
) -> Result<T, StackError> {
    serde_path_to_error::deserialize(layered.value.clone()).map_err(|e| {
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
        StackError {
            origin: layered.origin_of(&path).cloned(),
            field: dotted(&path),
            message,
        }
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Names of tiers, balancers and databases become part of AWS names: keep them short and plain.
pub(crate) fn valid_component_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 12
}

/// Fargate's task sizes: CPU units and the memory (MiB) each allows.
pub(crate) fn fargate_size_ok(cpu: u32, memory: u32) -> bool {
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

/// An e-mail address as far as can be told without sending to it: a user, `@`, a domain with a
/// dot inside it, no whitespace. Used for the stack's notification addresses and `--mail-to`.
pub fn looks_like_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.contains(char::is_whitespace)
    })
}

pub(crate) fn looks_like_region(region: &str) -> bool {
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

    for component in crate::component::COMPONENTS {
        component.validate(stack, &mut bad);
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

pub(crate) fn check_policy(bad: &mut dyn FnMut(String, String), at: &str, policy: AlarmPolicy) {
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
