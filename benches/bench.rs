//! `make bench`: ftctl's costs measured through the fault-injecting proxy against the local
//! emulators — AWS requests per plan, parallel apply against serial and against the critical
//! path, plan at 1,000 resources, chaos detection and MTTR precision, CLI start-up and memory;
//! and, without emulators, applies against AWS-like waits next to their critical path
//! (`critical_path.rs`).
//! A `[[bench]]` target without libtest's harness, so `cargo test` does not build it: `main`
//! runs the benchmarks one after another (they share the emulators and the machine); each
//! prints its figures and writes them as a section of BENCHMARKS.md into $FTCTL_BENCH_DIR
//! (default target/bench), which `make bench` assembles. `cargo bench --bench bench -- NAME`
//! runs only the benchmarks whose name contains NAME.
//!
//! Figures are medians of several runs. Times are of the debug build the tests use (the
//! engine's own work is small next to request latency, which the proxy sets).

// The integration tests' support; the benchmarks use only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "parts/critical_path.rs"]
mod critical_path;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::proxy::{Faults, Proxy};
use support::*;

/// Slope and intercept of the least-squares line through (x, y) points.
fn least_squares(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), (x, y)| {
        (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx))
    });
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn write_section(name: &str, text: &str) {
    let dir = std::env::var("FTCTL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo().join("target/bench"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.md")), text).unwrap();
    println!("{text}");
}

