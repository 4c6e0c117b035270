//! The load a chaos run sends, against a local HTTP server the test controls (on 127.0.0.1):
//! a run on a deployed stage 1 whose group heals in time but whose users saw failures is judged
//! USERS NOTICED (exit 1), with per-second success and p99 in the journal; credentials in the
//! URL never reach the output or the journal; a server failing before the fault gets the run
//! refused before anything is injected; and a bad URL is refused before any AWS call.

use crate::chaos::{journal, Deployed};
use crate::support::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A server that answers 200, or 503 while `failing` is set, and counts what it served.
struct Site {
    port: u16,
    failing: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    async fn start() -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let failing = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (failing, served) = (failing.clone(), served.clone());
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (failing, served) = (failing.clone(), served.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |_req| {
                            served.fetch_add(1, Ordering::SeqCst);
                            let status = if failing.load(Ordering::SeqCst) {
                                StatusCode::SERVICE_UNAVAILABLE
                            } else {
                                StatusCode::OK
                            };
                            async move {
                                Ok::<_, std::convert::Infallible>(
                                    Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::from_static(b"shop")))
                                        .unwrap(),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        Site {
            port,
            failing,
            served,
            task,
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_who_saw_failures_fail_the_run_even_when_the_group_healed() {
    let _emulators = emulators().await;
    let site = Site::start().await;
    let url = format!(
        "http://shopper:hunter2@127.0.0.1:{}/?session=s3cr3t",
        site.port
    );

    // A bad URL: refused before anything is read.
    let no_aws = NoAws::new();
    ftctl_with(
        &[
            "chaos",
            "kill-instance",
            "--env",
            "nothere",
            "--load",
            "ftp://x/",
        ],
        &no_aws.env(),
    )
    .failure(2)
    .stderr_has("--load ftp://x/: the scheme must be http or https");
    no_aws.assert_untouched();

    let d = Deployed::new("ld");
    calm_alarms(&aws().await, &d.env).await;
    // Users already failing: refused, nothing injected.
    site.failing.store(true, Ordering::SeqCst);
    let reports = tempfile::tempdir().unwrap();
    let refused = ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--load",
        &url,
        "--report-dir",
        reports.path().to_str().unwrap(),
    ])
    .failure(2)
    .stderr_has("users are not served well before the fault");
    assert!(!refused.stderr.contains("hunter2") && !refused.stderr.contains("s3cr3t"));
    assert!(!reports.path().join("journal.json").exists());
    site.failing.store(false, Ordering::SeqCst);

    // The group heals, but for two seconds of the fault every request fails.
    let reports = tempfile::tempdir().unwrap();
    let (command, child) = crate::chaos::spawn_ftctl(&[
        "chaos",
        "kill-instance",
        "--env",
        &d.env,
        "--group",
        "web",
        "--load",
        &url,
        "--load-rate",
        "20",
        "--max-error-rate",
        "0.05",
        "--interval",
        "0.5",
        "--settle",
        "1",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    let injected = until(300, || async {
        let text = std::fs::read_to_string(reports.path().join("journal.json")).ok()?;
        let j: serde_json::Value = serde_json::from_str(&text).ok()?;
        j["injected_at"].as_f64()
    })
    .await;
    assert!(injected.is_some(), "{command}: never injected");
    site.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    site.failing.store(false, Ordering::SeqCst);
    let run = finish((command, child)).await.failure(1);
    let j = journal(reports.path());
    assert_eq!(
        j["outcome"], "users-noticed",
        "{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        j["verdict"]["recovered_after"].is_number(),
        "the group healed: {j}"
    );
    let load = &j["load"];
    assert!(load["fault_error_rate"].as_f64().unwrap() > 0.05, "{load}");
    assert!(load["noticed"]
        .as_str()
        .unwrap()
        .contains("more than the 5.0% allowed"));
    let seconds = load["seconds"].as_array().unwrap();
    assert!(
        seconds
            .iter()
            .any(|s| s["ok"].as_u64() < s["sent"].as_u64()),
        "{load}"
    );
    assert!(
        seconds.iter().any(|s| s["p99_ms"].as_f64().unwrap() > 0.0),
        "{load}"
    );
    assert!(site.served.load(Ordering::SeqCst) >= 40);
    let run = run.stdout_has("USERS NOTICED");
    // The credentials and the session token were used but never kept or shown.
    let text = std::fs::read_to_string(reports.path().join("journal.json")).unwrap();
    let report = std::fs::read_to_string(reports.path().join("report.md")).unwrap();
    for shown in [&run.stdout, &run.stderr, &text, &report] {
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
    assert!(text.contains("REDACTED@127.0.0.1"), "{text}");
}
