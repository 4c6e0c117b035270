//! Applies at the critical path: each shipped stage applied to an in-memory cloud whose
//! operations take their kind's typical AWS time (`ftctl::schedule::typical_seconds`), scaled
//! down by `SCALE` so a run takes seconds, against the critical path of the plan's dependency
//! graph with the same durations; at parallelism 10 (the default) and 4, with the executor's
//! longest-chain-first order and with plain graph order. No emulators: the emulators answer at
//! once, so only an apply against a cloud with AWS-like waits shows whether the slow chains start
//! first.

use async_trait::async_trait;
use ftctl::apply::{execute_in_order, Job, Op, Order, Reporter};
use ftctl::cloud::Cloud;
use ftctl::deployment::Deployment;
use ftctl::resource::{Observed, ResourceSpec};
use ftctl::schedule::{critical_path, typical_seconds};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One second on AWS is this long here: a 15-minute database takes 0.9 s.
const SCALE: f64 = 0.001;

/// A cloud whose creates take their kind's typical time and hand back every output the plan
/// refers to.
struct TimedCloud {
    attrs: BTreeSet<String>,
}

#[async_trait]
impl Cloud for TimedCloud {
    fn target(&self) -> String {
        "memory (AWS-like waits)".into()
    }

    fn region(&self) -> String {
        "us-east-1".into()
    }

    async fn zones(&self) -> anyhow::Result<Vec<String>> {
        Ok(vec!["us-east-1a".into(), "us-east-1b".into()])
    }

    async fn observe(&self, _: &Deployment) -> anyhow::Result<Vec<Observed>> {
        Ok(Vec::new())
    }

    async fn create(&self, _: &Deployment, spec: &ResourceSpec) -> anyhow::Result<Observed> {
        tokio::time::sleep(Duration::from_secs_f64(typical_seconds(spec.kind) * SCALE)).await;
        let physical = format!("{}-made", spec.id);
        let mut o = Observed::new(&spec.id, spec.kind, &physical);
        for attr in &self.attrs {
            o.outputs.insert(attr.clone(), physical.clone());
        }
        o.props = spec.props.clone();
        Ok(o)
    }

    async fn update(
        &self,
        _: &Deployment,
        _: &ResourceSpec,
        current: &Observed,
    ) -> anyhow::Result<Observed> {
        Ok(current.clone())
    }

    async fn delete(&self, _: &Deployment, _: &Observed) -> anyhow::Result<()> {
        Ok(())
    }
}

struct Quiet;

impl Reporter for Quiet {
    fn started(&self, _: &Op) {}
    fn finished(&self, _: &Op, _: &str, _: Duration) {}
    fn failed(&self, op: &Op, error: &str) {
        panic!("{op:?} failed: {error}");
    }
}

/// The stage's resources as `plan` expands them (two zones, us-east-1).
fn specs_of(stage: &str) -> Vec<ResourceSpec> {
    let path = super::repo().join(format!("stacks/{stage}.toml"));
    let stack = ftctl::stack::load(&path, &[]).unwrap().stack;
    let zones = ["us-east-1a".to_string(), "us-east-1b".to_string()];
    ftctl::expand::expand(&stack, "bench", "us-east-1", &zones).unwrap()
}

/// The critical path of creating `specs`: each after what it refers to, as the executor orders
/// them, each taking its kind's scaled time.
fn path_of(specs: &[ResourceSpec]) -> f64 {
    let index: HashMap<&str, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut successors = vec![Vec::new(); specs.len()];
    for (i, s) in specs.iter().enumerate() {
        for dep in s.deps() {
            if let Some(&d) = index.get(dep.as_str()) {
                successors[d].push(i);
            }
        }
    }
    let durations: Vec<f64> = specs
        .iter()
        .map(|s| typical_seconds(s.kind) * SCALE)
        .collect();
    critical_path(&durations, &successors)
}

