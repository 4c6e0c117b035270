//! A fault-injecting HTTP proxy for tests and benchmarks, put between ftctl and the emulators by
//! pointing the endpoint variables at it. It forwards every request to the endpoint it stands
//! in for, and can add latency, answer a share of requests with the protocol's throttling error
//! or an HTTP 500, drop connections, go down altogether, count requests per service and
//! operation, and run an action when the k-th request arrives (a test kills ftctl there).
//!
//! It also enforces, by default, AWS behaviours the emulators lack (`aws_refusal`): IAM's
//! eventual consistency (a just-created instance profile refused once by Auto Scaling and EMR),
//! PutDashboard's validation of the dashboard body, and Route 53's reserved domain names, each
//! answered with AWS's own error code and message.
//!
//! It runs on its own thread and runtime, so blocking tests (which wait for the ftctl process)
//! and async tests can both use it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What goes wrong, decided per request.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Added before each request is forwarded.
    pub latency: Duration,
    /// Share of requests answered with the protocol's throttling error.
    pub throttle_percent: u32,
    /// Share answered with HTTP 500.
    pub error_percent: u32,
    /// Share whose connection is closed without an answer.
    pub drop_percent: u32,
    /// Every connection closed without an answer, as if the endpoint were stopped.
    pub down: bool,
    /// Seeds the choice of faulted requests, so a failing run can be repeated.
    pub seed: u64,
    /// Operations (`service:Operation`) refused with AccessDenied, as a policy that does not
    /// allow them would.
    pub denied: Vec<String>,
}

/// What the proxy did with requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    pub throttled: u64,
    pub errors: u64,
    pub dropped: u64,
}

type Action = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    faults: Mutex<Faults>,
    seq: AtomicU64,
    counts: Mutex<BTreeMap<String, u64>>,
    injected: Mutex<Injected>,
    tripwire: Mutex<Option<(u64, Action)>>,
    tripped: AtomicU64,
    /// What the AWS behaviours refused, per `service:Operation`.
    refused: Mutex<BTreeMap<String, u64>>,
    /// Resources whose first request was refused as not yet propagated.
    propagated: Mutex<std::collections::BTreeSet<String>>,
}