fn args_with_vars<'a>(base: &[&'a str], vars: &[&'a str]) -> Vec<&'a str> {
    let mut args = base.to_vec();
    for v in vars {
        args.extend(["--var", v]);
    }
    args
}

fn destroy(env: &str, proxy_env: &[(&str, &str)]) {
    ftctl_with(
        &[
            "destroy",
            "--env",
            env,
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ],
        proxy_env,
    )
    .ok();
}

/// Distinct resource kinds a stack expands to (from `ftctl graph --json`, no AWS).
fn kinds_of(stage: &str, vars: &[&str]) -> (usize, usize) {
    let args = args_with_vars(&["graph", stage, "--json"], vars);
    let run = ftctl(&args).ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let resources = doc["resources"].as_array().unwrap();
    let kinds: BTreeSet<&str> = resources
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    (kinds.len(), resources.len())
}

async fn refresh_cost() {
    require_emulators();
    let proxy = Proxy::in_front_of_the_emulators();
    let env = unique_env("br");
    let mut rows = Vec::new();
    let mut stage3_ops = BTreeMap::new();
    for stage in ["stage1", "stage2", "stage3"] {
        for scale in [1u32, 10] {
            let mut vars: Vec<String> = Vec::new();
            if scale > 1 {
                for tier in ["web", "app"] {
                    vars.push(format!("tiers.{tier}.desired_capacity={}", 2 * scale));
                    vars.push(format!("tiers.{tier}.max_size={}", 6 * scale));
                }
            }
            let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
            proxy.reset();
            ftctl_with(
                &args_with_vars(&["apply", stage, "--env", &env, "--yes"], &vars),
                &proxy.env(),
            )
            .ok();
            let mut counts = Vec::new();
            for _ in 0..3 {
                proxy.reset();
                let run = ftctl_with(
                    &args_with_vars(
                        &["plan", stage, "--env", &env, "--detailed-exitcode"],
                        &vars,
                    ),
                    &proxy.env(),
                );
                assert_eq!(run.code, 0, "{stage}: not converged\n{}", run.stdout);
                counts.push(proxy.total() as f64);
                if stage == "stage3" && scale == 1 {
                    stage3_ops = proxy.counts();
                }
            }
            let (kinds, resources) = kinds_of(stage, &vars);
            let requests = median(counts);
            rows.push(format!(
                "| {stage} | ×{scale} ({} instances) | {resources} | {kinds} | {requests:.0} | {} |",
                4 * scale,
                if requests <= (kinds + 5) as f64 {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
    }
    destroy(&env, &proxy.env());
    // The no-op plan's requests by operation, for stage 3 at ×1, to show where they go:
    // operations made more than once are per-resource reads.
    let mut repeated: Vec<(&String, &u64)> = stage3_ops.iter().filter(|(_, n)| **n > 1).collect();
    repeated.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let repeated: Vec<String> = repeated
        .iter()
        .map(|(op, n)| format!("`{op}` ×{n}"))
        .collect();
    let single = stage3_ops.values().filter(|n| **n == 1).count();
    let text = format!(
        "## Refresh cost: AWS requests of a no-op `plan`\n\n\
         Requests counted by the proxy for `ftctl plan` on a deployment that is up to date \
         (median of 3). Target: at most the number of resource kinds in the stack plus 5, and \
         flat as capacity grows.\n\n\
         | stack | capacity | resources | kinds | requests | ≤ kinds + 5 |\n\
         |---|---|---|---|---|---|\n{}\n\n\
         Flat as capacity grows: instances are never read one by one. Two shared reads replace \
         the per-resource reads that grew with the deployment (src/aws/reads.rs): the alarms' \
         tags come from one Resource Groups Tagging API `GetResources`, the roles with their \
         tags, trust and policies (and the instance profiles' tags where it shows them) from \
         one `GetAccountAuthorizationDetails`, and launch templates' data from one \
         account-wide `DescribeLaunchTemplateVersions` of `$Default`. The kinds + 5 target is \
         still missed: about 80 requests are listings, and more than one per kind, because a \
         kind's settings come from several calls with no batch form (a bucket's encryption, \
         lifecycle, policy and public access block; a balancer's attributes, listeners and \
         rules; a VPC's attributes one per call; a table's continuous backups; Application \
         Auto Scaling asked per service namespace), and some services list without tags \
         (SQS queues, X-Ray groups and rules, Backup vaults and plans, ElastiCache and RDS \
         resources, buckets). The tagging index could answer those tags too, but it lags \
         behind the services on AWS and ftctl retags a retained bucket at destroy, so only \
         kinds whose ownership tags never change after creation use it; on the emulators it \
         would miss anything moto serves (the tagging endpoint is ministack's). Where the \
         requests go (stage 3 ×1): {single} operations made once (the listings and the shared \
         reads), and these made per resource: {}.\n",
        rows.join("\n"),
        repeated.join(", ")
    );
    write_section("1-refresh", &text);
}

/// The longest chain of operation times through the dependency graph.
fn critical_path(deps: &BTreeMap<String, Vec<String>>, ms: &BTreeMap<String, f64>) -> f64 {
    fn finish(
        id: &str,
        deps: &BTreeMap<String, Vec<String>>,
        ms: &BTreeMap<String, f64>,
        memo: &mut BTreeMap<String, f64>,
    ) -> f64 {
        if let Some(v) = memo.get(id) {
            return *v;
        }
        let before = deps
            .get(id)
            .map(|ds| {
                ds.iter()
                    .map(|d| finish(d, deps, ms, memo))
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0);
        let v = before + ms.get(id).copied().unwrap_or(0.0);
        memo.insert(id.to_string(), v);
        v
    }
    let mut memo = BTreeMap::new();
    deps.keys()
        .map(|id| finish(id, deps, ms, &mut memo))
        .fold(0.0, f64::max)
}

/// Per-operation times from `FTCTL_LOG=ftctl::apply=debug` lines.
fn op_times(stderr: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in stderr.lines().filter(|l| l.contains("finished")) {
        let field = |name: &str| {
            line.split(&format!("{name}=")).nth(1).map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        };
        if let (Some(id), Some(ms)) = (field("id"), field("elapsed_ms")) {
            if let Ok(ms) = ms.parse::<f64>() {
                out.insert(id, ms);
            }
        }
    }
    out
}

async fn parallel_apply() {
    require_emulators();
    let proxy = Proxy::in_front_of_the_emulators();
    let vars: [&str; 0] = [];
    let latency = Duration::from_millis(50);
    let run_apply = |env: &str, parallelism: &str| -> (f64, u64, BTreeMap<String, f64>) {
        proxy.reset();
        proxy.set_faults(Faults {
            latency,
            ..Faults::default()
        });
        let mut log_env = proxy.env();
        log_env.push(("FTCTL_LOG", "ftctl::apply=debug"));
        let start = Instant::now();
        let run = ftctl_with(
            &args_with_vars(
                &[
                    "apply",
                    "stage3",
                    "--env",
                    env,
                    "--yes",
                    "--parallelism",
                    parallelism,
                ],
                &vars,
            ),
            &log_env,
        )
        .ok();
        let wall = start.elapsed().as_secs_f64();
        let requests = proxy.total();
        proxy.reset();
        destroy(env, &proxy.env());
        (wall, requests, op_times(&run.stderr))
    };
    // Reading the deployment before any change: a plan at the same latency.
    let mut refresh = Vec::new();
    let env = unique_env("bp");
    for _ in 0..3 {
        proxy.reset();
        proxy.set_faults(Faults {
            latency,
            ..Faults::default()
        });
        let start = Instant::now();
        ftctl_with(
            &args_with_vars(&["plan", "stage3", "--env", &env], &vars),
            &proxy.env(),
        )
        .ok();
        refresh.push(start.elapsed().as_secs_f64());
    }
    let refresh = median(refresh);

    let graph = ftctl(&args_with_vars(&["graph", "stage3", "--json"], &vars)).ok();
    let doc: Value = serde_json::from_str(&graph.stdout).unwrap();
    let deps: BTreeMap<String, Vec<String>> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["depends_on"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();

    let (mut parallel, mut serial, mut paths) = (Vec::new(), Vec::new(), Vec::new());
    let mut wide = Vec::new();
    let mut requests = 0;
    for i in 0..3 {
        let (wall, reqs, _) = run_apply(&format!("{env}p{i}"), "10");
        parallel.push(wall);
        requests = reqs;
        let (wall, _, _) = run_apply(&format!("{env}w{i}"), "32");
        wide.push(wall);
        let (wall, _, ops) = run_apply(&format!("{env}s{i}"), "1");
        serial.push(wall);
        // Operation times from the serial run: no operation waits for another's requests.
        paths.push(refresh + critical_path(&deps, &ops) / 1000.0);
    }
    let (parallel, serial, path) = (median(parallel), median(serial), median(paths));
    let wide = median(wide);
    let speedup = serial / parallel;
    let to_path = parallel / path;
    let text = format!(
        "## Parallel apply\n\n\
         `ftctl apply stage3` ({} resources, {requests} requests) with {} ms added to every \
         request by the proxy; median of 3 runs each. The critical path is the plan's read \
         of the deployment (a `plan` at the same latency: {refresh:.1} s) plus the longest \
         chain of operations through the dependency graph (`ftctl graph --json`), each taking \
         as long as it did in the serial run.\n\n\
         | | seconds |\n|---|---|\n\
         | default parallelism (10) | {parallel:.1} |\n\
         | `--parallelism 32` | {wide:.1} |\n\
         | `--parallelism 1` | {serial:.1} |\n\
         | critical path | {path:.1} |\n\n\
         Speed-up over serial: **{speedup:.2}×** (target ≥ 4×: {}). \
         Parallel against the critical path: **{to_path:.2}×** (target ≤ 1.3×: {}). \
         More parallelism does not close the gap (`--parallelism 32`: {:.2}× the critical \
         path), so ftctl's scheduling is not what limits it: the emulators answer one request \
         at a time (moto is one Python process), so concurrent requests queue there, while the \
         critical path counts each operation as long as it took alone. Against AWS, whose \
         services answer in parallel, the parallel run should come closer to it.\n",
        deps.len(),
        latency.as_millis(),
        if speedup >= 4.0 { "met" } else { "missed" },
        if to_path <= 1.3 { "met" } else { "missed" },
        wide / path,
    );
    write_section("2-parallel", &text);
}

/// A stack of about `target` resources: stage 1 with as many more app tiers as it takes.
fn big_stack(dir: &std::path::Path, target: usize) -> (std::path::PathBuf, usize) {
    let base = std::fs::read_to_string(repo().join("stacks/stage1.toml")).unwrap();
    let (_, base_count) = kinds_of("stage1", &[]);
    // Each extra tier: security group, role, profile, launch template, target group, group,
    // two alarms, and its dashboard row (one resource, grown).
    let per_tier = 8;
    let tiers = (target.saturating_sub(base_count)) / per_tier;
    let mut text = base;
    // Scaled to zero: the resources are what is measured, and hundreds of instances would
    // exhaust the stage's subnets (as on AWS).
    for n in 0..tiers {
        text.push_str(&format!(
            "\n[tiers.t{n:03}]\nload_balancer = \"internal\"\ninstance_type = \"t3.micro\"\n\
             min_size = 0\nmax_size = 2\ndesired_capacity = 0\n"
        ));
    }
    let path = dir.join("big.toml");
    std::fs::write(&path, text).unwrap();
    let run = ftctl(&["graph", path.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    (path, doc["resources"].as_array().unwrap().len())
}

async fn scale() {
    require_emulators();
    let proxy = Proxy::in_front_of_the_emulators();
    let dir = tempfile::tempdir().unwrap();
    let (path, resources) = big_stack(dir.path(), 5000);
    let stack = path.to_str().unwrap();
    let env = unique_env("bs");
    let (kinds, _) = {
        let run = ftctl(&["graph", stack, "--json"]).ok();
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        let kinds: BTreeSet<String> = doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect();
        (kinds.len(), 0)
    };
    let plan_at = |latency_ms: u64| -> (f64, u64, BTreeMap<String, u64>) {
        let mut times = Vec::new();
        let mut requests = 0;
        let mut by_op = BTreeMap::new();
        for _ in 0..3 {
            proxy.reset();
            proxy.set_faults(Faults {
                latency: Duration::from_millis(latency_ms),
                ..Faults::default()
            });
            let start = Instant::now();
            let run = ftctl_with(&["plan", stack, "--env", &env], &proxy.env());
            assert_eq!(run.code, 0, "{}", run.stderr);
            times.push(start.elapsed().as_secs_f64());
            requests = proxy.total();
            by_op = proxy.counts();
        }
        (median(times), requests, by_op)
    };
    let (empty_time, empty_requests, _) = plan_at(20);
    proxy.reset();
    let start = Instant::now();
    let applied = ftctl_with(&["apply", stack, "--env", &env, "--yes"], &proxy.env());
    let apply_time = start.elapsed().as_secs_f64();
    let apply_requests = proxy.total();
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let (full_time, full_requests, by_op) = plan_at(20);
    proxy.reset();
    destroy(&env, &proxy.env());
    let mut heavy: Vec<(&String, &u64)> = by_op.iter().collect();
    heavy.sort_by(|a, b| b.1.cmp(a.1));
    let heavy: Vec<String> = heavy
        .iter()
        .take(6)
        .map(|(op, n)| format!("`{op}` {n}"))
        .collect();
    let text = format!(
        "## Scale: a stack of {resources} resources\n\n\
         Stage 1 plus {} extra app tiers ({kinds} resource kinds), 20 ms added to every \
         request; median of 3 plans.\n\n\
         | | seconds | requests |\n|---|---|---|\n\
         | `plan`, nothing deployed yet | {empty_time:.2} | {empty_requests} |\n\
         | `apply` (no added latency) | {apply_time:.1} | {apply_requests} |\n\
         | `plan`, all {resources} deployed | {full_time:.2} | {full_requests} |\n\n\
         Target: plan < 5 s ({}); requests growing with kinds, not resources ({}). \
         Largest shares of the deployed plan's requests: {}.\n",
        (resources - kinds_of("stage1", &[]).1) / 8,
        if full_time < 5.0 { "met" } else { "missed" },
        if full_requests <= (kinds + 5) as u64 {
            "met"
        } else {
            "missed: some kinds are read per resource"
        },
        heavy.join(", "),
    );
    write_section("3-scale", &text);
}

async fn cli() {
    let no_aws = NoAws::new();
    let time = |args: &[&str]| -> f64 {
        let mut xs = Vec::new();
        for _ in 0..20 {
            let start = Instant::now();
            let out = ftctl_command()
                .args(args)
                .envs(no_aws.env())
                .output()
                .unwrap();
            xs.push(start.elapsed().as_secs_f64() * 1000.0);
            let _ = out;
        }
        median(xs)
    };
    let version = time(&["--version"]);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(repo().join("stacks/stage1.toml"))
            .unwrap()
            .replace("az_count = 2", "az_count = \"two\""),
    )
    .unwrap();
    let bad_plan = time(&["plan", bad.to_str().unwrap()]);
    no_aws.assert_untouched();

    // Peak memory of a whole stage 3 apply (the largest resident set of any child so far:
    // this test's children are only ftctl runs, and this apply is the largest).
    require_emulators();
    let env = unique_env("bm");
    let start = Instant::now();
    ftctl(&args_with_vars(
        &["apply", "stage3", "--env", &env, "--yes"],
        &[],
    ))
    .ok();
    let apply_time = start.elapsed().as_secs_f64();
    let peak_kib = {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct it is given.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
        usage.ru_maxrss
    };
    destroy(&env, &[]);
    let text = format!(
        "## CLI\n\n\
         | | |\n|---|---|\n\
         | `ftctl --version` | {version:.1} ms (median of 20) |\n\
         | `ftctl plan` on a bad stack file (error, exit 1, no AWS call) | {bad_plan:.1} ms (median of 20) |\n\
         | peak memory of `ftctl apply stage3` | {:.1} MiB (max resident set) |\n\
         | wall time of that apply (no added latency) | {apply_time:.1} s |\n",
        peak_kib as f64 / 1024.0
    );
    write_section("5-cli", &text);
}

/// Kill-instance against stage 1 while a helper plays the Auto Scaling group's part with a
/// known delay: it sees the instance go (polling every 50 ms), waits, then has the group
/// replace it and notes when the balancer reports two healthy targets again. That gives the
/// true time to recover; ftctl's verdict is compared with it, and the proxy counts the
/// requests ftctl makes while it watches.
async fn chaos_precision() {
    require_emulators();
    let proxy = Proxy::in_front_of_the_emulators();
    let env = unique_env("bc");
    ftctl(&["apply", "stage1", "--env", &env, "--yes"]).ok();
    let group = format!("{env}-web");
    let repair_after = Duration::from_secs(3);
    // (interval, detection medians, MTTR error median) per interval, and (probes, requests) of
    // every run: the requests a probe costs are the slope of requests against probes, which
    // leaves out what a run spends once (reading the deployment, injecting, the report).
    let mut results = Vec::new();
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for interval in [0.5f64, 1.0, 2.0, 6.0] {
        let (mut detect, mut mttr_err) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let truth = {
                let group = group.clone();
                tokio::spawn(async move {
                    let aws = aws().await;
                    let limit = Instant::now() + Duration::from_secs(60);
                    while healthy_targets(&aws, &group).await >= 2 {
                        assert!(Instant::now() < limit, "no instance was killed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let lost = Instant::now();
                    tokio::time::sleep(repair_after).await;
                    while healthy_targets(&aws, &group).await < 2 {
                        let g = aws
                            .autoscaling
                            .describe_auto_scaling_groups()
                            .auto_scaling_group_names(&group)
                            .send()
                            .await
                            .unwrap();
                        let desired = g.auto_scaling_groups()[0].desired_capacity().unwrap();
                        aws.autoscaling
                            .set_desired_capacity()
                            .auto_scaling_group_name(&group)
                            .desired_capacity(desired)
                            .send()
                            .await
                            .unwrap();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    lost.elapsed().as_secs_f64()
                })
            };
            let reports = tempfile::tempdir().unwrap();
            let dir = reports.path().join("run");
            proxy.reset();
            let interval_arg = interval.to_string();
            let run = tokio::task::spawn_blocking({
                let env = env.clone();
                let dir = dir.clone();
                let proxy_env: Vec<(String, String)> = proxy
                    .env()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                move || {
                    let pairs: Vec<(&str, &str)> = proxy_env
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    ftctl_with(
                        &[
                            "chaos",
                            "kill-instance",
                            "--env",
                            &env,
                            "--group",
                            "web",
                            "--interval",
                            &interval_arg,
                            "--settle",
                            "2",
                            "--budget",
                            "60",
                            "--report-dir",
                            dir.to_str().unwrap(),
                        ],
                        &pairs,
                    )
                }
            })
            .await
            .unwrap();
            assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
            let true_mttr = truth.await.unwrap();
            let journal: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("journal.json")).unwrap())
                    .unwrap();
            let v = &journal["verdict"];
            detect.push(v["detected_after"].as_f64().unwrap());
            mttr_err.push(v["recovered_after"].as_f64().unwrap() - true_mttr);
            let probes = journal["probes"].as_array().map(Vec::len).unwrap_or(0);
            runs.push((probes as f64, proxy.total() as f64));
        }
        results.push((interval, median(detect), median(mttr_err)));
    }
    destroy(&env, &[]);
    let (slope, once) = least_squares(&runs);
    // To a tenth: the fit of whole request counts is exact only up to float noise.
    let per_probe = (slope * 10.0).round() / 10.0;
    let rows: Vec<String> = results
        .iter()
        .map(|&(interval, d, e)| {
            let r = per_probe * 60.0 / interval;
            format!(
                "| {interval} s | {d:.2} s ({}) | {e:+.2} s ({}) | {r:.0} ({}) |",
                if d <= interval { "met" } else { "missed" },
                if e.abs() <= interval { "met" } else { "missed" },
                if r <= 60.0 { "met" } else { "missed" },
            )
        })
        .collect();
    let text = format!(
        "## Chaos precision\n\n\
         `ftctl chaos kill-instance` on stage 1's web tier; the group's replacement is played \
         by the benchmark {} s after the instance goes, so the true time to recover is known \
         (±50 ms). Median of 3 runs per probe interval. Targets: detection within one \
         interval, MTTR within ±1 interval, ≤ 60 requests/min while watching.\n\n\
         | probe interval | detection latency | MTTR error | requests/min while watching |\n\
         |---|---|---|---|\n{}\n\n\
         A probe costs {per_probe:.1} requests (the slope of requests against probes over the \
         {} runs; a run also spends about {once:.0} once, reading the deployment, injecting \
         and reporting): the groups in one call, the instances in one, target health per \
         target group, the database, the alarms in one. At the default interval (1 s) that \
         is {:.0} a minute, over the target; an interval of {:.0} s or more keeps to 60, and \
         detection and MTTR are then known to that interval, as the last row shows. Target \
         health has no batch read, so the count grows by one per target group. At 0.5 s a \
         probe's requests take a good part of the interval on the emulators (moto answers one \
         request at a time), so the MTTR error there varies most between runs.\n",
        repair_after.as_secs(),
        rows.join("\n"),
        runs.len(),
        per_probe * 60.0,
        per_probe.ceil(),
    );
    write_section("4-chaos", &text);
}

/// Runs the benchmarks in order (or those whose name contains an argument) and prints figures.
fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    type Bench = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;
    let benches: [(&str, Bench); 6] = [
        ("refresh_cost", || Box::pin(refresh_cost())),
        ("parallel_apply", || Box::pin(parallel_apply())),
        ("scale", || Box::pin(scale())),
        ("cli", || Box::pin(cli())),
        ("chaos_precision", || Box::pin(chaos_precision())),
        ("critical_path", || {
            Box::pin(critical_path::critical_path_apply())
        }),
    ];
    for (name, bench) in benches {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        eprintln!("bench {name} ...");
        runtime.block_on(bench());
        eprintln!("bench {name}: {:.1}s", started.elapsed().as_secs_f64());
    }
}
