//! No unbounded memory growth: one `landed serve` answers a few hundred reviews behind every
//! fault, from many concurrent clients, and its resident memory after the full run stays
//! within a fixed bound of what it was after a warm-up round of the same mix.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use landed_e2e::fault_server::{rss_kib, FaultServer, CLOSED, OPEN};
use landed_e2e::faults::FaultKind;
use landed_e2e::faults_check::FAULT_DEADLINE;

/// Reviews per fault kind in the warm-up round.
const WARM_UP_PER_KIND: usize = 40;
/// Reviews per fault kind in the measured run.
const PER_KIND: usize = 250;
/// Concurrent API-server connections: enough to keep every fault busy at once, few enough
/// that 2 cores are not starved past the policies' 100 ms per-call deadline.
const CLIENTS: usize = 16;
/// Allowed RSS growth from the end of the warm-up to the end of the run. Allocator arenas,
/// thread stacks and connection pools reach their working size in the warm-up, so what follows
/// is noise (about 1 MiB measured); keeping 6 KiB per review (one request's headers and body,
/// a hung lookup task with its connection) would add 17.6 MiB over the 3,000 measured reviews.
const GROWTH_LIMIT_KIB: u64 = 16 * 1024;
/// Under 16 concurrent clients on 2 cores a review may queue behind others; past this it hung.
const LOADED_LIMIT: Duration = Duration::from_secs(3);

/// The faults one process can hold (one Google key per process: the garbage one; the
/// endpoint-down one costs gcp_auth's 0.75 s of retries per review and is covered elsewhere).
fn memory_faults() -> Vec<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::OAuthDown)
        .collect()
}

/// Per fault kind: the slowest review of a round.
type Slowest = BTreeMap<String, Duration>;

/// Runs `per_kind` reviews per fault through `CLIENTS` concurrent clients, alternating the
/// open and the fail-closed namespace, each with its own tag; checks every answer.
fn round(setup: &FaultServer, name: &str, per_kind: usize) -> Slowest {
    let mut work = Vec::new();
    for j in 0..per_kind {
        for fault in &setup.faults.faults {
            let namespace = if j % 2 == 0 { OPEN } else { CLOSED };
            let image = fault.image(&format!("{name}-{j}"));
            work.push((fault.kind, fault.kind.expected_verdict(), namespace, image));
        }
    }
    let next = AtomicUsize::new(0);
    let slowest = Mutex::new(Slowest::new());
    let problems = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((kind, class, namespace, image)) = work.get(i) else {
                    break;
                };
                let problem = match setup.review(namespace, image) {
                    Ok(reviewed) => {
                        let mut max = slowest.lock().expect("lock");
                        let entry = max.entry(format!("{kind:?}")).or_default();
                        *entry = (*entry).max(reviewed.took);
                        let (allowed, text) = if *namespace == OPEN {
                            (true, reviewed.warnings())
                        } else {
                            (false, reviewed.message())
                        };
                        let right = reviewed.allowed() == Some(allowed)
                            && text.contains(&format!("is {class}"))
                            && reviewed.took < LOADED_LIMIT;
                        (!right).then(|| format!("{kind:?} in {namespace}: {reviewed:?}"))
                    }
                    Err(err) => Some(format!("{kind:?} in {namespace}: {err:#}")),
                };
                if let Some(problem) = problem {
                    problems.lock().expect("lock").push(problem);
                }
            });
        }
    });
    let problems = problems.into_inner().expect("lock");
    assert!(
        problems.is_empty(),
        "{} of {} reviews went wrong in round {name}; first: {:?}",
        problems.len(),
        work.len(),
        &problems[..problems.len().min(3)]
    );
    slowest.into_inner().expect("lock")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
fn hundreds_of_faulty_reviews_per_fault_do_not_grow_memory() {
    let mut setup = FaultServer::start(&memory_faults()).expect("landed serve with faults");
    let pid = setup.server.pid();
    let kinds = setup.faults.faults.len();
    let started = Instant::now();

    round(&setup, "warm", WARM_UP_PER_KIND);
    let warm = rss_kib(pid).expect("RSS");
    let slowest = round(&setup, "run", PER_KIND);
    let end = rss_kib(pid).expect("RSS");
    let growth = end.saturating_sub(warm);

    eprintln!(
        "landed serve RSS: {:.1} MiB after warm-up ({} reviews), {:.1} MiB after {} more \
         ({PER_KIND} per fault x {kinds} faults, {CLIENTS} clients, {:.1}s): growth {:.1} MiB \
         (limit {:.0} MiB)",
        mib(warm),
        WARM_UP_PER_KIND * kinds,
        mib(end),
        PER_KIND * kinds,
        started.elapsed().as_secs_f64(),
        mib(growth),
        mib(GROWTH_LIMIT_KIB)
    );
    for (kind, took) in &slowest {
        eprintln!(
            "  slowest {kind} review under load: {:.3}s (deadline {:.1}s)",
            took.as_secs_f64(),
            FAULT_DEADLINE.as_secs_f64()
        );
    }
    assert!(
        growth < GROWTH_LIMIT_KIB,
        "RSS grew {growth} KiB ({warm} -> {end} KiB) over {} faulty reviews",
        PER_KIND * kinds
    );

    // Still healthy after it all, and nothing left running to delay a shutdown.
    let (status, _) = setup.server.get("/healthz").expect("healthz");
    assert_eq!(status, 200);
    let good = setup.review(OPEN, &setup.good.by_tag()).expect("review");
    assert_eq!(good.allowed(), Some(true), "{good:?}");
    let asked = Instant::now();
    setup.server.terminate().expect("SIGTERM");
    let (code, gone) = setup
        .server
        .wait_exit(Duration::from_secs(10))
        .expect("landed serve exits on SIGTERM");
    eprintln!(
        "SIGTERM after the run: exited {code:?} in {:.3}s",
        gone.duration_since(asked).as_secs_f64()
    );
    assert_eq!(code, Some(0), "{}", setup.server.log());
}
