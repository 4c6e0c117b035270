//! `ftctl trail`: the recent API calls on the deployment's resources, from CloudTrail.

use super::InputError;
use crate::aws::{aws_error, AwsCloud, DeleteOptions};
use crate::cloud::Cloud;
use crate::deployment;
use anyhow::Result;
use std::process::ExitCode;

/// `30m`, `2h`, `1d` (or plain seconds) as seconds.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| format!("--since {text}: a duration such as 30m, 2h or 1d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("--since {text}: the unit is s, m, h or d")),
    };
    // CloudTrail keeps 90 days of management events.
    // Checked: a long run of digits must be refused, not overflow (it panicked).
    match n.checked_mul(factor) {
        Some(seconds) if n > 0 && seconds <= 90 * 86_400 => Ok(seconds),
        _ => Err(format!("--since {text}: between 1 second and 90 days")),
    }
}

/// Whether an event concerns deployment `env`: a resource it names, or its request, carries
/// one of the deployment's names (`<env>-...` or the `/ftctl/<env>/` path).
pub fn concerns(env: &str, resources: &[String], raw: &str) -> bool {
    let prefix = format!("{env}-");
    let path = format!("/ftctl/{env}/");
    resources
        .iter()
        .any(|r| r.starts_with(&prefix) || r.contains(&format!("/{prefix}")) || r.contains(&path))
        || raw.contains(&format!("\"{prefix}"))
        || raw.contains(&path)
}

pub async fn run(env: &str, region: Option<&str>, since: &str, json: bool) -> Result<ExitCode> {
    deployment::validate_env(env).map_err(InputError)?;
    let seconds = parse_since(since).map_err(InputError)?;
    let cloud = AwsCloud::connect(region, DeleteOptions::default()).await?;
    let now = crate::aws::unix_now() as i64;
    let start = aws_smithy_types::DateTime::from_secs(now - seconds);
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    // Bounded: LookupEvents allows 2 calls a second; 20 pages are 1000 events.
    for _ in 0..20 {
        let page = cloud
            .clients
            .cloudtrail
            .lookup_events()
            .start_time(start)
            .end_time(aws_smithy_types::DateTime::from_secs(now))
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error("reading CloudTrail events", e))?;
        for e in page.events() {
            let resources: Vec<String> = e
                .resources()
                .iter()
                .filter_map(|r| r.resource_name().map(str::to_string))
                .collect();
            if !concerns(env, &resources, e.cloud_trail_event().unwrap_or_default()) {
                continue;
            }
            events.push(serde_json::json!({
                "time": e.event_time().map(|t| t.secs()),
                "source": e.event_source(),
                "event": e.event_name(),
                "user": e.username(),
                "resources": resources,
            }));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "deployment": env, "since_seconds": seconds, "events": events })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        println!(
            "No API calls on deployment {env}'s resources in the last {since} ({}).",
            cloud.target()
        );
        return Ok(ExitCode::SUCCESS);
    }
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_header([
        "time (UTC)",
        "source",
        "call",
        "by",
        "resources",
    ]);
    for e in &events {
        let time = e["time"]
            .as_i64()
            .map(crate::backup::utc_stamp)
            .unwrap_or_default();
        table.add_row([
            time,
            e["source"].as_str().unwrap_or_default().to_string(),
            e["event"].as_str().unwrap_or_default().to_string(),
            e["user"].as_str().unwrap_or_default().to_string(),
            e["resources"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        ]);
    }
    println!("API calls on deployment {env} in the last {since}:\n{table}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ownership() {
        assert_eq!(parse_since("30m"), Ok(1800));
        assert_eq!(parse_since("2h"), Ok(7200));
        assert_eq!(parse_since("90"), Ok(90));
        assert!(parse_since("100d").is_err());
        assert!(parse_since("1w").is_err());
        assert!(parse_since("soon").is_err());
        // Overflowed (a panic in debug builds) before.
        assert!(parse_since("106751991167301d").is_err());
        assert!(parse_since("9223372036854775807m").is_err());
        assert!(concerns("shop", &["shop-web".into()], ""));
        assert!(concerns(
            "shop",
            &[],
            r#"{"requestParameters":{"autoScalingGroupName":"shop-web"}}"#
        ));
        assert!(concerns(
            "shop",
            &["arn:aws:iam::1:role/ftctl/shop/shop-api-exec".into()],
            ""
        ));
        assert!(!concerns(
            "shop",
            &["shopx-web".into()],
            r#"{"name":"other-web"}"#
        ));
    }
}