pub struct Proxy {
    state: Arc<State>,
    env: Vec<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy in front of every endpoint the environment names (`AWS_ENDPOINT_URL` and each
    /// `AWS_ENDPOINT_URL_<SERVICE>`): one listener on loopback per distinct endpoint.
    pub fn in_front_of_the_emulators() -> Proxy {
        let mut vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k == "AWS_ENDPOINT_URL" || k.starts_with("AWS_ENDPOINT_URL_"))
            .collect();
        vars.sort();
        assert!(
            !vars.is_empty(),
            "no endpoint variables: source localstack/endpoints.env first"
        );
        let mut upstreams: Vec<String> = vars.iter().map(|(_, v)| v.clone()).collect();
        upstreams.sort();
        upstreams.dedup();

        let state = Arc::new(State::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Vec<(String, String)>>();
        let thread_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let client: Client<_, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let mut fronts = Vec::new();
                for upstream in upstreams {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("proxy listens on loopback");
                    let addr = listener.local_addr().unwrap();
                    fronts.push((upstream.clone(), format!("http://{addr}")));
                    let state = thread_state.clone();
                    let client = client.clone();
                    tokio::spawn(async move {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                continue;
                            };
                            let state = state.clone();
                            let client = client.clone();
                            let upstream = upstream.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    handle(state.clone(), client.clone(), upstream.clone(), req)
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    });
                }
                ready_tx.send(fronts).expect("test waits for the proxy");
                let _ = stop_rx.await;
            });
        });
        let fronts = ready_rx.recv().expect("proxy started");
        let env = vars
            .into_iter()
            .map(|(k, v)| {
                let front = &fronts.iter().find(|(up, _)| *up == v).unwrap().1;
                (k, front.clone())
            })
            .collect();
        Proxy {
            state,
            env,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The endpoint variables that send ftctl through the proxy.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    /// Runs `action` when request number `k` (counted from 1 since the last reset) arrives;
    /// that request and every later one get no answer.
    pub fn trip_at(&self, k: u64, action: impl FnOnce() + Send + 'static) {
        *self.state.tripwire.lock().unwrap() = Some((k, Box::new(action)));
        self.state.tripped.store(0, Ordering::SeqCst);
    }

    /// Whether the tripwire went off.
    pub fn tripped(&self) -> bool {
        self.state.tripped.load(Ordering::SeqCst) != 0
    }

    /// Forgets counts, faults and the tripwire.
    pub fn reset(&self) {
        self.state.seq.store(0, Ordering::SeqCst);
        self.state.counts.lock().unwrap().clear();
        *self.state.injected.lock().unwrap() = Injected::default();
        *self.state.faults.lock().unwrap() = Faults::default();
        *self.state.tripwire.lock().unwrap() = None;
        self.state.tripped.store(0, Ordering::SeqCst);
    }

    /// Requests seen since the last reset.
    pub fn total(&self) -> u64 {
        self.state.seq.load(Ordering::SeqCst)
    }

    /// Requests per `service:Operation`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.state.counts.lock().unwrap().clone()
    }

    pub fn injected(&self) -> Injected {
        self.state.injected.lock().unwrap().clone()
    }

    /// Requests the AWS behaviours refused, per `service:Operation`.
    pub fn refused(&self) -> BTreeMap<String, u64> {
        self.state.refused.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A well-mixed number from the seed and the request's sequence number (splitmix64), so the
/// faulted requests are spread evenly and the same seed faults the same requests.
fn roll(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

/// How a request is encoded, which decides how an error must look for the SDK to read it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Protocol {
    Json,
    Cbor,
    Ec2Query,
    Query,
    RestXml,
    S3,
    RestJson,
}

/// The signing service (from the SigV4 credential scope), the operation and the protocol.
fn identify(req: &hyper::http::request::Parts, body: &[u8]) -> (String, String, Protocol) {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let service = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let content_type = header("content-type");
    let path = req.uri.path();
    let target = header("x-amz-target");
    if !target.is_empty() {
        let op = target.rsplit('.').next().unwrap_or_default().to_string();
        return (service, op, Protocol::Json);
    }
    if header("smithy-protocol") == "rpc-v2-cbor" {
        let op = path.rsplit('/').next().unwrap_or_default().to_string();
        return (service, op, Protocol::Cbor);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(body);
        let op = text
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or("unknown")
            .to_string();
        let protocol = if service == "ec2" {
            Protocol::Ec2Query
        } else {
            Protocol::Query
        };
        return (service, op, protocol);
    }
    // REST: the method and the path's shape: names and ids vary per deployment, so only the
    // API version (first segment) and literal words (`hostedzone`, `rrset`, `file-systems`)
    // are kept, plus the query's keys (S3 says what it does with them: `?tagging`); an
    // `x-id` query names the operation itself.
    let query = req.uri.query().unwrap_or_default();
    if let Some(op) = query.split('&').find_map(|kv| kv.strip_prefix("x-id=")) {
        return (service.clone(), op.to_string(), rest_protocol(&service));
    }
    let word = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| {
            if (i == 0 && service != "s3") || (i > 0 && service != "s3" && word(s)) {
                s
            } else {
                "*"
            }
        })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split('=').next().unwrap_or_default())
        .collect();
    keys.sort();
    let suffix = if keys.is_empty() {
        String::new()
    } else {
        format!("?{}", keys.join("&"))
    };
    let op = format!("{} /{}{suffix}", req.method, shape.join("/"));
    (service.clone(), op, rest_protocol(&service))
}

fn rest_protocol(service: &str) -> Protocol {
    match service {
        "s3" => Protocol::S3,
        "route53" | "cloudfront" => Protocol::RestXml,
        _ => Protocol::RestJson,
    }
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Full::new(body.into())).unwrap()
}

