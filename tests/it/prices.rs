//! `ftctl prices update` against a stand-in for the AWS Price List Query API on 127.0.0.1: it
//! answers GetProducts with products in the shape AWS's API reference documents (a
//! `PriceList` of JSON strings, each a product with its on-demand terms), for the filters the
//! command sends. The emulators serve no Price List, so this is the only way to see the update
//! read, choose and refuse prices.

use crate::support::*;
use bytes::Bytes;
use ftctl_core::cost::PriceBook;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// A product as GetProducts answers it: one SKU, one on-demand offer, one price dimension.
fn product(sku: &str, attributes: Value, unit: &str, usd: &str) -> String {
    json!({
        "product": { "productFamily": "Compute Instance", "sku": sku, "attributes": attributes },
        "serviceCode": "AmazonEC2",
        "terms": { "OnDemand": { format!("{sku}.JRTCKXETXF"): {
            "offerTermCode": "JRTCKXETXF",
            "sku": sku,
            "effectiveDate": "2026-11-01T00:00:00Z",
            "priceDimensions": { format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                "unit": unit,
                "description": "On Demand",
                "pricePerUnit": { "USD": usd },
                "beginRange": "0", "endRange": "Inf", "appliesTo": []
            }},
            "termAttributes": {}
        }}},
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z"
    })
    .to_string()
}

