//! Load and lifecycle of the `landed serve` binary: 1,000 concurrent TLS clients (loopback
//! only) send real Pod reviews while the serving certificate is rotated the way a mounted
//! Secret is updated and a policy file is replaced; then SIGTERM arrives with slow reviews in
//! flight. Every review must get the right answer, and the in-flight ones must be drained.
//!
//! `LANDED_LOAD_SECS` sets the load phase (default 10 s, what CI runs),
//! `LANDED_LOAD_CLIENTS` the number of clients (default 1,000) and `LANDED_LOAD_PACE_MS` the
//! least time between two reviews of one client. The figures are printed; see them with
//! `-- --nocapture`.

use std::path::Path;
use std::time::{Duration, Instant};

use landed_e2e::config::PolicyEntry;
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::fakes::registries::SlowRegistry;
use landed_e2e::load::{self, Case, ConnectionKind, LoadRun, Outcome, Summary};
use landed_e2e::pki::{Ca, CertifiedKey};
use landed_e2e::review::PodReview;
use landed_e2e::runtime::block_on;
use landed_e2e::secret_volume::SecretVolume;
use landed_e2e::server::{LandedServer, SERVING_NAMES};
use landed_e2e::shutdown::sigterm_with_in_flight;
use landed_e2e::{Landed, LandedConfig, Registry, RegistryEntry, RegistryOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// What the reloaded policy (`no-latest-tag` in warn mode) adds to a review with a `latest` image.
const RELOAD_WARNING: &str = "uses the tag \"latest\"";
/// Each client sends at most one review per this many milliseconds (`LANDED_LOAD_PACE_MS`):
/// 1,000 clients offer 100 reviews/s, well within what a debug build serves on CI's 2 cores
/// shared with the clients. At saturation requests queue for seconds and the server's own
/// handshake and lookup deadlines start failing reviews, which is overload, not this test.
const DEFAULT_PACE_MS: u64 = 10_000;
/// `server.certReloadInterval` for the run.
const CERT_RELOAD: Duration = Duration::from_millis(500);
/// `server.shutdownGrace` for the run.
const GRACE: Duration = Duration::from_secs(10);
/// How long the slow registry takes per answer. A missing manifest costs a HEAD and a GET
/// (for the error body), so each drained review takes about a second.
const SLOW: Duration = Duration::from_millis(500);
/// Reviews in flight when SIGTERM arrives: below `resolve.maxConcurrentPerRegistry` (32) so
/// none queues for a slot and all finish within the 3 s lookup deadline.
const DRAIN_BATCH: usize = 30;

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fingerprint(cert: &CertifiedKey) -> String {
    let der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).expect("certificate PEM");
    landed_e2e::sha256_digest(&der)
}

fn built_policy(crate_name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/target/components")
        .join(format!("{crate_name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build them with policies/build.sh)",
            path.display()
        )
    })
}

/// Replaces `path` in one rename, as a config-management tool or a ConfigMap update would.
fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("writing the new policy");
    std::fs::rename(&tmp, path).expect("replacing the policy");
}