/// AccessDenied as the JSON and query protocols (the ones `denied` is used for) answer it.
fn access_denied(protocol: Protocol) -> Response<Full<Bytes>> {
    const MESSAGE: &str = "not authorized to perform this action (test proxy)";
    match protocol {
        Protocol::Json => respond(
            400,
            &[("content-type", "application/x-amz-json-1.1")],
            format!(r#"{{"__type":"AccessDeniedException","message":"{MESSAGE}"}}"#),
        ),
        _ => respond(
            403,
            &[("content-type", "text/xml")],
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{MESSAGE}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
        ),
    }
}

/// The throttling error each protocol's SDK reads as throttling (and so retries with backoff).
fn throttled(protocol: Protocol) -> Response<Full<Bytes>> {
    const MESSAGE: &str = "Rate exceeded (test proxy)";
    match protocol {
        Protocol::Json => respond(
            400,
            &[("content-type", "application/x-amz-json-1.1")],
            format!(r#"{{"__type":"ThrottlingException","message":"{MESSAGE}"}}"#),
        ),
        Protocol::Cbor => {
            // {"__type": "ThrottlingException"} in CBOR: a one-entry map of two text strings.
            let mut body = vec![0xA1, 0x66];
            body.extend_from_slice(b"__type");
            body.push(0x73);
            body.extend_from_slice(b"ThrottlingException");
            respond(
                400,
                &[
                    ("content-type", "application/cbor"),
                    ("smithy-protocol", "rpc-v2-cbor"),
                ],
                body,
            )
        }
        Protocol::Ec2Query => respond(
            503,
            &[("content-type", "text/xml")],
            format!(
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>{MESSAGE}</Message></Error></Errors><RequestID>proxy</RequestID></Response>"
            ),
        ),
        Protocol::Query | Protocol::RestXml => respond(
            400,
            &[("content-type", "text/xml")],
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>{MESSAGE}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::S3 => respond(
            503,
            &[("content-type", "application/xml")],
            format!("<Error><Code>SlowDown</Code><Message>{MESSAGE}</Message></Error>"),
        ),
        Protocol::RestJson => respond(
            429,
            &[
                ("content-type", "application/json"),
                ("x-amzn-errortype", "ThrottlingException"),
            ],
            format!(r#"{{"message":"{MESSAGE}"}}"#),
        ),
    }
}

fn server_error(protocol: Protocol) -> Response<Full<Bytes>> {
    match protocol {
        Protocol::Json => respond(
            500,
            &[("content-type", "application/x-amz-json-1.1")],
            r#"{"__type":"InternalFailure","message":"test proxy"}"#,
        ),
        Protocol::Ec2Query => respond(
            500,
            &[("content-type", "text/xml")],
            "<Response><Errors><Error><Code>InternalError</Code><Message>test proxy</Message></Error></Errors><RequestID>proxy</RequestID></Response>",
        ),
        Protocol::Query | Protocol::RestXml | Protocol::S3 => respond(
            500,
            &[("content-type", "text/xml")],
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>test proxy</Message></Error><RequestId>proxy</RequestId></ErrorResponse>",
        ),
        Protocol::Cbor | Protocol::RestJson => respond(500, &[], ""),
    }
}

fn closed() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "closed by the test proxy",
    )
}

async fn handle(
    state: Arc<State>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .to_bytes();
    let n = state.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let (service, op, protocol) = identify(&parts, &body);
    let operation = format!("{service}:{op}");
    *state
        .counts
        .lock()
        .unwrap()
        .entry(operation.clone())
        .or_default() += 1;

    let trip = {
        let mut wire = state.tripwire.lock().unwrap();
        match wire.as_ref() {
            Some((k, _)) if n >= *k => wire.take().map(|(_, action)| action),
            _ => None,
        }
    };
    if let Some(action) = trip {
        // Recorded first: the action may end the client, and a test then asks at once.
        state.tripped.store(n, Ordering::SeqCst);
        action();
    }
    if state.tripped.load(Ordering::SeqCst) != 0 {
        return Err(closed());
    }

    let faults = state.faults.lock().unwrap().clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.down {
        return Err(closed());
    }
    if faults.denied.contains(&operation) {
        return Ok(access_denied(protocol));
    }
    let r = roll(faults.seed, n) as u32;
    if r < faults.throttle_percent {
        state.injected.lock().unwrap().throttled += 1;
        return Ok(throttled(protocol));
    }
    if r < faults.throttle_percent + faults.error_percent {
        state.injected.lock().unwrap().errors += 1;
        return Ok(server_error(protocol));
    }
    if r < faults.throttle_percent + faults.error_percent + faults.drop_percent {
        state.injected.lock().unwrap().dropped += 1;
        return Err(closed());
    }

    if let Some(refusal) = aws_refusal(&state, &service, &op, protocol, &body) {
        *state.refused.lock().unwrap().entry(operation).or_default() += 1;
        return Ok(refusal);
    }

    let uri = format!(
        "{}{}",
        upstream.trim_end_matches('/'),
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (k, v) in parts.headers.iter() {
        forward = forward.header(k, v);
    }
    let forward = forward
        .body(Full::new(body))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let answer = client
        .request(forward)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .to_bytes();
    let mut back = Response::builder().status(parts.status);
    for (k, v) in parts.headers.iter() {
        back = back.header(k, v);
    }
    Ok(back
        .body(Full::new(body))
        .unwrap_or_else(|_| respond(StatusCode::BAD_GATEWAY.as_u16(), &[], "")))
}

/// A form field of a Query request (`Name=value`, URL-encoded).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let raw = text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The first time `key` is seen: the request that AWS would refuse while IAM propagates.
fn first_time(state: &State, key: String) -> bool {
    state.propagated.lock().unwrap().insert(key)
}

/// A CBOR map of text strings, for rpc-v2-cbor error bodies.
fn cbor_text_map(entries: &[(&str, &str)]) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        let n = s.len();
        match n {
            0..=23 => out.push(0x60 | n as u8),
            24..=255 => out.extend([0x78, n as u8]),
            256..=65535 => out.extend([0x79, (n >> 8) as u8, n as u8]),
            _ => {
                out.push(0x7A);
                out.extend((n as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = vec![0xA0 | entries.len() as u8];
    for (k, v) in entries {
        text(&mut out, k);
        text(&mut out, v);
    }
    out
}

/// What AWS would answer instead of the emulator, when AWS refuses the request.
fn aws_refusal(
    state: &State,
    service: &str,
    op: &str,
    protocol: Protocol,
    body: &[u8],
) -> Option<Response<Full<Bytes>>> {
    match (service, op) {
        // IAM is eventually consistent: the group's launch template names an instance profile
        // created moments before, which Auto Scaling refuses at first (terraform-provider-aws
        // PR #5633 quotes this answer).
        ("autoscaling", "CreateAutoScalingGroup") => {
            let name = form_field(body, "AutoScalingGroupName")?;
            first_time(state, format!("asg:{name}")).then(|| {
                respond(
                    400,
                    &[("content-type", "text/xml")],
                    format!(
                        "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>You must use a valid fully-formed launch template. Value ({name}-profile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
                    ),
                )
            })
        }
        // The same for EMR's job-flow role (terraform-provider-aws PR #3027).
        ("elasticmapreduce", "RunJobFlow") => {
            let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
            let name = doc["Name"].as_str()?.to_string();
            let profile = doc["JobFlowRole"].as_str().unwrap_or_default().to_string();
            first_time(state, format!("emr:{name}")).then(|| {
                respond(
                    400,
                    &[("content-type", "application/x-amz-json-1.1")],
                    serde_json::json!({
                        "__type": "ValidationException",
                        "message": format!("Invalid InstanceProfile: {profile}."),
                    })
                    .to_string(),
                )
            })
        }
        ("monitoring", "PutDashboard") => {
            let problems = dashboard_body_problems(body);
            (!problems.is_empty()).then(|| {
                let message = format!(
                    "The dashboard body is invalid, there are {} validation errors: [{}]",
                    problems.len(),
                    problems.join(",")
                );
                let body = if protocol == Protocol::Cbor {
                    cbor_text_map(&[("__type", "InvalidParameterInput"), ("message", &message)])
                } else {
                    format!(
                        "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterInput</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
                    )
                    .into_bytes()
                };
                let headers: &[(&str, &str)] = if protocol == Protocol::Cbor {
                    &[
                        ("content-type", "application/cbor"),
                        ("smithy-protocol", "rpc-v2-cbor"),
                    ]
                } else {
                    &[("content-type", "text/xml")]
                };
                respond(400, headers, body)
            })
        }
        // Route 53 refuses the documentation domains ("InvalidDomainName ... is reserved by
        // AWS!", as reported from CreateHostedZone).
        ("route53", "POST /2013-04-01/hostedzone") => {
            let text = String::from_utf8_lossy(body);
            let name = text
                .split("<Name>")
                .nth(1)?
                .split("</Name>")
                .next()?
                .to_string();
            let bare = name.trim_end_matches('.').to_ascii_lowercase();
            let reserved = ["example.com", "example.net", "example.org"]
                .iter()
                .any(|r| bare == *r || bare.ends_with(&format!(".{r}")));
            reserved.then(|| {
                respond(
                    400,
                    &[("content-type", "text/xml")],
                    format!(
                        "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>InvalidDomainName</Code><Message>{bare} is reserved by AWS!</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
                    ),
                )
            })
        }
        _ => None,
    }
}

/// What PutDashboard's validation says about a dashboard body, in its own words (CloudWatch API
/// reference, "Dashboard Body Structure and Syntax"): every widget has a type and properties,
/// x and y come together, a metric widget names its region and its metrics, a text widget its
/// markdown, an alarm widget 1 to 100 alarms.
pub fn dashboard_body_problems(body: &[u8]) -> Vec<String> {
    // The body is one text field of the request (JSON inside CBOR or a form): find it.
    let Some(start) = body.windows(11).position(|w| w == b"{\"widgets\":") else {
        return vec![
            r#"{"dataPath":"","message":"Should have required property 'widgets'"}"#.into(),
        ];
    };
    let mut stream =
        serde_json::Deserializer::from_slice(&body[start..]).into_iter::<serde_json::Value>();
    let Some(Ok(doc)) = stream.next() else {
        return vec![r#"{"dataPath":"","message":"Should be valid JSON"}"#.into()];
    };
    let mut problems = Vec::new();
    let mut say = |path: String, message: &str| {
        problems.push(format!(r#"{{"dataPath":"{path}","message":"{message}"}}"#));
    };
    let Some(widgets) = doc["widgets"].as_array() else {
        say(String::new(), "Should have required property 'widgets'");
        return problems;
    };
    for (i, w) in widgets.iter().enumerate() {
        let at = format!("/widgets/{i}");
        let Some(kind) = w["type"].as_str() else {
            say(at, "Should have required property 'type'");
            continue;
        };
        if w["x"].is_null() != w["y"].is_null() {
            say(at.clone(), "Should have property 'x' and 'y' together");
        }
        let p = &w["properties"];
        if !p.is_object() {
            say(at, "Should have required property 'properties'");
            continue;
        }
        let at = format!("{at}/properties");
        match kind {
            "metric" => {
                if !p["region"].is_string() {
                    say(at.clone(), "Should have required property 'region'");
                }
                if !p["metrics"].is_array() && p["annotations"]["alarms"].is_null() {
                    say(at, "Should have required property 'metrics'");
                }
            }
            "text" if !p["markdown"].is_string() => {
                say(at, "Should have required property 'markdown'");
            }
            "alarm" => match p["alarms"].as_array() {
                Some(a) if (1..=100).contains(&a.len()) => {}
                Some(_) => say(at, "Should NOT have fewer than 1 or more than 100 items"),
                None => say(at, "Should have required property 'alarms'"),
            },
            "log" if !p["region"].is_string() || !p["query"].is_string() => {
                say(at, "Should have required properties 'region' and 'query'");
            }
            _ => {}
        }
    }
    problems
}
