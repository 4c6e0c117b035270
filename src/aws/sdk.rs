//! The toolbox every provider uses: SDK errors, retries and waits, attribute getters,
//! concurrent reads.

use crate::resource::{Observed, ResourceSpec, Val};
use anyhow::{anyhow, Result};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::time::Duration;

/// How many per-resource reads (tags, policies: what a listing leaves out) one kind has in
/// flight while reading a deployment: a plan waits for their latency, not their number.
pub const READS_AT_ONCE: usize = 8;

/// `read` for every item, `READS_AT_ONCE` at a time, results in the items' order; `None`s
/// (not the deployment's) are left out.
pub async fn read_each<T, R, F, Fut>(items: impl IntoIterator<Item = T>, read: F) -> Result<Vec<R>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<Option<R>>>,
{
    use futures::{StreamExt, TryStreamExt};
    let read: Vec<Option<R>> = futures::stream::iter(items.into_iter().map(read))
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(read.into_iter().flatten().collect())
}

/// An SDK call that got no AWS answer: nothing came back (the endpoint is down, unreachable or
/// too slow) or something that is not AWS answered. The resource's endpoint is added where the
/// kind is known (`AwsCloud`), so the message says where ftctl was sending requests.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EndpointProblem(String);

/// An error from an SDK call, as one line: what ftctl was doing, the AWS error code and message.
pub fn aws_error<E>(doing: &str, err: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let detail = match (err.code(), &err) {
        (Some(code), _) => format!("{code}: {}", err.message().unwrap_or("(no message)")),
        // An answer that is not an AWS error (a proxy, an endpoint that is not AWS): show what
        // came back rather than the SDK's internals.
        (None, SdkError::ServiceError(service)) => {
            let raw = service.raw();
            let body = raw
                .body()
                .bytes()
                .map(|b| one_line(&String::from_utf8_lossy(b)))
                .unwrap_or_default();
            return EndpointProblem(format!(
                "{doing}: HTTP {} from the endpoint: {body}",
                raw.status().as_u16()
            ))
            .into();
        }
        (None, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => {
            // The innermost cause says it plainly ("connection refused", "connection closed
            // before message completed"); the layers above it are the SDK's plumbing.
            let mut cause: &dyn std::error::Error = &err;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            let what = if matches!(err, SdkError::TimeoutError(_)) {
                "timed out".to_string()
            } else {
                cause.to_string()
            };
            return EndpointProblem(format!("{doing}: no answer from the endpoint: {what}")).into();
        }
        (None, _) => DisplayErrorContext(&err).to_string(),
    };
    anyhow!("{doing}: {detail}")
}

/// An error from an SDK waiter, as one line. A poll that failed is reported like any call (so
/// an unreachable endpoint is named as such); the other outcomes say how the wait ended.
pub fn waiter_error<O, E>(
    doing: &str,
    err: aws_smithy_runtime_api::client::waiters::error::WaiterError<O, E>,
) -> anyhow::Error
where
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;
    match err {
        WaiterError::OperationFailed(failed) => aws_error(doing, failed.into_error()),
        WaiterError::ExceededMaxWait(waited) => anyhow!(
            "{doing}: still not done after {} s ({} polls)",
            waited.elapsed().as_secs(),
            waited.poll_count()
        ),
        WaiterError::FailureState(_) => {
            anyhow!("{doing}: AWS reports a state it cannot recover from")
        }
        other => anyhow!("{doing}: {}", DisplayErrorContext(&other)),
    }
}

/// A response body as one short line: markup dropped, whitespace collapsed, at most 200 chars.
fn one_line(body: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    err.code().map(str::to_string)
}

pub fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .values(value)
        .build()
}

/// Waits out "still in use" errors that clear by themselves once AWS releases what a deleted
/// neighbour held (network interfaces of a load balancer or database take minutes to go).
/// Throttling and transient faults are retried by the SDK; this handles only `codes`.
pub async fn retry_while<T, F, Fut>(
    codes: &[&str],
    limit: Duration,
    attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let backoff = Backoff {
        first: Duration::from_secs(2),
        most: Duration::from_secs(20),
        limit,
    };
    retry_on(backoff, |code, _| codes.contains(&code), attempt).await
}

/// Pauses between attempts: doubling from `first` up to `most`, for at most `limit` in all.
struct Backoff {
    first: Duration,
    most: Duration,
    limit: Duration,
}

/// Runs `attempt` again after a pause while it fails with an error `retryable` accepts (by
/// code and error), within the backoff's limit; any other outcome is returned.
async fn retry_on<T, F, Fut>(
    backoff: Backoff,
    retryable: impl Fn(&str, &anyhow::Error) -> bool,
    mut attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let start = std::time::Instant::now();
    let mut pause = backoff.first;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err((Some(code), err))
                if start.elapsed() + pause < backoff.limit && retryable(&code, &err) =>
            {
                tracing::info!("{err:#}; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(backoff.most);
            }
            Err(e) => return Err(e),
        }
    }
}