fn tls_files(cert: &CertifiedKey) -> [(&'static str, &[u8]); 2] {
    [
        ("tls.crt", cert.cert_pem.as_bytes()),
        ("tls.key", cert.key_pem.as_bytes()),
    ]
}

/// 1% fresh connection per review, the rest half HTTP/2, half HTTP/1.1 reconnecting every
/// 10 reviews: new handshakes keep happening throughout the run.
fn connection_kinds(clients: usize) -> Vec<ConnectionKind> {
    (0..clients)
        .map(|i| match i {
            _ if i % 100 == 0 => ConnectionKind::Fresh,
            _ if i % 2 == 1 => ConnectionKind::Http2,
            _ => ConnectionKind::Http1 {
                reconnect_every: 10,
            },
        })
        .collect()
}

#[test]
fn a_thousand_clients_through_rotation_reload_and_sigterm() {
    let secs = env_number("LANDED_LOAD_SECS", 10);
    let clients = env_number("LANDED_LOAD_CLIENTS", 1000) as usize;
    let pace = Duration::from_millis(env_number("LANDED_LOAD_PACE_MS", DEFAULT_PACE_MS));
    // Client and server sockets, the registry's, the child's files (it inherits the limit).
    load::raise_open_file_limit(2 * clients as u64 + 1024).expect("open file limit");

    let registry = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    })
    .expect("registry");
    let [app, proxy, tools] = [
        ("shop/app", "v1"),
        ("shop/proxy", "v1"),
        ("shop/tools", "latest"),
    ]
    .map(|(repo, tag)| registry.push_image(repo, tag).expect("push").by_tag());
    let missing = format!("{}/shop/app:never-pushed", registry.host());
    let slow = SlowRegistry::start(SLOW).expect("slow registry");

    let mut landed = Landed::new().expect("landed");
    let kube = FakeKubeApi::start().expect("kube");
    let kubeconfig = kube
        .write_kubeconfig(landed.home(), "shop")
        .expect("kubeconfig");
    landed.set_env("KUBECONFIG", kubeconfig.display().to_string());

    let ca = Ca::new("landed-e2e webhook CA").expect("ca");
    let first = ca.server_cert(&SERVING_NAMES).expect("cert");
    let mut volume =
        SecretVolume::create(&landed.home().join("tls"), &tls_files(&first)).expect("volume");
    let policies = landed.home().join("policies");
    std::fs::create_dir(&policies).expect("policy dir");
    let tag_rules = policies.join("tag-rules.wasm");
    // Starts as a policy that does nothing on /validate; becomes no-latest-tag later.
    std::fs::write(&tag_rules, built_policy("pin_digest")).expect("policy");
    let config = LandedConfig {
        registries: vec![
            RegistryEntry::for_registry(&registry)
                .ca_file(registry.write_ca(landed.home()).expect("ca file")),
            RegistryEntry::for_endpoint(&slow.host(), &slow.endpoint()),
        ],
        tls_cert_file: Some(volume.path("tls.crt")),
        tls_key_file: Some(volume.path("tls.key")),
        cert_reload_interval: Some(CERT_RELOAD),
        shutdown_grace: Some(GRACE),
        // Room for every client, the churn of reconnecting ones and the drain batch.
        max_connections: Some(2 * clients + 2 * DRAIN_BATCH),
        policies: vec![
            PolicyEntry::builtin("require-landed"),
            PolicyEntry::builtin("pin-digest"),
            PolicyEntry::file("tag-rules", tag_rules.clone()).mode("warn"),
        ],
        // The test is about the server's lifecycle on a warm cache: the missing tag's answer
        // outlives the run, so no lookup races a registry starved by the load generator.
        absent_ttl: Some(Duration::from_secs(600)),
        ..LandedConfig::default()
    };
    let mut server = LandedServer::launch(&mut landed, &config, &ca).expect("landed serve");

    let pod = || PodReview::new("shop").expect("fixture");
    let cases = [
        Case {
            review: pod()
                .container("app", &app)
                .container("proxy", &proxy)
                .container("tools", &tools),
            allowed: true,
        },
        Case {
            review: pod()
                .container("app", &app)
                .container("proxy", &proxy)
                .container("next", &missing),
            allowed: false,
        },
        Case {
            review: pod().container("app", &app).container("proxy", &proxy),
            allowed: true,
        },
    ];
    let url = format!("{}/validate", server.url());
    warm(&url, ca.cert_pem(), &cases);
    let duration = Duration::from_secs(secs);
    let kinds = connection_kinds(clients);
    let running = load::start(&url, ca.cert_pem(), &kinds, &cases, pace).expect("load");
    let started = Instant::now();

    std::thread::sleep(duration * 3 / 10);
    let second = ca.server_cert(&SERVING_NAMES).expect("cert");
    // Taken before the swap: a busy machine can pause this thread right after it.
    let rotated = Instant::now();
    volume.update(&tls_files(&second)).expect("rotating");
    std::thread::sleep(duration * 2 / 10);
    let reloaded = Instant::now();
    replace_file(&tag_rules, &built_policy("no_latest_tag"));
    let visible = wait_for_reload(&url, ca.cert_pem(), &cases[0], &server);
    // The planned time, and at least 2 s of load on the new policy.
    let end = (started + duration).max(visible + Duration::from_secs(2));
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let run = running.finish().expect("load run");

    let all: Vec<&Outcome> = run.outcomes.iter().collect();
    let summary = Summary::of(all.iter().copied());
    // Clients start spread over one pace, so a run at least one pace long hears from nearly
    // each (the last ones start right at the end, later still on a busy machine).
    if pace <= duration {
        assert!(
            summary.requests >= clients * 9 / 10,
            "too few reviews: {summary:?}"
        );
    }
    assert_eq!(
        summary.failures,
        0,
        "failed reviews:\n{}",
        load::failures(&run.outcomes, 10)
    );
    for case in &run.outcomes {
        if let Ok(answer) = &case.answer {
            if !answer.allowed {
                assert!(answer.message.contains("absent"), "{answer:?}");
            }
        }
    }
    let rotation = check_rotation(&run, &fingerprint(&first), &fingerprint(&second), rotated);
    let reload_after = check_reload(&run, reloaded);

    let drain = drain_on_sigterm(&mut server, &slow, ca.cert_pem());
    let log = server.log();
    assert!(
        log.contains("\"message\":\"open file limit\""),
        "landed serve logs its open file limit:\n{log}"
    );
    assert_eq!(
        log.matches("serving certificate reloaded").count(),
        1,
        "one rotation, one reload:\n{log}"
    );
    drop(run.clients);

    let elapsed = run.finished - run.started;
    eprintln!(
        "load: {clients} clients for {elapsed:.1?}: {} reviews ({:.0}/s), {} failed, \
         p50 {:.1?}, p99 {:.1?}, max {:.1?}\n\
         certificate rotation: {} reviews over the old certificate, {} over the new one; \
         a fresh connection answered over the new one {:.2?} after the files changed\n\
         policy reload: first review with the new policy {reload_after:.2?} after the file \
         changed; {} reviews answered by it\n\
         SIGTERM: {} in-flight reviews drained (slowest {:.2?} after SIGTERM), new connections \
         refused after {:.0?}, exit 0 after {:.2?} (grace {GRACE:?})",
        summary.requests,
        summary.requests as f64 / elapsed.as_secs_f64(),
        summary.failures,
        summary.p50,
        summary.p99,
        summary.max,
        rotation.old,
        rotation.new,
        rotation.switch_after,
        run.outcomes
            .iter()
            .filter(|o| o.answer.as_ref().is_ok_and(warned))
            .count(),
        drain.drained,
        drain.last_answer,
        drain.refused_after,
        drain.exit_after,
    );
}

