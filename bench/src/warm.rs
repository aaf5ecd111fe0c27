//! Warm path, side by side: `landed serve` (cache warm, two built-in policies) and the floor
//! server, driven by wrk with the same Pod review (three images), the same concurrency and the
//! same duration, alternating in one run.

use std::time::Duration;

use anyhow::{bail, Result};
use landed_e2e::review::PodReview;

use crate::rss::{self, Memory};
use crate::setup::World;
use crate::wrk::{self, Load, Measured};

/// Two built-ins that both run on `/validate`: the defaults are `require-landed` and
/// `pin-digest`, but `pin-digest` runs on `/mutate` only, and the comparison is of a review
/// through two policies.
pub const WARM_POLICIES: [&str; 2] = ["require-landed", "no-latest-tag"];

/// The `policies:` section of the warm phase, each entry with `input: <input>` when given.
pub fn warm_policies(input: Option<&str>) -> String {
    WARM_POLICIES
        .iter()
        .map(|name| match input {
            Some(input) => format!("  - {{name: {name}, input: {input}}}\n"),
            None => format!("  - name: {name}\n"),
        })
        .fold("policies:\n".to_owned(), |yaml, entry| yaml + &entry)
}

/// How the warm comparison runs.
#[derive(Clone, Copy, Debug)]
pub struct WarmOptions {
    /// wrk threads, connections and the duration of each measured round.
    pub load: Load,
    /// Untimed load on each server first (connections, caches, allocator, CPU clocks).
    pub warmup: Duration,
    /// Measured rounds per server, alternating floor and landed.
    pub rounds: u32,
    /// `input:` of both policies (`None`: the built-ins' own, `images`).
    pub policy_input: Option<&'static str>,
}

/// One server's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerFigures {
    /// Throughput and latency over all rounds.
    pub measured: Measured,
    /// Memory after start, before any review.
    pub idle: Memory,
    /// Memory after the load.
    pub loaded: Memory,
}

/// Both servers' figures.
#[derive(Clone, Debug)]
pub struct WarmResult {
    /// `landed serve`.
    pub landed: ServerFigures,
    /// The floor server.
    pub floor: ServerFigures,
    /// The images of the reviewed Pod.
    pub images: Vec<String>,
}

impl WarmResult {
    /// landed's throughput as a fraction of the floor's.
    pub fn ratio(&self) -> f64 {
        self.landed.measured.throughput / self.floor.measured.throughput.max(1e-9)
    }
}

/// Runs the comparison.
pub fn run(world: &World, options: WarmOptions) -> Result<WarmResult> {
    let images: Vec<String> = ["api", "worker", "sidecar"]
        .iter()
        .map(|repo| {
            Ok(world
                .registry
                .push_image(&format!("bench/{repo}"), "v1")?
                .by_tag())
        })
        .collect::<Result<_>>()?;
    let landed = world.start_landed(&warm_policies(options.policy_input))?;
    let floor = world.start_floor()?;
    // Let both settle after start (lazy statics, runtime threads) before reading idle memory.
    std::thread::sleep(Duration::from_secs(1));
    let mut landed_figures = ServerFigures {
        idle: rss::memory(landed.pid())?,
        ..ServerFigures::default()
    };
    let mut floor_figures = ServerFigures {
        idle: rss::memory(floor.pid())?,
        ..ServerFigures::default()
    };

    let review = ["api", "worker", "sidecar"]
        .iter()
        .zip(&images)
        .fold(PodReview::new("shop")?, |pod, (name, image)| {
            pod.container(name, image)
        })
        .to_json();
    let body = world.dir().join("review.json");
    std::fs::write(&body, serde_json::to_vec(&review)?)?;
    let client = world.client()?;
    for (name, url) in [("landed", landed.url()), ("floor", floor.url())] {
        let answer = client.review_once(&url, &review)?;
        if !answer.allowed {
            bail!("{name} did not allow the review of three landed images");
        }
        // A warning means an image did not verify: the run would measure the wrong path.
        if answer.warned {
            bail!("{name} answered the review of three landed images with warnings");
        }
    }

    let script = wrk::write_script(world.dir(), &body, "/validate")?;
    let warmup = Load {
        duration: options.warmup,
        ..options.load
    };
    for url in [floor.url(), landed.url()] {
        wrk::run(&url, &script, warmup)?;
    }
    let (mut floor_rounds, mut landed_rounds) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds.max(1) {
        floor_rounds.push(wrk::run(&floor.url(), &script, options.load)?);
        landed_rounds.push(wrk::run(&landed.url(), &script, options.load)?);
    }
    floor_figures.measured = combine(&floor_rounds);
    landed_figures.measured = combine(&landed_rounds);
    floor_figures.loaded = rss::memory(floor.pid())?;
    landed_figures.loaded = rss::memory(landed.pid())?;
    Ok(WarmResult {
        landed: landed_figures,
        floor: floor_figures,
        images,
    })
}

/// Rounds of equal length: throughput and p50 averaged, p99 the worst round's.
fn combine(rounds: &[Measured]) -> Measured {
    let n = rounds.len().max(1) as f64;
    Measured {
        requests: rounds.iter().map(|m| m.requests).sum(),
        throughput: rounds.iter().map(|m| m.throughput).sum::<f64>() / n,
        p50_us: rounds.iter().map(|m| m.p50_us).sum::<f64>() / n,
        p99_us: rounds.iter().map(|m| m.p99_us).fold(0.0, f64::max),
        errors: rounds.iter().map(|m| m.errors).sum(),
    }
}