/// An answer AWS gives while something created moments ago has not reached every service yet:
/// an error code and a fragment of its message. Matched exactly, so any other error (a typo in
/// an instance type, a quota) fails at once instead of being waited on.
pub type Propagating = (&'static str, &'static str);

/// IAM is eventually consistent: a role or instance profile just created is refused by other
/// services for a few seconds. The answers, as AWS words them (the same strings
/// terraform-provider-aws retries on: PRs #5633, #40088 for Auto Scaling, #3027 for EMR):
pub const INSTANCE_PROFILE_PROPAGATING: &[Propagating] = &[
    // CreateAutoScalingGroup / UpdateAutoScalingGroup with a launch template naming the profile.
    ("ValidationError", "Invalid IAM Instance Profile"),
    // RunInstances.
    ("InvalidParameterValue", "Invalid IAM Instance Profile"),
    // EMR RunJobFlow: the job-flow role's profile, and its role not yet assumable.
    ("ValidationException", "Invalid InstanceProfile"),
    (
        "AccessDeniedException",
        "Failed to authorize instance profile",
    ),
];

/// How long a just-created role may take to be accepted everywhere (AWS: "usually within a few
/// seconds"; terraform-provider-aws waits up to two minutes).
pub const IAM_PROPAGATION: Duration = Duration::from_secs(120);

/// Runs `attempt` until it succeeds or fails with something other than `propagating`, backing
/// off for at most `limit`.
pub async fn retry_propagation<T, F, Fut>(
    propagating: &[Propagating],
    limit: Duration,
    attempt: F,
) -> Result<T, (Option<String>, anyhow::Error)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (Option<String>, anyhow::Error)>>,
{
    let backoff = Backoff {
        first: Duration::from_secs(1),
        most: Duration::from_secs(15),
        limit,
    };
    let propagating = |code: &str, err: &anyhow::Error| {
        let text = format!("{err:#}");
        propagating
            .iter()
            .any(|(c, fragment)| *c == code && text.contains(fragment))
    };
    retry_on(backoff, propagating, attempt).await
}

/// Polls `done` every few seconds until it says yes, for services whose SDK has no waiter for
/// the state needed (EFS). Fails after `limit`, naming `what`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let start = std::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        if done().await? {
            return Ok(());
        }
        if start.elapsed() + pause > limit {
            anyhow::bail!("{what}: still not done after {}s", limit.as_secs());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// Deletes with `attempt`, waiting out the `busy` error codes; the `gone` code means someone
/// already deleted it, which is what was wanted.
pub async fn delete_waiting<F, Fut>(busy: &[&str], gone: &str, attempt: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), (Option<String>, anyhow::Error)>>,
{
    match retry_while(busy, RELEASE_WAIT, attempt).await {
        Ok(()) => Ok(()),
        Err((Some(code), _)) if code == gone => Ok(()),
        Err((_, e)) => Err(e),
    }
}

/// Turns an SDK error into the pair `retry_while` works with.
pub fn coded<E>(doing: &str, err: SdkError<E, HttpResponse>) -> (Option<String>, anyhow::Error)
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    (error_code(&err), aws_error(doing, err))
}

/// How long deletes may wait for dependencies to be released.
/// A cache or database takes minutes to delete, and its subnet group and security group stay
/// in use until it is gone.
pub const RELEASE_WAIT: Duration = Duration::from_secs(1800);

/// Seconds since the Unix epoch, for names that must be unique over time (final snapshots).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether an update must send `key`: the stack's value differs from what AWS reports (or AWS
/// reports nothing for it). Lets providers send only what changed.
pub fn changed(spec: &ResourceSpec, current: &Observed, key: &str) -> bool {
    !current
        .props
        .get(key)
        .zip(spec.props.get(key))
        .is_some_and(|(have, want)| {
            crate::aws::registry::schema(spec.kind).equivalent(key, want, have)
        })
}

/// What to add to and remove from a list attribute (subnets, security groups, log types) to
/// make the current one the spec's.
pub fn delta(spec: &ResourceSpec, current: &Observed, key: &str) -> (Vec<String>, Vec<String>) {
    let want = strs(spec, key);
    let have: Vec<String> = current.props.get(key).map(Val::strings).unwrap_or_default();
    let add = want.iter().filter(|w| !have.contains(w)).cloned().collect();
    let remove = have.iter().filter(|h| !want.contains(h)).cloned().collect();
    (add, remove)
}

/// The count to set for `key` given the current `have`: the stack's number, or, when the stack
/// gives a range (auto scaling on), `have` moved only as far as the nearest bound.
pub fn count_within(spec: &ResourceSpec, key: &str, have: i64) -> Result<i64> {
    match spec.props.get(key).and_then(crate::resource::Val::range) {
        Some((lo, hi)) => Ok(have.clamp(lo, hi)),
        None => i(spec, key),
    }
}

