//! `landed check` against one injected fault: the exit code, the verdict class and the time a
//! user sees, asserted and printed.

use std::time::Duration;

use crate::config::{LandedConfig, RegistryEntry};
use crate::faults::{FaultKind, FaultSet};
use crate::landed::{CheckResult, CheckRun, Landed};
use crate::scenario::EXIT_UNDETERMINED;

/// The review deadline (`resolve.deadline`) the fault tests configure; one registry request
/// may take all of it (`resolve.requestTimeout`), its connection half (`connectTimeout`).
pub const FAULT_DEADLINE: Duration = Duration::from_secs(1);

/// What a `landed check` run may take beyond the deadline: process start-up, config and
/// trust-store loading, and printing, on a loaded 2-core machine.
pub const CHECK_SLACK: Duration = Duration::from_millis(1500);

/// The landed.yaml of the fault tests: `entries` and the short budgets.
pub fn fault_config(entries: Vec<RegistryEntry>) -> LandedConfig {
    LandedConfig {
        registries: entries,
        deadline: Some(FAULT_DEADLINE),
        request_timeout: Some(FAULT_DEADLINE),
        connect_timeout: Some(FAULT_DEADLINE / 2),
        ..LandedConfig::default()
    }
}

/// A finished check of an image behind one fault.
pub struct CheckedFault {
    /// The fault.
    pub kind: FaultKind,
    /// The run.
    pub run: CheckRun,
    /// Its only result.
    pub result: CheckResult,
    /// The faulty parts, still running.
    pub faults: FaultSet,
}

impl CheckedFault {
    /// Asserts the result's detail names the failure: it contains one of `words`
    /// (case-insensitive), so the verdict came from this fault and not from something else.
    ///
    /// # Panics
    /// When none is there (a test assertion).
    pub fn assert_detail_mentions(&self, words: &[&str]) {
        let detail = self
            .result
            .detail
            .clone()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            words.iter().any(|w| detail.contains(&w.to_lowercase())),
            "{:?}: detail {detail:?} names none of {words:?}\n{}",
            self.kind,
            self.run.output.describe()
        );
    }
}

/// Runs `landed check --output json` on an image behind a fresh fault of `kind` and asserts
/// what a user must see: exit 3, the fault's verdict class (never `absent`), inside
/// [`FAULT_DEADLINE`] + [`CHECK_SLACK`]. Prints the figures.
///
/// # Panics
/// When the fault cannot be set up or the user sees something else (a test assertion).
pub fn check_fault(kind: FaultKind) -> CheckedFault {
    let mut landed = Landed::new().expect("landed user");
    let faults = FaultSet::start(&[kind], &mut landed).expect("fault set up");
    landed
        .set_config(&fault_config(faults.registry_entries()))
        .expect("config");
    let image = faults.faults[0].image("v1");
    let run = landed.check(&[&image]).expect("landed check runs");
    let result = run.assert_single_verdict(kind.expected_verdict());
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    let elapsed = run.output.elapsed;
    eprintln!(
        "fault {kind:?}: landed check -> {} (exit 3) in {:.3}s, deadline {:.1}s; detail: {}",
        result.verdict,
        elapsed.as_secs_f64(),
        FAULT_DEADLINE.as_secs_f64(),
        result.detail.as_deref().unwrap_or_default()
    );
    assert!(
        elapsed < FAULT_DEADLINE + CHECK_SLACK,
        "{kind:?} took {elapsed:?} with a {FAULT_DEADLINE:?} deadline\n{}",
        run.output.describe()
    );
    CheckedFault {
        kind,
        run,
        result,
        faults,
    }
}
