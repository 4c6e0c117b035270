//! A fault-injecting HTTP proxy for tests and benchmarks, put between ftctl and the emulators by
//! pointing the endpoint variables at it. It forwards every request to the endpoint it stands
//! in for, and can add latency, answer a share of requests with the protocol's throttling error
//! or an HTTP 500, drop connections, go down altogether, count requests per service and
//! operation, and run an action when the k-th request arrives (a test kills ftctl there).
//!
//! It runs on its own thread and runtime, so blocking tests (which wait for the ftctl process)
//! and async tests can both use it.

#![allow(dead_code)]

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

    pub fn set_down(&self, down: bool) {
        self.state.faults.lock().unwrap().down = down;
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
    // REST: the method and the path's shape (names and ids vary per deployment).
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| if i == 0 && service != "s3" { s } else { "*" })
        .collect();
    let op = format!("{} /{}", req.method, shape.join("/"));
    let protocol = match service.as_str() {
        "s3" => Protocol::S3,
        "route53" | "cloudfront" => Protocol::RestXml,
        _ => Protocol::RestJson,
    };
    (service, op, protocol)
}

fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Full::new(body.into())).unwrap()
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
    *state
        .counts
        .lock()
        .unwrap()
        .entry(format!("{service}:{op}"))
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