/// What the stand-in answers for a GetProducts request body.
fn answer(body: &Value) -> Vec<String> {
    let filter = |field: &str| {
        body["Filters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["Field"] == field)
            .and_then(|f| f["Value"].as_str())
            .map(str::to_string)
    };
    let region = filter("regionCode").unwrap_or_default();
    match (
        body["ServiceCode"].as_str(),
        filter("instanceType").as_deref(),
    ) {
        (Some("AmazonEC2"), Some("t3.micro")) if region == "us-east-1" => vec![product(
            "EC2MICRO",
            json!({ "instanceType": "t3.micro", "regionCode": region }),
            "Hrs",
            "0.0105000000",
        )],
        (Some("AmazonRDS"), Some("db.t3.medium")) => vec![
            product(
                "RDSMEDIUM",
                json!({ "instanceType": "db.t3.medium" }),
                "Hrs",
                "0.1370000000",
            ),
            // A storage dimension of another unit is not the hourly price.
            product("RDSSTORAGE", json!({}), "GB-Mo", "0.2300000000"),
        ],
        // Two products for one query: the filters did not pin one; the update must refuse.
        (Some("AmazonElastiCache"), _) => vec![
            product(
                "CACHE1",
                json!({ "usagetype": "NodeUsage:cache.r7g.large" }),
                "Hrs",
                "0.2190000000",
            ),
            product(
                "CACHE2",
                json!({ "usagetype": "NodeUsage:cache.r7g.large" }),
                "Hrs",
                "0.2630000000",
            ),
            // Another product of the node type, billed per hour too: never the node's price.
            product(
                "CACHEEXT",
                json!({ "usagetype": "ExtendedSupport:cache.r7g.large" }),
                "Hrs",
                "0.0316000000",
            ),
        ],
        _ => vec![],
    }
}

/// The stand-in: records the bodies it was sent; `broken` answers like an endpoint that is
/// not the Price List.
struct PriceList {
    url: String,
    seen: Arc<Mutex<Vec<Value>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PriceList {
    fn start(broken: bool) -> PriceList {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_seen = seen.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("stand-in runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("listens on loopback");
                ready_tx
                    .send(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let seen = thread_seen.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                respond(seen.clone(), broken, req)
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        PriceList {
            url: ready_rx.recv().expect("stand-in started"),
            seen,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for PriceList {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn respond(
    seen: Arc<Mutex<Vec<Value>>>,
    broken: bool,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock()
        .unwrap()
        .push(json!({ "target": target, "body": body }));
    let (status, text) = if broken || target != "AWSPriceListService.GetProducts" {
        (
            400,
            json!({ "__type": "UnknownOperationException", "message": "not served here" })
                .to_string(),
        )
    } else {
        (
            200,
            json!({ "FormatVersion": "aws_v1", "PriceList": answer(&body) }).to_string(),
        )
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(text)))
        .unwrap())
}

fn read_book(path: &std::path::Path) -> PriceBook {
    PriceBook::parse("written", &std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn update_reads_pinned_prices_keeps_the_rest_and_refuses_ambiguous_answers() {
    let list = PriceList::start(false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aws.toml");
    let out_arg = out.display().to_string();
    let run = ftctl_with(
        &["prices", "update", "--out", &out_arg],
        &[("AWS_ENDPOINT_URL_PRICING", &list.url)],
    )
    .success();
    let book = read_book(&out);
    let shipped = PriceBook::shipped().unwrap();
    assert_eq!(book.prices.len(), shipped.prices.len());

    let micro = book.get("us-east-1", "ec2:instance:t3.micro").unwrap();
    assert_eq!(micro.usd, 0.0105);
    assert!(micro.confirmed);
    assert!(micro.source.contains("SKU EC2MICRO"), "{}", micro.source);
    assert!(
        micro.source.contains("effective 2026-11-01"),
        "{}",
        micro.source
    );
    let db = book
        .get("us-east-1", "rds:instance:db.t3.medium:mysql:multi-az")
        .unwrap();
    assert_eq!((db.usd, db.confirmed), (0.137, true));

    // Two products answered one query: the old entry stays, unconfirmed, and the output says why.
    let cache = book
        .get("us-east-1", "elasticache:node:cache.r7g.large:redis")
        .unwrap();
    let was = shipped
        .get("us-east-1", "elasticache:node:cache.r7g.large:redis")
        .unwrap();
    assert_eq!(cache, was);
    assert!(
        run.stdout.contains("more than one product"),
        "{}",
        run.stdout
    );
    // No product for t3.small: kept; an alarm has no query: kept and said so.
    assert!(
        !book
            .get("us-east-1", "ec2:instance:t3.small")
            .unwrap()
            .confirmed
    );
    assert!(
        run.stdout
            .contains("cloudwatch:alarm in us-east-1: not looked up"),
        "{}",
        run.stdout
    );

    // What was asked: GetProducts with the filters that pin the EC2 product, in its region.
    let seen = list.seen.lock().unwrap().clone();
    let ec2 = seen
        .iter()
        .find(|r| {
            r["body"]["ServiceCode"] == "AmazonEC2"
                && r["body"]["Filters"].to_string().contains("t3.micro")
        })
        .expect("the t3.micro query");
    assert_eq!(ec2["target"], "AWSPriceListService.GetProducts");
    let filters = ec2["body"]["Filters"].to_string();
    for (field, value) in [
        ("regionCode", "us-east-1"),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("capacitystatus", "Used"),
    ] {
        // serde_json writes an object's keys sorted: Field, Type, Value.
        assert!(
            filters.contains(&format!(
                r#""Field":"{field}","Type":"TERM_MATCH","Value":"{value}""#
            )),
            "{filters}"
        );
    }

    // A second region gets us-east-1's entries, looked up there.
    ftctl_with(
        &[
            "prices",
            "update",
            "--out",
            &out_arg,
            "--region",
            "eu-west-1",
        ],
        &[("AWS_ENDPOINT_URL_PRICING", &list.url)],
    )
    .success();
    let book = read_book(&out);
    let there = book.get("eu-west-1", "ec2:instance:t3.micro").unwrap();
    assert!(
        !there.confirmed,
        "the stand-in prices t3.micro in us-east-1 only"
    );
    assert!(
        there.source.contains("copied from us-east-1"),
        "{}",
        there.source
    );
}

#[test]
fn update_against_an_endpoint_that_is_no_price_list_writes_nothing() {
    let list = PriceList::start(true);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aws.toml");
    std::fs::write(&out, ftctl_core::cost::SHIPPED).unwrap();
    let run = ftctl_with(
        &["prices", "update", "--out", &out.display().to_string()],
        &[("AWS_ENDPOINT_URL_PRICING", &list.url)],
    );
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("the Price List Query API did not answer")
            && run.stderr.contains("UnknownOperationException"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        ftctl_core::cost::SHIPPED
    );
}

/// A price file with a mistake is refused with its line and field, before any AWS call.
#[test]
fn a_bad_price_file_is_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("prices.toml");
    std::fs::write(
        &bad,
        ftctl_core::cost::SHIPPED.replacen("usd = 0.0104", "usd = -1.0", 1),
    )
    .unwrap();
    let no_aws = NoAws::new();
    let mut env = no_aws.env();
    let bad_arg = bad.display().to_string();
    env.push(("FTCTL_PRICES", &bad_arg));
    let run = ftctl_with(&["plan", "stage1", "--env", "pricecheck"], &env);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("prices.toml:") && run.stderr.contains("field `usd`"),
        "{}",
        run.stderr
    );
    no_aws.assert_untouched();
}

/// A new deployment's plan carries its cost, from the repository's snapshot: the text names
/// the file and its age, `--json` every figure.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_shows_what_the_deployment_will_cost() {
    let _emulators = emulators().await;
    let env = unique_env("co");
    let run = ftctl(&["plan", "stage1", "--env", &env]).ok();
    assert!(
        run.stdout.contains("Estimated monthly cost")
            && run.stdout.contains("prices from prices/aws.toml")
            && run
                .stdout
                .contains("not confirmed against AWS's price list"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  Total: $0.00 -> $"), "{}", run.stdout);
    let run = ftctl(&["plan", "stage1", "--env", &env, "--json"]).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let cost = &doc["cost"];
    assert_eq!(cost["before_usd"], 0.0);
    let after = cost["after_usd"].as_f64().unwrap();
    let lines = cost["lines"].as_array().unwrap();
    let sum: f64 = lines
        .iter()
        .filter_map(|l| l["after"]["monthly_usd"].as_f64())
        .sum();
    assert!((after - sum).abs() < 1e-6, "{after} vs {sum}");
    let db = lines.iter().find(|l| l["id"] == "db.main").unwrap();
    assert_eq!(db["action"], "create");
    assert!(db["after"]["parts"].as_array().unwrap().len() >= 2, "{db}");
    assert!(cost["after_at_max_usd"].as_f64().unwrap() > after);
    assert_eq!(cost["prices"], "prices/aws.toml");
}
