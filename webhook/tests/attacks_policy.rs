//! Attacks on the policy sandbox: a policy that loops on `resolve-image` (against a slow
//! registry, or on the review's own image), calls it past the cap, or shares a review's
//! lookup time with other policies. Each must end within the policy deadline plus the
//! review's lookup budget, and the server must keep answering other reviews meanwhile.
#![allow(clippy::unwrap_used)]

mod policy_support;
mod server_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use kube::core::admission::AdmissionResponse;
use landed::admission::{decode, Pipeline, Route};
use landed::config::Config;
use landed::image::Reference;
use landed::policy::{
    FailurePolicy, Loaded, PolicyEngine, PolicyLimits, PolicySet, PolicyStore, ResolveAccess,
    WasmPolicy,
};
use landed::resolve::{LookupContext, Resolve};
use landed::server::ServerLimits;
use landed::verdict::Verdict;
use policy_support::hostile::resolve_image_loop;
use policy_support::{resolving_policy, ASKED};
use serde_json::{json, Value};

/// The namespace whose reviews make the looping policy loop.
const ATTACKER: &str = "attacker";
const MARKER: &str = r#""namespace":"attacker""#;
const APP: &str = "registry.example/team/app:1";

/// A registry that answers `slow` only after `delay` and every other image at once (landed).
struct SlowRegistry {
    slow: String,
    delay: Duration,
    slow_lookups: AtomicUsize,
}

impl SlowRegistry {
    fn new(slow: &str, delay: Duration) -> Arc<Self> {
        let slow = Reference::parse(slow).unwrap().to_string();
        Arc::new(Self {
            slow,
            delay,
            slow_lookups: AtomicUsize::new(0),
        })
    }
}

impl Resolve for SlowRegistry {
    fn resolve<'a>(&'a self, r: &'a Reference, _: &'a LookupContext) -> BoxFuture<'a, Verdict> {
        let slow = r.to_string() == self.slow;
        if slow {
            self.slow_lookups.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async move {
            if slow {
                tokio::time::sleep(self.delay).await;
            }
            Verdict::landed(
                format!("sha256:{}", "1".repeat(64))
                    .parse()
                    .expect("digest"),
            )
        })
    }
}

