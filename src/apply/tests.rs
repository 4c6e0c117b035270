use super::*;
use crate::fake::FakeCloud;
use crate::plan::diff;
use crate::resource::{Kind, Val};
use std::sync::Mutex;

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn started(&self, _: &Op) {}
    fn finished(&self, op: &Op, _: &str, _: Duration) {
        self.0.lock().unwrap().push(format!("ok {}", op.id));
    }
    fn failed(&self, op: &Op, _: &str) {
        self.0.lock().unwrap().push(format!("failed {}", op.id));
    }
}

fn deployment() -> Deployment {
    Deployment {
        env: "dev".into(),
        stack: "test".into(),
    }
}

/// A VPC, `n` subnets in it, and a group over all subnets.
fn specs(n: usize, max: i64) -> Vec<ResourceSpec> {
    let mut out = vec![
        ResourceSpec::new("vpc", Kind::Vpc, "vpc").with("cidr_block", Val::str("10.0.0.0/16"))
    ];
    for i in 0..n {
        out.push(
            ResourceSpec::new(format!("subnet{i}"), Kind::Subnet, "s")
                .with("vpc_id", Val::reference("vpc", "id"))
                .with("index", Val::Int(i as i64)),
        );
    }
    out.push(
        ResourceSpec::new("asg", Kind::AutoScalingGroup, "asg")
            .with(
                "subnet_ids",
                Val::list((0..n).map(|i| Val::reference(format!("subnet{i}"), "id"))),
            )
            .with("max_size", Val::Int(max)),
    );
    out
}

async fn run(cloud: &Arc<FakeCloud>, desired: &[ResourceSpec], parallelism: usize) -> Outcome {
    let observed = cloud.observed();
    let plan = diff(desired, &observed, &crate::aws::schema).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    execute(
        cloud.clone(),
        Job {
            deployment: &deployment(),
            plan: &plan,
            desired,
            observed: &observed,
        },
        parallelism,
        Arc::new(Recorder::default()),
        rx,
    )
    .await
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry} not in {log:?}"))
}

#[tokio::test]
async fn creates_in_dependency_order_then_converges() {
    let cloud = Arc::new(FakeCloud::default());
    let outcome = run(&cloud, &specs(3, 4), 8).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    let log = cloud.log();
    assert!(position(&log, "create vpc") < position(&log, "create subnet0"));
    assert!(position(&log, "create subnet2") < position(&log, "create asg"));
    // The group got the real subnet ids, not references.
    let asg = cloud
        .observed()
        .into_iter()
        .find(|o| o.id == "asg")
        .unwrap();
    assert!(
        asg.props["subnet_ids"].render().contains("subnet1-"),
        "{:?}",
        asg.props
    );
    let again = diff(&specs(3, 4), &cloud.observed(), &crate::aws::schema).unwrap();
    assert!(again.is_empty(), "{:?}", again.changes);
}

#[tokio::test]
async fn independent_work_runs_in_parallel_within_the_bound() {
    let cloud = Arc::new(FakeCloud {
        delay: Duration::from_millis(30),
        ..FakeCloud::default()
    });
    let outcome = run(&cloud, &specs(12, 4), 4).await;
    assert!(outcome.succeeded());
    assert_eq!(
        cloud
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        4
    );
}

#[tokio::test]
async fn update_then_destroy_in_reverse_order() {
    let cloud = Arc::new(FakeCloud::default());
    assert!(run(&cloud, &specs(2, 4), 8).await.succeeded());
    let outcome = run(&cloud, &specs(2, 6), 8).await;
    assert_eq!(
        outcome.completed,
        vec![Op {
            id: "asg".into(),
            verb: Verb::Update
        }]
    );
    cloud.log.lock().unwrap().clear();
    assert!(run(&cloud, &[], 8).await.succeeded());
    let log = cloud.log();
    assert!(position(&log, "delete asg") < position(&log, "delete subnet0"));
    assert!(position(&log, "delete subnet1") < position(&log, "delete vpc"));
    assert!(cloud.observed().is_empty());
}

#[tokio::test]
async fn a_failure_stops_dependents_and_a_rerun_finishes() {
    let cloud = Arc::new(FakeCloud::default());
    *cloud.fail_on.lock().unwrap() = Some("subnet1".into());
    let outcome = run(&cloud, &specs(2, 4), 1).await;
    assert!(!outcome.succeeded());
    assert_eq!(outcome.failures[0].0.id, "subnet1");
    assert!(outcome.not_started.iter().any(|op| op.id == "asg"));
    assert!(!cloud.log().contains(&"create asg".to_string()));
    *cloud.fail_on.lock().unwrap() = None;
    assert!(run(&cloud, &specs(2, 4), 8).await.succeeded());
    assert_eq!(cloud.observed().len(), 4);
    assert!(diff(&specs(2, 4), &cloud.observed(), &crate::aws::schema)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_interrupt_starts_nothing_new() {
    let cloud = Arc::new(FakeCloud {
        delay: Duration::from_millis(50),
        ..FakeCloud::default()
    });
    let desired = specs(4, 4);
    let plan = diff(&desired, &[], &crate::aws::schema).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let c = cloud.clone();
    let handle = tokio::spawn(async move {
        let deployment = deployment();
        let job = Job {
            deployment: &deployment,
            plan: &plan,
            desired: &desired,
            observed: &[],
        };
        execute(c, job, 8, Arc::new(Recorder::default()), rx).await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(true).unwrap();
    let outcome = handle.await.unwrap();
    assert!(outcome.interrupted);
    assert_eq!(cloud.log(), vec!["create vpc".to_string()]);
}

/// Five alarms and a VPC that a database waits for, one operation at a time: the VPC (heading
/// the database's long chain) starts before any alarm, and the database right after it; in
/// graph order the alarms, first by name, go first.
#[tokio::test]
async fn the_longest_chain_starts_first() {
    let mut desired: Vec<ResourceSpec> = (0..5)
        .map(|i| ResourceSpec::new(format!("alarm{i}"), Kind::MetricAlarm, "a"))
        .collect();
    desired.push(ResourceSpec::new("vpc", Kind::Vpc, "vpc"));
    desired.push(
        ResourceSpec::new("zdb", Kind::DbInstance, "db").with("vpc", Val::reference("vpc", "id")),
    );
    for (order, first_two) in [
        (Order::LongestChainFirst, ["create vpc", "create zdb"]),
        (Order::GraphOrder, ["create alarm0", "create alarm1"]),
    ] {
        let cloud = Arc::new(FakeCloud::default());
        let plan = diff(&desired, &[], &crate::aws::schema).unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let d = deployment();
        let job = Job {
            deployment: &d,
            plan: &plan,
            desired: &desired,
            observed: &[],
        };
        let c: Arc<dyn Cloud> = cloud.clone();
        let outcome = execute_in_order(c, job, 1, Arc::new(Recorder::default()), rx, order).await;
        assert!(outcome.succeeded(), "{outcome:?}");
        assert_eq!(&cloud.log()[..2], &first_two, "{order:?}");
    }
}
