//! The load an experiment sends (the sender half of `chaos::load`): GET requests to one URL at a
//! fixed rate, each on its own task so a slow answer does not slow the rate, with a per-request
//! timeout and a bound on requests in flight (a request that finds the bound reached counts as
//! failed: users would be queued too).
//! Samples go to the core's verdict (`ftctl_core::chaos::load`). HTTPS uses the system's root
//! certificates, as a browser on the same machine would.

use crate::chaos::load::Sample;
use anyhow::{anyhow, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// A load running in the background; `finish` stops it and returns every sample.
pub struct Load {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    samples: Arc<Mutex<Vec<Sample>>>,
    in_flight: Arc<Semaphore>,
    capacity: usize,
}

impl Load {
    /// Starts `rate` requests per second to `url` (checked by the caller); `clock` is the run's
    /// zero, so samples line up with the journal's probes.
    pub fn start(url: &str, rate: f64, timeout: Duration, clock: Instant) -> Result<Load> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| anyhow!("--load {}: {e}", crate::chaos::load::redact(url)))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| anyhow!("loading the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = watch::channel(false);
        // At most this many requests wait for an answer at once.
        let capacity = ((rate * timeout.as_secs_f64()).ceil() as usize).max(1);
        let in_flight = Arc::new(Semaphore::new(capacity));
        let task = tokio::spawn({
            let samples = samples.clone();
            let in_flight = in_flight.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = ticks.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    let at = clock.elapsed().as_secs_f64();
                    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                        push(
                            &samples,
                            Sample {
                                at,
                                ok: false,
                                latency_ms: 0.0,
                            },
                        );
                        continue;
                    };
                    let (client, uri, samples) = (client.clone(), uri.clone(), samples.clone());
                    tokio::spawn(async move {
                        let sent = Instant::now();
                        let request = hyper::Request::get(uri)
                            .header(hyper::header::USER_AGENT, "ftctl-chaos-load")
                            .body(Empty::<Bytes>::new());
                        let ok = match request {
                            Ok(request) => {
                                let answered = tokio::time::timeout(timeout, async {
                                    let response = client.request(request).await?;
                                    let status = response.status();
                                    // Read the body: a user waits for all of it.
                                    response.into_body().collect().await?;
                                    Ok::<_, anyhow::Error>(status)
                                })
                                .await;
                                matches!(answered, Ok(Ok(status)) if status.as_u16() < 500)
                            }
                            Err(_) => false,
                        };
                        let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
                        push(&samples, Sample { at, ok, latency_ms });
                        drop(permit);
                    });
                }
            }
        });
        Ok(Load {
            stop,
            task,
            samples,
            in_flight,
            capacity,
        })
    }

    /// The samples so far (for the check before the fault).
    pub fn so_far(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops sending; requests still out get up to `grace` (their timeout) to answer.
    pub async fn finish(self, grace: Duration) -> Vec<Sample> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let until = Instant::now() + grace + Duration::from_millis(200);
        while self.in_flight.available_permits() < self.capacity && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        samples.sort_by(|a, b| a.at.total_cmp(&b.at));
        samples
    }
}

fn push(samples: &Mutex<Vec<Sample>>, s: Sample) {
    samples.lock().unwrap_or_else(|e| e.into_inner()).push(s);
}
