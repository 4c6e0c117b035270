//! What users felt: a steady, bounded request rate against the deployment's endpoint while an
//! experiment runs, judged second by second (success rate, p50 and p99 latency) and over the
//! fault as a whole against `max_error_rate` and `max_p99_ms`. This is the pure part: the URL
//! check and redaction, the per-second figures and the verdict. The sender is
//! `ftctl::chaos::load`.

use serde::{Deserialize, Serialize};

/// One request: when it was sent (seconds into the run), whether the endpoint answered it well
/// (any status below 500 within the timeout), and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: f64,
    pub ok: bool,
    pub latency_ms: f64,
}

/// One second of load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSecond {
    /// Whole seconds into the run.
    pub second: u64,
    pub sent: u64,
    pub ok: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The load over a run and what users would have noticed of the fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Credentials and query values removed.
    pub url: String,
    pub rate: f64,
    pub seconds: Vec<LoadSecond>,
    /// From the injection to the end of the load.
    pub fault_sent: u64,
    pub fault_error_rate: f64,
    pub fault_p99_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,
    /// What users would have noticed beyond the limits, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noticed: Option<String>,
}

impl LoadReport {
    pub fn describe(&self) -> String {
        format!(
            "{} requests to {} during the fault: {:.1}% failed, p99 {:.0} ms{}",
            self.fault_sent,
            self.url,
            self.fault_error_rate * 100.0,
            self.fault_p99_ms,
            match &self.noticed {
                Some(n) => format!(": users noticed ({n})"),
                None => String::new(),
            }
        )
    }
}

/// The nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latencies(samples: &[&Sample]) -> Vec<f64> {
    let mut l: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.latency_ms)
        .collect();
    l.sort_by(f64::total_cmp);
    l
}

/// Error rate and p99 of some samples (p99 over the answered ones).
pub fn window(samples: &[&Sample]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let failed = samples.iter().filter(|s| !s.ok).count();
    (
        failed as f64 / samples.len() as f64,
        percentile(&latencies(samples), 99.0),
    )
}

/// Per-second figures and the verdict over everything sent from `injected_at` on.
pub fn assess(
    url: &str,
    rate: f64,
    samples: &[Sample],
    injected_at: f64,
    max_error_rate: Option<f64>,
    max_p99_ms: Option<f64>,
) -> LoadReport {
    let mut seconds: Vec<LoadSecond> = Vec::new();
    let mut by_second: std::collections::BTreeMap<u64, Vec<&Sample>> = Default::default();
    for s in samples {
        by_second.entry(s.at.max(0.0) as u64).or_default().push(s);
    }
    for (second, group) in &by_second {
        let l = latencies(group);
        seconds.push(LoadSecond {
            second: *second,
            sent: group.len() as u64,
            ok: group.iter().filter(|s| s.ok).count() as u64,
            p50_ms: percentile(&l, 50.0),
            p99_ms: percentile(&l, 99.0),
        });
    }
    let during: Vec<&Sample> = samples.iter().filter(|s| s.at >= injected_at).collect();
    let (error_rate, p99) = window(&during);
    let mut noticed = Vec::new();
    if let Some(max) = max_error_rate.filter(|m| error_rate > *m) {
        noticed.push(format!(
            "{:.1}% of requests failed, more than the {:.1}% allowed",
            error_rate * 100.0,
            max * 100.0
        ));
    }
    if let Some(max) = max_p99_ms.filter(|m| p99 > *m) {
        noticed.push(format!("p99 {p99:.0} ms, above the {max:.0} ms allowed"));
    }
    LoadReport {
        url: url.to_string(),
        rate,
        seconds,
        fault_sent: during.len() as u64,
        fault_error_rate: error_rate,
        fault_p99_ms: p99,
        max_error_rate,
        max_p99_ms,
        noticed: (!noticed.is_empty()).then(|| noticed.join("; ")),
    }
}

/// The load target, checked: `http` or `https`, a host, nothing that is not a URL. The error
/// names the flag.
pub fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("--load {}: not a URL (http://HOST/PATH)", redact(url)))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "--load {}: the scheme must be http or https, not {scheme}",
            redact(url)
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("--load {}: no host", redact(url)));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "--load {}: spaces or control characters",
            redact(url)
        ));
    }
    Ok(())
}

/// The URL as it may be printed and kept: user and password dropped, every query value
/// replaced (tokens travel there too).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("REDACTED@{host}"),
        None => authority.to_string(),
    };
    let query = query
        .map(|q| {
            let q = q.split('#').next().unwrap_or_default();
            let pairs: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) => format!("{k}=REDACTED"),
                    None => p.to_string(),
                })
                .collect();
            format!("?{}", pairs.join("&"))
        })
        .unwrap_or_default();
    format!("{scheme}{host}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, ok: bool, latency_ms: f64) -> Sample {
        Sample { at, ok, latency_ms }
    }

    #[test]
    fn users_notice_errors_and_slowness_during_the_fault_only() {
        let mut samples = Vec::new();
        // Before the fault (0..2 s): fast and fine.
        for i in 0..20 {
            samples.push(sample(i as f64 * 0.1, true, 10.0));
        }
        // During (2..4 s): a quarter fail, the rest slow.
        for i in 0..20 {
            samples.push(sample(2.0 + i as f64 * 0.1, i % 4 != 0, 900.0));
        }
        let r = assess("http://x/", 10.0, &samples, 2.0, Some(0.1), Some(500.0));
        assert_eq!(r.seconds.len(), 4);
        assert_eq!((r.seconds[0].sent, r.seconds[0].ok), (10, 10));
        assert_eq!(r.seconds[0].p99_ms, 10.0);
        assert_eq!(r.seconds[2].ok, 7);
        assert_eq!(r.fault_sent, 20);
        assert!((r.fault_error_rate - 0.25).abs() < 1e-9);
        assert_eq!(r.fault_p99_ms, 900.0);
        let noticed = r.noticed.clone().unwrap();
        assert!(noticed.contains("25.0% of requests failed"), "{noticed}");
        assert!(noticed.contains("p99 900 ms"), "{noticed}");
        // No limits: figures, no verdict.
        assert_eq!(
            assess("http://x/", 10.0, &samples, 2.0, None, None).noticed,
            None
        );
        // Within limits.
        assert_eq!(
            assess(
                "http://x/",
                10.0,
                &samples[..20],
                0.0,
                Some(0.0),
                Some(50.0)
            )
            .noticed,
            None
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn urls_are_checked_and_never_kept_with_their_secrets() {
        assert!(check_url("http://127.0.0.1:8080/health").is_ok());
        assert!(check_url("https://shop.example.com").is_ok());
        for bad in ["ftp://x/", "127.0.0.1:80", "http:///path", "http://a b/"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let secret = "https://alice:s3cret@shop.example.com/api?token=abc&x=1#frag";
        assert_eq!(
            redact(secret),
            "https://REDACTED@shop.example.com/api?token=REDACTED&x=REDACTED"
        );
        let e = check_url("ftp://alice:s3cret@host/").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert_eq!(redact("http://h:80/p"), "http://h:80/p");
    }
}