/// Reviews per certificate, and how soon a fresh connection was answered over the new one.
struct Rotation {
    old: usize,
    new: usize,
    switch_after: Duration,
}

/// Every connection presented one of the two certificates, the new one only after the files
/// changed; once a fresh connection got the new one, every fresh connection opened after it
/// did too. (Under saturation a request waits long before its handshake, so "before" is
/// judged by when answers came and "after" by when requests left.)
fn check_rotation(run: &LoadRun, old: &str, new: &str, rotated: Instant) -> Rotation {
    let first = run
        .outcomes
        .iter()
        .filter(|o| o.kind == ConnectionKind::Fresh && o.certificate.as_deref() == Some(new))
        .map(|o| o.received)
        .min()
        .expect("no fresh connection got the new certificate");
    let switch_after = first.saturating_duration_since(rotated);
    let mut rotation = Rotation {
        old: 0,
        new: 0,
        switch_after,
    };
    for outcome in &run.outcomes {
        match outcome.certificate.as_deref() {
            Some(c) if c == old => {
                rotation.old += 1;
                assert!(
                    outcome.kind != ConnectionKind::Fresh || outcome.sent < first,
                    "a fresh connection {:?} after the switch still got the old certificate",
                    outcome.sent - first
                );
            }
            Some(c) if c == new => {
                rotation.new += 1;
                assert!(
                    outcome.received > rotated,
                    "new certificate before the rotation"
                );
            }
            other => panic!("unexpected certificate {other:?}"),
        }
    }
    assert!(
        rotation.old > 0 && rotation.new > 0,
        "both certificates served"
    );
    rotation
}

/// Sends the `latest` review on fresh connections until the reloaded policy answers it (every
/// answer meanwhile must be right); fails after a minute with the server's policy log.
/// One review of each case before the load starts, so the caches hold every answer.
fn warm(url: &str, ca_pem: &str, cases: &[Case]) {
    let client =
        load::client(ca_pem, ConnectionKind::Http2, Duration::from_secs(30)).expect("client");
    for (n, case) in cases.iter().enumerate() {
        let outcome = block_on(load::send(
            &client,
            url,
            &case.review.to_json(),
            &format!("warm-{n}"),
            false,
            ConnectionKind::Http2,
        ));
        let answer = outcome.answer.expect("a warm-up review");
        assert_eq!(answer.allowed, case.allowed, "warm-up: {answer:?}");
    }
}