/// An AdmissionReview creating a Pod with one container running `image`.
fn pod_review(uid: &str, namespace: &str, image: &str) -> Value {
    let gvk = json!({"group": "", "version": "v1", "kind": "Pod"});
    let gvr = json!({"group": "", "version": "v1", "resource": "pods"});
    json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": "web", "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "mallory"}, "dryRun": true,
            "object": {"kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

fn policy(
    engine: &PolicyEngine,
    name: &str,
    wasm: &[u8],
    resolver: Arc<dyn Resolve>,
) -> WasmPolicy {
    WasmPolicy::load(engine, name, wasm, &Value::Null)
        .unwrap()
        .with_resolver(ResolveAccess {
            resolver,
            budget: Duration::from_secs(3),
        })
}

/// A multi-threaded runtime that, dropped, does not wait for its threads: a guest that still
/// spins (a regression) fails the test instead of hanging it.
struct Detached(Option<tokio::runtime::Runtime>);

impl Detached {
    fn new(workers: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        Self(Some(runtime))
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().unwrap()
    }

    /// Runs `review` here, failing after 15 s.
    fn review(&self, pipeline: &Pipeline, review: &Value) -> AdmissionResponse {
        let request = decode(&serde_json::to_vec(review).unwrap()).unwrap();
        let review = pipeline.review(&request, Route::Validate);
        let answer = async { tokio::time::timeout(Duration::from_secs(15), review).await };
        self.runtime().block_on(answer).expect("the review ended")
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The real HTTPS server with the looping policy (failurePolicy Fail), on a runtime with one
/// worker thread: what the chart's one CPU gives, so a guest holding its worker stalls
/// everything else.
fn server_on_one_worker(resolver: Arc<dyn Resolve>) -> (Detached, server_support::Running) {
    let engine = PolicyEngine::new(PolicyLimits::default()).unwrap();
    let looping = policy(
        &engine,
        "looping",
        &resolve_image_loop(MARKER, ASKED),
        resolver.clone(),
    );
    let store = PolicyStore::new(PolicySet {
        policies: vec![Loaded::new(looping, FailurePolicy::Fail)],
    });
    let runtime = Detached::new(1);
    let start =
        server_support::start_with(ServerLimits::default(), false, resolver, Arc::new(store));
    let running = runtime.runtime().block_on(start);
    (runtime, running)
}

/// Posts `review` on a connection of its own; the response's `response` object and how long
/// it took.
async fn post(server: &server_support::Running, review: Value) -> (Value, Duration) {
    let client = server_support::client(server_support::tls_config(&server.ca, None));
    let started = Instant::now();
    let response = client
        .post(server.validate_url())
        .json(&review)
        .send()
        .await;
    let response =
        response.unwrap_or_else(|e| panic!("no answer after {:?}: {e}", started.elapsed()));
    let body: Value = response.json().await.unwrap();
    (body["response"].clone(), started.elapsed())
}

/// What one attack gave: the attacker's answer and time, the bystander's, and whether the
/// bystander was answered before the attacker.
struct Attack {
    attacker: (Value, Duration),
    bystander: (Value, Duration),
    bystander_first: bool,
}

/// A looping review against the server and, 300 ms later, a bystander's on another connection.
fn attack(resolver: Arc<dyn Resolve>, image: &str) -> Attack {
    let (_server_runtime, server) = server_on_one_worker(resolver);
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let attack = client_runtime.block_on(async {
        let attacker = async {
            let answer = post(&server, pod_review("attack", ATTACKER, image)).await;
            (answer, Instant::now())
        };
        let bystander = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let answer = post(&server, pod_review("bystander", "shop", APP)).await;
            (answer, Instant::now())
        };
        let ((attacker, attacker_done), (bystander, bystander_done)) =
            tokio::join!(attacker, bystander);
        Attack {
            attacker,
            bystander,
            bystander_first: bystander_done < attacker_done,
        }
    });
    attack
}

fn message(response: &Value) -> &str {
    response["status"]["message"].as_str().unwrap_or_default()
}

#[test]
fn resolve_image_loop_on_a_slow_registry_ends_by_the_lookup_deadline_while_others_are_served() {
    // The server's review deadline is 3 s; the registry would take 30 s for the asked image.
    let registry = SlowRegistry::new(ASKED, Duration::from_secs(30));
    let attack = attack(registry.clone(), APP);
    let (answer, took) = &attack.attacker;
    // Policy deadline (500 ms) + lookup budget (3 s), with room for a slow machine.
    assert!(
        *took < Duration::from_millis(5000),
        "the looping review took {took:?}"
    );
    assert_eq!(answer["allowed"], false, "{answer}");
    assert!(
        message(answer).contains("called resolve-image more than 16 times")
            && message(answer).contains("failurePolicy: Fail"),
        "{answer}"
    );
    // Only the first call waited on the registry: the others found the deadline passed.
    assert_eq!(registry.slow_lookups.load(Ordering::SeqCst), 1);
    let (bystander, bystander_took) = &attack.bystander;
    assert_eq!(bystander["allowed"], true, "{bystander}");
    assert!(
        attack.bystander_first && *bystander_took < Duration::from_secs(1),
        "the bystander waited {bystander_took:?} behind the looping review"
    );
}

#[test]
fn resolve_image_loop_on_the_reviews_own_image_is_stopped_at_the_call_cap() {
    // Every call is answered from the review itself, instantly: only the cap can stop it.
    let registry = SlowRegistry::new("registry.example/never/asked:1", Duration::ZERO);
    let attack = attack(registry, ASKED);
    let (answer, took) = &attack.attacker;
    assert!(
        *took < Duration::from_millis(3500),
        "the looping review took {took:?}"
    );
    assert_eq!(answer["allowed"], false, "{answer}");
    assert!(
        message(answer).contains("policy looping failed: called resolve-image more than 16 times"),
        "{answer}"
    );
    let (bystander, bystander_took) = &attack.bystander;
    assert_eq!(bystander["allowed"], true, "{bystander}");
    assert!(
        *bystander_took < Duration::from_secs(1),
        "{bystander_took:?}"
    );
}

/// A pipeline (no server) over `policies`, resolving with `resolver`, deadline `deadline`.
fn pipeline(resolver: Arc<dyn Resolve>, policies: Vec<Loaded>, deadline: Duration) -> Pipeline {
    let mut config = Config::default();
    config.resolve.deadline = deadline;
    let store = Arc::new(PolicyStore::new(PolicySet { policies }));
    Pipeline::new(config.review_settings(None), resolver, store)
}

#[test]
fn resolve_image_over_the_cap_with_failure_policy_ignore_is_allowed_with_a_warning() {
    let registry = SlowRegistry::new("registry.example/never/asked:1", Duration::ZERO);
    let engine = PolicyEngine::new(PolicyLimits::default()).unwrap();
    let looping = resolve_image_loop(MARKER, ASKED);
    let looping = policy(&engine, "looping", &looping, registry.clone());
    let pipeline = pipeline(
        registry,
        vec![Loaded::new(looping, FailurePolicy::Ignore)],
        Duration::from_secs(3),
    );
    let response = Detached::new(2).review(&pipeline, &pod_review("u", ATTACKER, ASKED));
    assert!(response.allowed);
    let warnings = response.warnings.unwrap_or_default().join("\n");
    assert!(
        warnings.contains("called resolve-image more than 16 times")
            && warnings.contains("ignored (failurePolicy: Ignore)"),
        "{warnings}"
    );
}

#[test]
fn the_policies_of_one_review_share_its_lookup_deadline() {
    // Two policies each ask about a slow image: together they get what is left of the
    // review's one-second deadline, not a second each.
    let registry = SlowRegistry::new(ASKED, Duration::from_secs(30));
    let engine = PolicyEngine::new(PolicyLimits::default()).unwrap();
    let policies = ["first", "second"]
        .map(|name| policy(&engine, name, &resolving_policy(), registry.clone()))
        .map(|p| Loaded::new(p, FailurePolicy::Fail))
        .into();
    let pipeline = pipeline(registry.clone(), policies, Duration::from_secs(1));
    let runtime = Detached::new(2);
    let started = Instant::now();
    let response = runtime.review(&pipeline, &pod_review("u", "shop", APP));
    let took = started.elapsed();
    assert!(response.allowed, "{:?}", response.result);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1600),
        "{took:?}"
    );
    assert_eq!(registry.slow_lookups.load(Ordering::SeqCst), 1);
}