async fn apply_once(specs: &[ResourceSpec], parallelism: usize, order: Order) -> f64 {
    let mut attrs = BTreeSet::new();
    for s in specs {
        let mut refs = Vec::new();
        for v in s.props.values() {
            v.refs(&mut refs);
        }
        attrs.extend(refs.into_iter().map(|r| r.attr));
    }
    let cloud: Arc<dyn Cloud> = Arc::new(TimedCloud { attrs });
    let plan = ftctl::plan::diff(specs, &[], &ftctl::aws::schema).unwrap();
    let deployment = Deployment {
        env: "bench".into(),
        stack: "bench".into(),
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let job = Job {
        deployment: &deployment,
        plan: &plan,
        desired: specs,
        observed: &[],
    };
    let start = Instant::now();
    let outcome = execute_in_order(cloud, job, parallelism, Arc::new(Quiet), rx, order).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    start.elapsed().as_secs_f64()
}

pub async fn critical_path_apply() {
    let mut rows = String::new();
    let mut verdicts = Vec::new();
    for stage in ["stage1", "stage2", "stage3"] {
        let specs = specs_of(stage);
        let path = path_of(&specs);
        let work: f64 = specs.iter().map(|s| typical_seconds(s.kind) * SCALE).sum();
        for parallelism in [10, 4] {
            // No schedule beats the longest chain, nor the work shared by the workers.
            let bound = path.max(work / parallelism as f64);
            let mut chain = Vec::new();
            let mut graph = Vec::new();
            for _ in 0..3 {
                chain.push(apply_once(&specs, parallelism, Order::LongestChainFirst).await);
                graph.push(apply_once(&specs, parallelism, Order::GraphOrder).await);
            }
            let (chain, graph) = (super::median(chain), super::median(graph));
            rows.push_str(&format!(
                "| {stage} | {} | {parallelism} | {:.0} | {:.0} | {:.0} ({:.2}×) | {:.0} ({:.2}×) |\n",
                specs.len(),
                path / SCALE,
                bound / SCALE,
                chain / SCALE,
                chain / path,
                graph / SCALE,
                graph / path,
            ));
            if parallelism == 10 {
                verdicts.push((stage, chain / path));
            }
        }
    }
    let met: Vec<String> = verdicts
        .iter()
        .map(|(stage, r)| {
            format!(
                "{stage} {r:.3}× ({})",
                if *r <= 1.05 { "met" } else { "missed" }
            )
        })
        .collect();
    let text = format!(
        "## Applies at the critical path\n\n\
         Each shipped stage created from nothing against an in-memory cloud whose operations take \
         their kind's typical time on AWS, scaled by {SCALE} (a 15-minute database takes 0.9 s \
         here); seconds below are AWS seconds (measured ÷ {SCALE}). The typical times \
         (`core/src/schedule.rs`) are the middle of commonly reported ranges, not AWS's word: AWS \
         documents no creation times. A Multi-AZ database 900 s (10–20 min), a replication group \
         750 (10–15), an EMR cluster 660 (7–15), a CloudFront distribution 600 (5–15), a \
         DocumentDB instance 600, an Auto Scaling group until its instances pass health checks \
         240, a balancer 180 (2–4 min), an ECS service 180, a NAT gateway 120 (1–3 min), EFS \
         mount targets and interface endpoints 90, the rest 2 to 30. The critical path is the \
         longest chain of those times through the dependency graph the executor orders creates \
         by. Median of 3 runs each.\n\n\
         | stage | resources | parallelism | critical path (s) | lower bound (s) | longest chain first (s, ×path) | graph order (s, ×path) |\n\
         |---|---|---|---|---|---|---|\n{rows}\n\
         The lower bound is the larger of the critical path and the work divided among the \
         workers (the sum of all durations ÷ parallelism): at parallelism 4, stage 3 has more \
         work than four workers finish in the critical path's time.\n\n\
         Goal: within 1.05× of the critical path at the default parallelism: {}. Graph order is a \
         scheduler that starts ready work in the order it became ready, without the priority.\n",
        met.join(", ")
    );
    super::write_section("7-critical-path", &text);
}