/// Observed built from the spec a resource was just created or updated from.
pub fn observed_from_spec(spec: &ResourceSpec, physical_id: &str) -> Observed {
    let mut o = Observed::new(&spec.id, spec.kind, physical_id);
    o.name = spec.name.clone();
    o.props = spec.props.clone();
    o
}

/// Observed after an in-place update: the spec's attributes, the outputs it already had
/// (identifiers and ARNs do not change in place).
pub fn updated_in_place(spec: &ResourceSpec, current: &Observed) -> Observed {
    let mut o = observed_from_spec(spec, &current.physical_id);
    o.outputs = current.outputs.clone();
    o
}

/// Reads a string attribute of a resolved spec.
pub fn s<'a>(spec: &'a ResourceSpec, key: &str) -> Result<&'a str> {
    spec.props
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not text", spec.id))
}

pub fn i(spec: &ResourceSpec, key: &str) -> Result<i64> {
    spec.props
        .get(key)
        .and_then(|v| v.as_i64())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not a number", spec.id))
}

pub fn f(spec: &ResourceSpec, key: &str) -> Result<f64> {
    spec.props
        .get(key)
        .and_then(|v| v.as_f64())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not a number", spec.id))
}

pub fn b(spec: &ResourceSpec, key: &str) -> Result<bool> {
    spec.props
        .get(key)
        .and_then(|v| v.as_bool())
        .ok_or_else(|| anyhow!("{}: attribute {key} is missing or not true/false", spec.id))
}

pub fn strs(spec: &ResourceSpec, key: &str) -> Vec<String> {
    spec.props
        .get(key)
        .map(crate::resource::Val::strings)
        .unwrap_or_default()
}

/// Text list as a `Val`.
pub fn str_list<I, S>(items: I) -> crate::resource::Val
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    crate::resource::Val::list(
        items
            .into_iter()
            .map(|x| crate::resource::Val::Str(x.into())),
    )
}

/// The part of an ELB ARN CloudWatch uses as a dimension (`app/name/id`, `targetgroup/name/id`).
pub fn arn_suffix(arn: &str) -> String {
    match arn.split_once(":loadbalancer/") {
        Some((_, rest)) => rest.to_string(),
        None => arn.rsplit(':').next().unwrap_or(arn).to_string(),
    }
}

/// The parameters (name, value) a parameter group's spec sets — of every one, or with
/// `current`, of those whose value differs from what was observed. RDS and DocumentDB take and
/// report the values as text; each provider makes its own SDK's `Parameter` of them.
pub fn parameters_to_set(
    spec: &ResourceSpec,
    current: Option<&Observed>,
) -> Result<Vec<(String, String)>> {
    let Some(want) = spec.props.get("parameters").and_then(Val::as_map) else {
        return Ok(Vec::new());
    };
    let have = current
        .and_then(|c| c.props.get("parameters"))
        .and_then(Val::as_map);
    let mut out = Vec::new();
    for (k, v) in want {
        let value = v
            .as_str()
            .ok_or_else(|| anyhow!("parameter {k} of {} is not text", spec.name))?;
        if have.and_then(|m| m.get(k)).and_then(Val::as_str) != Some(value) || current.is_none() {
            out.push((k.clone(), value.to_string()));
        }
    }
    Ok(out)
}

/// The engine version `spec` wants, and whether reaching it from the one observed is a major
/// upgrade, which RDS and DocumentDB refuse without AllowMajorVersionUpgrade ("The
/// AllowMajorVersionUpgrade flag must be present when upgrading to a new major version").
pub fn version_upgrade<'a>(spec: &'a ResourceSpec, current: &Observed) -> Result<(&'a str, bool)> {
    let want = s(spec, "engine_version")?;
    let have = current
        .props
        .get("engine_version")
        .and_then(Val::as_str)
        .unwrap_or_default();
    Ok((
        want,
        crate::resource::major_version(want) != crate::resource::major_version(have),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_answers_read_as_one_line() {
        assert_eq!(
            one_line("<!doctype html>\n<title>500 Internal Server Error</title>\n<p>The server\n  failed.</p>"),
            "500 Internal Server Error The server failed."
        );
        assert_eq!(one_line("{\"error\": \"x\"}"), "{\"error\": \"x\"}");
        assert!(one_line(&"a ".repeat(300)).ends_with("..."));
    }

    #[test]
    fn arn_suffixes_match_cloudwatch_dimensions() {
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/dev-public/50dc6c495c0c9188"),
            "app/dev-public/50dc6c495c0c9188"
        );
        assert_eq!(
            arn_suffix(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/dev-web/73e2d6bc24d8a067"
            ),
            "targetgroup/dev-web/73e2d6bc24d8a067"
        );
    }
}