fn wait_for_reload(url: &str, ca_pem: &str, case: &Case, server: &LandedServer) -> Instant {
    // One kept-alive connection: a probe measures the policy, not a handshake under load.
    let client =
        load::client(ca_pem, ConnectionKind::Http2, Duration::from_secs(30)).expect("client");
    let review = case.review.to_json();
    let started = Instant::now();
    for n in 0.. {
        let uid = format!("reload-probe-{n}");
        let outcome = block_on(load::send(
            &client,
            url,
            &review,
            &uid,
            false,
            ConnectionKind::Http2,
        ));
        let answer = outcome.answer.expect("a review while the policy reloads");
        assert!(answer.allowed, "{answer:?}");
        if warned(&answer) {
            return outcome.received;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let log = server.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("policy")).collect();
            panic!(
                "the policy change is not visible after 60 s:\n{}",
                lines.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unreachable!("the probe loop only ends by returning or failing")
}

fn warned(answer: &load::Answer) -> bool {
    answer.warnings.iter().any(|w| w.contains(RELOAD_WARNING))
}

/// The reloaded policy warns on case 0 (the `latest` image) only; nothing warned before the file
/// changed, and once one review was answered by the new policy, every review sent after
/// that was too. Returns how long after the change the first such answer came.
fn check_reload(run: &LoadRun, reloaded: Instant) -> Duration {
    let answers = || {
        run.outcomes
            .iter()
            .filter_map(|o| o.answer.as_ref().ok().map(|a| (o, a)))
    };
    for (outcome, answer) in answers() {
        if warned(answer) {
            assert_eq!(outcome.case, 0, "only the latest image warns: {answer:?}");
            assert!(
                outcome.received > reloaded,
                "warned before the policy changed"
            );
        }
    }
    let first = answers()
        .filter(|(_, a)| warned(a))
        .map(|(o, _)| o.received)
        .min()
        .expect("the reloaded policy answered no review of the load");
    for (outcome, answer) in answers() {
        if outcome.case == 0 && outcome.sent > first {
            assert!(
                warned(answer),
                "a review sent {:?} after the reload was visible went to the old policy",
                outcome.sent - first
            );
        }
    }
    first - reloaded
}

/// What the shutdown phase measured.
struct Drain {
    drained: usize,
    last_answer: Duration,
    refused_after: Duration,
    exit_after: Duration,
}

/// [`DRAIN_BATCH`] reviews of images on the slow registry are in the server when SIGTERM
/// comes: each must get its denial (absent), new connections must be refused before the first
/// of them is answered, and the process must exit 0 after the last, within the grace period.
fn drain_on_sigterm(server: &mut LandedServer, slow: &SlowRegistry, ca_pem: &str) -> Drain {
    let images: Vec<String> = (0..DRAIN_BATCH)
        .map(|i| format!("{}/drain/r{i}:v1", slow.host()))
        .collect();
    let reviews = images
        .iter()
        .map(|image| {
            PodReview::new("shop")
                .expect("fixture")
                .container("app", image)
                .to_json()
        })
        .collect();
    // One manifest request per review reached the registry: all are in flight.
    let before = slow.request_count();
    let in_server = || slow.request_count() >= before + DRAIN_BATCH;
    let drained = sigterm_with_in_flight(server, ca_pem, reviews, in_server, GRACE * 2)
        .expect("SIGTERM with reviews in flight");
    for (image, outcome) in images.iter().zip(&drained.outcomes) {
        let answer = outcome
            .answer
            .as_ref()
            .unwrap_or_else(|e| panic!("in-flight review for {image} failed: {e}"));
        assert!(
            !answer.allowed && answer.message.contains(image.as_str()),
            "{image}: {answer:?}"
        );
    }
    let answered = drained.outcomes.iter().map(|o| o.received);
    let (first, last) = (
        answered.clone().min().expect("answers"),
        answered.max().expect("answers"),
    );
    assert!(
        drained.refused < first,
        "new connections were refused only after the in-flight reviews were answered"
    );
    assert_eq!(
        drained.code,
        Some(0),
        "exit code after SIGTERM:\n{}",
        server.log()
    );
    assert!(drained.exited >= last, "exited before answering");
    let exit_after = drained.exited - drained.terminated;
    assert!(
        exit_after < GRACE,
        "exit took {exit_after:?}, grace is {GRACE:?}"
    );
    Drain {
        drained: drained.outcomes.len(),
        last_answer: last - drained.terminated,
        refused_after: drained.refused - drained.terminated,
        exit_after,
    }
}
