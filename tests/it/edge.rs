//! `[edge]` (CloudFront in front of the public balancer) on stage 1, against ministack's
//! CloudFront, S3 and CloudWatch and moto's EC2: the distribution, its origin access control, the
//! maintenance page's bucket, policy and page, the 5xx-rate alarm and the balancer's group
//! restricted to CloudFront's prefix list are what the emulators hold; ministack's data plane,
//! which cannot reach moto's balancer (the balancer failing, as seen from CloudFront), answers
//! every method with the maintenance page; a second plan is empty; a changed setting is one
//! in-place update, applied with the distribution's ETag; destroy disables and deletes the
//! distribution and leaves nothing. Not shown here: propagation time (ministack deploys at once)
//! and a healthy balancer answering through CloudFront.

use crate::support::*;
use std::io::{Read, Write};

/// A viewer request to the distribution `domain`, through ministack's data plane (which serves
/// `<label>.cloudfront.net` by Host). `https`: as if the viewer came over HTTPS, as ministack
/// reads X-Forwarded-Proto. Returns the status and the body.
fn viewer(domain: &str, method: &str, path: &str, https: bool) -> (u16, String) {
    let url = std::env::var("FTCTL_MINISTACK_URL").unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let proto = if https { "https" } else { "http" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {domain}\r\nX-Forwarded-Proto: {proto}\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `ftctl ARGS stage1 --env ENV` with the edge on and `extra` settings, as the test runs it.
fn stage1(args: &[&str], env: &str, extra: &[&str]) -> Ftctl {
    let mut run = Ftctl::new()
        .args([args[0], "stage1", "--env", env])
        .args(&args[1..])
        .var(EDGE);
    for v in extra {
        run = run.var(v);
    }
    run
}

/// The actions of a `plan --json`, by resource.
fn planned(run: Run) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const EDGE: &str = "edge.load_balancer=\"public\"";

#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_fronts_the_balancer_serves_the_maintenance_page_and_comes_off_again() {
    let _emulators = emulators().await;
    let aws = aws().await;
    let d = crate::chaos::Deployed::of("stage1", "edge", &[EDGE]);
    let env = d.env.clone();

    // The distribution, found by its comment; its configuration as CloudFront holds it.
    let listed = aws.cloudfront.list_distributions().send().await.unwrap();
    let comment = format!("{env}-edge-us-east-1");
    let summary = listed
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .find(|s| s.comment() == comment)
        .unwrap_or_else(|| panic!("no distribution with comment {comment}"))
        .clone();
    let got = aws
        .cloudfront
        .get_distribution_config()
        .id(summary.id())
        .send()
        .await
        .unwrap();
    let config = got.distribution_config().unwrap();
    assert!(config.enabled());
    let origins = config.origins().unwrap().items();
    let balancer = origins.iter().find(|o| o.id() == "balancer").unwrap();
    assert_eq!(
        balancer.domain_name(),
        format!("{env}-public-1.us-east-1.elb.amazonaws.com")
    );
    let custom = balancer.custom_origin_config().unwrap();
    // Stage 1 has no public zone, so no certificate on the balancer: HTTP to its port 80.
    assert_eq!(custom.origin_protocol_policy().as_str(), "http-only");
    assert_eq!(custom.http_port(), 80);
    let maintenance = origins.iter().find(|o| o.id() == "maintenance").unwrap();
    let bucket = format!("{env}-maintenance-000000000000-us-east-1");
    assert_eq!(
        maintenance.domain_name(),
        format!("{bucket}.s3.us-east-1.amazonaws.com")
    );
    let oac = maintenance.origin_access_control_id().unwrap().to_string();
    let control = aws
        .cloudfront
        .get_origin_access_control()
        .id(&oac)
        .send()
        .await
        .unwrap();
    let control = control
        .origin_access_control()
        .and_then(|c| c.origin_access_control_config())
        .unwrap();
    assert_eq!(control.signing_behavior().as_str(), "always");
    assert_eq!(control.origin_access_control_origin_type().as_str(), "s3");
    let default = config.default_cache_behavior().unwrap();
    assert_eq!(
        default.viewer_protocol_policy().as_str(),
        "redirect-to-https"
    );
    assert_eq!(default.allowed_methods().unwrap().quantity(), 7);
    assert_eq!(
        default.cache_policy_id(),
        Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
    );
    let errors: Vec<(i32, String)> = config
        .custom_error_responses()
        .unwrap()
        .items()
        .iter()
        .map(|e| (e.error_code(), e.response_page_path().unwrap().to_string()))
        .collect();
    let page = "/maintenance/index.html".to_string();
    assert_eq!(
        errors,
        vec![(502, page.clone()), (503, page.clone()), (504, page)]
    );
    let tags = aws
        .cloudfront
        .list_tags_for_resource()
        .resource(summary.arn())
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .unwrap()
        .items()
        .iter()
        .any(|t| t.key() == "ftctl:deployment" && t.value() == Some(env.as_str())));

    // The page, and the policy admitting only this distribution.
    let object = aws
        .s3
        .get_object()
        .bucket(&bucket)
        .key("maintenance/index.html")
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(object.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("not available right now"), "{text}");
    let policy = aws
        .s3
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"],
        summary.arn()
    );

    // The balancer admits CloudFront's addresses only: the managed list of this region.
    let lists = aws
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("prefix-list-name")
                .values("com.amazonaws.global.cloudfront.origin-facing")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let list_id = lists.prefix_lists()[0]
        .prefix_list_id()
        .unwrap()
        .to_string();
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{env}-public-lb"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rules = groups.security_groups()[0].ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].from_port(), Some(80));
    assert!(rules[0].ip_ranges().is_empty(), "{rules:?}");
    assert_eq!(
        rules[0].prefix_list_ids()[0].prefix_list_id(),
        Some(list_id.as_str())
    );

    // The alarm on the distribution's 5xx rate, where CloudFront publishes it.
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names(format!("{env}-edge-5xx"))
        .send()
        .await
        .unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!(alarm.namespace(), Some("AWS/CloudFront"));
    assert_eq!(alarm.metric_name(), Some("5xxErrorRate"));
    let dims: Vec<(&str, &str)> = alarm
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert!(dims.contains(&("DistributionId", summary.id())), "{dims:?}");
    assert!(dims.contains(&("Region", "Global")), "{dims:?}");

    // ministack's CloudFront cannot reach moto's balancer: the balancer failing, as seen from
    // the edge. Viewers are sent to HTTPS; there, GETs and POSTs alike get the maintenance page,
    // with the failure's status.
    let domain = summary.domain_name().to_string();
    eprintln!("GET http://{domain}/orders/42 and GET, POST https://{domain}/... via ministack");
    let (status, _) = viewer(&domain, "GET", "/orders/42", false);
    assert_eq!(status, 301);
    for method in ["GET", "POST"] {
        let (status, body) = viewer(&domain, method, "/orders/42", true);
        assert_eq!(status, 502, "{method}: {body}");
        assert!(body.contains("Back soon"), "{method}: {body}");
    }

    stage1(&["plan", "--detailed-exitcode"], &env, &[])
        .run()
        .success();
    // A longer error caching is the distribution changed in place, and applied with its ETag.
    let longer = "edge.maintenance_cache_seconds=30";
    let run = stage1(&["plan", "--json"], &env, &[longer]).run().ok();
    assert_eq!(
        planned(run),
        vec![("edge.distribution".to_string(), "update".to_string())]
    );
    stage1(&["apply", "--yes"], &env, &[longer]).run().success();
    let got = aws
        .cloudfront
        .get_distribution_config()
        .id(summary.id())
        .send()
        .await
        .unwrap();
    let errors = got
        .distribution_config()
        .unwrap()
        .custom_error_responses()
        .unwrap()
        .items();
    assert!(errors.iter().all(|e| e.error_caching_min_ttl() == Some(30)));
    assert_eq!(
        got.distribution_config().unwrap().caller_reference(),
        config.caller_reference(),
        "the caller reference cannot change"
    );

    // Opened again to the internet: only the balancer's group changes.
    let open = "edge.restrict_balancer=false";
    let run = stage1(&["plan", "--json"], &env, &[longer, open])
        .run()
        .ok();
    assert_eq!(
        planned(run),
        vec![("lb.public.sg".to_string(), "update".to_string())]
    );

    d.destroy().run().success();
    let left: Vec<String> = leftovers(&aws, &env)
        .await
        .into_iter()
        .filter(|l| {
            l.starts_with("distribution ")
                || l.starts_with("origin-access-control ")
                || l.contains("maintenance")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
