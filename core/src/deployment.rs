//! Who owns a resource: the deployment's name and stack, the rules for the AWS names built
//! from them, and the tags that mark a resource as the deployment's (ftctl keeps no local
//! state: these tags are how it finds what it made).

use sha2::{Digest, Sha256};

pub const TAG_DEPLOYMENT: &str = "ftctl:deployment";
pub const TAG_STACK: &str = "ftctl:stack";
pub const TAG_LOGICAL_ID: &str = "ftctl:logical-id";
/// Marks a resource whose size Application Auto Scaling manages (see the ftctl crate's `aws::app_autoscaling`).
pub const TAG_SCALED_BY: &str = "ftctl:scaled-by";
/// On a DynamoDB table: the stack's recovery point objective in seconds (`tables.X.rpo_seconds`),
/// what `ftctl chaos` holds the data its marker writes lost to.
pub const TAG_RPO_SECONDS: &str = "ftctl:rpo-seconds";
/// Marks a DynamoDB table replica (value: the home table's region).
pub const TAG_REPLICA_OF: &str = "ftctl:replica-of";
/// On a resource made outside the deployment's region (the Route 53 health check's alarm and
/// its topic, in us-east-1): the deployment's own region, so the same deployment name living in
/// that other region never counts it as its own.
pub const TAG_HOME_REGION: &str = "ftctl:region";

/// The deployment a set of resources belongs to.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub env: String,
    pub stack: String,
}

/// Checks a deployment name: it becomes part of every AWS name.
pub fn validate_env(env: &str) -> Result<(), String> {
    let ok = (1..=16).contains(&env.len())
        && env.starts_with(|c: char| c.is_ascii_lowercase())
        && env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !env.ends_with('-')
        && !env.contains("--");
    if !ok {
        return Err(format!(
            "deployment name `{env}` must be 1-16 lowercase letters, digits or single hyphens, starting with a letter"
        ));
    }
    // Names start with the deployment's: AWS reserves these starts (CreateLoadBalancer: not
    // `internal-`; CreateSecurityGroup: not `sg-`; S3 bucket naming rules: not `sthree-`,
    // `amzn-s3-demo-`).
    for reserved in ["internal", "sg", "sthree", "amzn-s3-demo"] {
        if env == reserved || env.starts_with(&format!("{reserved}-")) {
            return Err(format!(
                "deployment name `{env}` would start AWS names with `{reserved}-`, which AWS reserves"
            ));
        }
    }
    Ok(())
}

/// An AWS name for a resource, at most `max` characters. Long names keep their start and get a
/// short hash so they stay unique and stable.
pub fn physical_name(env: &str, suffix: &str, max: usize) -> String {
    let full = format!("{env}-{suffix}");
    if full.len() <= max {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    let mut keep = max - hash.len() - 1;
    // Cut between characters: a byte index inside one panics (found by fuzzing).
    while !full.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{hash}", full[..keep].trim_end_matches('-'))
}

/// A name for a resource of a global service (IAM): unique per account, not per region, so it
/// carries the region. The same deployment name in two regions is two deployments, and
/// destroying one never touches the other's roles.
pub fn global_name(env: &str, region: &str, suffix: &str, max: usize) -> String {
    physical_name(env, &format!("{suffix}-{region}"), max)
}

/// The deployment's CloudTrail trail, found by this name: it carries the region because a
/// multi-region trail shows (as a shadow trail) in every region under its one name.
pub fn trail_name(env: &str, region: &str) -> String {
    physical_name(env, &format!("{region}-trail"), 128)
}
