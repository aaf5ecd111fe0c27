//! Every injected fault through `landed serve` over HTTPS, as the API server sees it: a Pod
//! behind the fault is allowed with a "could not verify" warning under the default
//! `onUndetermined: allow`, denied where a namespace sets `onUndetermined: deny`, never called
//! absent, and answered inside the review deadline. Afterwards the same process is healthy,
//! still admits a good image, and exits promptly on SIGTERM.

use std::time::{Duration, Instant};

use landed_e2e::fault_server::{FaultServer, CLOSED, OPEN};
use landed_e2e::faults::FaultKind;
use landed_e2e::faults_check::FAULT_DEADLINE;

/// Beyond the deadline, a review may take the pipeline's 50 ms guard, the policies and the
/// HTTPS round trip.
const REVIEW_SLACK: Duration = Duration::from_millis(500);

/// The faults one process can hold at once (one Google key per process: the garbage one; the
/// endpoint-down one is covered through `landed check`).
fn serve_faults() -> Vec<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::OAuthDown)
        .collect()
}

#[test]
fn every_fault_is_a_warning_by_default_a_denial_fail_closed_and_never_a_hang() {
    let mut setup = FaultServer::start(&serve_faults()).expect("landed serve with faults");

    for (i, fault) in setup.faults.faults.iter().enumerate() {
        let class = fault.kind.expected_verdict();
        let said = format!("is {class}");
        let open = setup
            .review(OPEN, &fault.image(&format!("open-{i}")))
            .expect("review");
        assert_eq!(open.allowed(), Some(true), "{:?}: {open:?}", fault.kind);
        assert!(
            open.warnings().contains("could not verify") && open.warnings().contains(&said),
            "{:?}: the warning must name the verdict {class}: {open:?}",
            fault.kind
        );

        let closed = setup
            .review(CLOSED, &fault.image(&format!("closed-{i}")))
            .expect("review");
        assert_eq!(
            closed.allowed(),
            Some(false),
            "{:?}: {closed:?}",
            fault.kind
        );
        assert!(
            closed.message().contains(&said),
            "{:?}: the denial must name the verdict {class}: {closed:?}",
            fault.kind
        );
        for text in [open.warnings(), closed.message()] {
            assert!(
                !text.contains("is absent"),
                "{:?} reported as absent: {text}",
                fault.kind
            );
        }
        eprintln!(
            "fault {:?}: landed serve -> {class}; allowed with warning in {:.3}s, denied \
             fail-closed in {:.3}s; deadline {:.1}s",
            fault.kind,
            open.took.as_secs_f64(),
            closed.took.as_secs_f64(),
            FAULT_DEADLINE.as_secs_f64()
        );
        for took in [open.took, closed.took] {
            assert!(
                took < FAULT_DEADLINE + REVIEW_SLACK,
                "{:?}: a review took {took:?} with a {FAULT_DEADLINE:?} deadline",
                fault.kind
            );
        }
    }

    // Nothing hung: the process answers health checks and admits a good image at once.
    let (status, _) = setup.server.get("/healthz").expect("healthz");
    assert_eq!(status, 200);
    let good = setup.review(OPEN, &setup.good.by_tag()).expect("review");
    assert_eq!(good.allowed(), Some(true), "{good:?}");
    assert_eq!(good.warnings(), "", "{good:?}");
    eprintln!(
        "after the faults: /healthz 200, good image admitted in {:.3}s",
        good.took.as_secs_f64()
    );

    let asked = Instant::now();
    setup.server.terminate().expect("SIGTERM");
    let (code, gone) = setup
        .server
        .wait_exit(Duration::from_secs(10))
        .expect("landed serve exits on SIGTERM");
    let exit_took = gone.duration_since(asked);
    eprintln!(
        "SIGTERM after the faults: exited {code:?} in {:.3}s",
        exit_took.as_secs_f64()
    );
    assert_eq!(code, Some(0), "{}", setup.server.log());
    assert!(
        exit_took < Duration::from_secs(3),
        "no lookup left running: exit took {exit_took:?}\n{}",
        setup.server.log()
    );
}
