//! Warm path, side by side: `landed serve` (cache warm, two built-in policies) and the two
//! floor servers (kube's admission types; a `serde_json::Value`), driven by wrk with the same
//! corpus review, the same concurrency and the same duration, alternating in one run. Each
//! server's CPU time (from `/proc`) over its measured rounds gives its CPU per review.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::client::ReviewClient;
use crate::corpus::Review;
use crate::cpu::cpu_time;
use crate::floor::Decode;
use crate::rss::{self, Memory};
use crate::setup::World;
use crate::wrk::{self, Load, Measured};

/// Two built-ins that both run on `/validate`: the defaults are `require-landed` and
/// `pin-digest`, but `pin-digest` runs on `/mutate` only, and the comparison is of a review
/// through two policies.
pub const WARM_POLICIES: [&str; 2] = ["require-landed", "no-latest-tag"];

/// The `policies:` section of the warm phase, each entry with `input: <input>` when given,
/// then `extra` (a policy file, e.g. a Kubewarden module) when given.
pub fn warm_policies(input: Option<&str>, extra: Option<&Path>) -> String {
    let builtins = WARM_POLICIES.iter().map(|name| match input {
        Some(input) => format!("  - {{name: {name}, input: {input}}}\n"),
        None => format!("  - name: {name}\n"),
    });
    let extra = extra.map(|path| {
        let name = path
            .file_stem()
            .map_or("extra".into(), |s| s.to_string_lossy());
        format!(
            "  - {{name: {}, path: {:?}}}\n",
            name.replace('_', "-"),
            path
        )
    });
    builtins
        .chain(extra)
        .fold("policies:\n".to_owned(), |yaml, entry| yaml + &entry)
}

/// How the warm comparison runs.
#[derive(Clone, Debug)]
pub struct WarmOptions {
    /// wrk threads, connections and the duration of each measured round.
    pub load: Load,
    /// Untimed load on each server first, per review (connections, caches, allocator, clocks).
    pub warmup: Duration,
    /// Measured rounds per server and review, alternating the servers.
    pub rounds: u32,
    /// `input:` of both policies (`None`: the built-ins' own, `images`).
    pub policy_input: Option<&'static str>,
    /// A third policy file configured after the two (`--extra-policy`).
    pub extra_policy: Option<PathBuf>,
}

/// A server of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// `landed serve`.
    Landed,
    /// A floor server.
    Floor(Decode),
}

impl Server {
    /// In the order each round drives them.
    pub const ALL: [Server; 4] = [
        Server::Floor(Decode::Uid),
        Server::Floor(Decode::Value),
        Server::Floor(Decode::Kube),
        Server::Landed,
    ];

    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Server::Landed => "landed",
            Server::Floor(decode) => decode.floor_name(),
        }
    }
}

/// One server's figures for one review.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerFigures {
    /// Throughput and latency over all rounds.
    pub measured: Measured,
    /// The server's CPU time (utime + stime) over its measured rounds.
    pub cpu: Duration,
    /// Memory after start, before any review.
    pub idle: Memory,
    /// Memory after this review's load.
    pub loaded: Memory,
}

impl ServerFigures {
    /// Server CPU per answered review, in microseconds.
    pub fn cpu_per_review_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.measured.requests.max(1) as f64
    }
}

/// Every server's figures for one review.
#[derive(Clone, Debug)]
pub struct ReviewResult {
    /// The corpus review.
    pub review: Review,
    /// Its body's size as sent.
    pub bytes: usize,
    /// `landed serve`.
    pub landed: ServerFigures,
    /// The floors, in the order of [`Decode::ALL`].
    pub floors: [ServerFigures; 3],
}

impl ReviewResult {
    /// The figures of the floor that reads reviews as `decode` says.
    pub fn floor(&self, decode: Decode) -> &ServerFigures {
        &self.floors[decode as usize]
    }

    /// The figures of `server`.
    pub fn server(&self, server: Server) -> &ServerFigures {
        match server {
            Server::Landed => &self.landed,
            Server::Floor(decode) => self.floor(decode),
        }
    }

    /// landed's throughput as a fraction of the floor's.
    pub fn ratio(&self, decode: Decode) -> f64 {
        self.landed.measured.throughput / self.floor(decode).measured.throughput.max(1e-9)
    }

    /// landed's CPU per review as a multiple of the floor's.
    pub fn cpu_ratio(&self, decode: Decode) -> f64 {
        self.landed.cpu_per_review_us() / self.floor(decode).cpu_per_review_us().max(1e-9)
    }

    /// landed's p99 as a multiple of the floor's.
    pub fn p99_ratio(&self, decode: Decode) -> f64 {
        self.landed.measured.p99_us / self.floor(decode).measured.p99_us.max(1e-9)
    }
}

/// Every measured review's figures, in the order measured.
#[derive(Clone, Debug)]
pub struct WarmResult {
    /// One entry per review.
    pub reviews: Vec<ReviewResult>,
}

/// A started server: where it listens and its process.
struct Running {
    server: Server,
    url: String,
    pid: u32,
    idle: Memory,
}

/// Pushes the reviews' images, starts the three servers and measures each review in turn.
pub fn run(world: &World, options: &WarmOptions, reviews: &[Review]) -> Result<WarmResult> {
    let mut pushed = Vec::new();
    for (repo, tag) in reviews.iter().flat_map(|r| r.images()) {
        if !pushed.contains(&(repo, tag)) {
            world
                .registry
                .push_image(repo, tag)
                .with_context(|| format!("pushing {repo}:{tag}"))?;
            pushed.push((repo, tag));
        }
    }
    let landed = world.start_landed(&warm_policies(
        options.policy_input,
        options.extra_policy.as_deref(),
    ))?;
    let floors = Decode::ALL
        .iter()
        .map(|&decode| world.start_floor(decode))
        .collect::<Result<Vec<_>>>()?;
    // Let each settle after start (lazy statics, runtime threads) before reading idle memory.
    std::thread::sleep(Duration::from_secs(1));
    let servers = Server::ALL
        .iter()
        .map(|&server| {
            let (url, pid) = match server {
                Server::Landed => (landed.url(), landed.pid()),
                Server::Floor(decode) => {
                    let floor = &floors[decode as usize];
                    (floor.url(), floor.pid())
                }
            };
            Ok(Running {
                server,
                url,
                pid,
                idle: rss::memory(pid)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let client = world.client()?;
    let results = reviews
        .iter()
        .map(|&review| measure(world, &client, review, &servers, options))
        .collect::<Result<_>>()?;
    Ok(WarmResult { reviews: results })
}

/// Checks that every server allows `review` cleanly, then warms each up and measures them in
/// alternating rounds.
fn measure(
    world: &World,
    client: &ReviewClient,
    review: Review,
    servers: &[Running],
    options: &WarmOptions,
) -> Result<ReviewResult> {
    let name = review.name();
    let body = review.body(&world.registry.host());
    let json: Value = serde_json::from_str(&body).with_context(|| format!("parsing {name}"))?;
    for s in servers {
        let answer = client.review_once(&s.url, &json)?;
        if !answer.allowed {
            bail!(
                "{} did not allow {name}, whose images all landed",
                s.server.name()
            );
        }
        // A warning means an image did not verify: the run would measure the wrong path.
        if answer.warned {
            bail!("{} answered {name} with warnings", s.server.name());
        }
    }
    let dir = world.dir().join(name);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("review.json");
    std::fs::write(&path, &body)?;
    let script = wrk::write_script(&dir, &path, "/validate")?;
    let warmup = Load {
        duration: options.warmup,
        ..options.load
    };
    for s in servers {
        wrk::run(&s.url, &script, warmup)?;
    }
    let mut rounds: Vec<Vec<(Measured, Duration)>> = servers.iter().map(|_| Vec::new()).collect();
    for _ in 0..options.rounds.max(1) {
        for (s, measured) in servers.iter().zip(&mut rounds) {
            let before = cpu_time(s.pid)?;
            let m = wrk::run(&s.url, &script, options.load)?;
            measured.push((m, cpu_time(s.pid)?.saturating_sub(before)));
        }
    }
    let mut result = ReviewResult {
        review,
        bytes: body.len(),
        landed: ServerFigures::default(),
        floors: Default::default(),
    };
    for (s, measured) in servers.iter().zip(&rounds) {
        let figures = ServerFigures {
            measured: combine(&measured.iter().map(|(m, _)| *m).collect::<Vec<_>>()),
            cpu: measured.iter().map(|(_, cpu)| *cpu).sum(),
            idle: s.idle,
            loaded: rss::memory(s.pid)?,
        };
        match s.server {
            Server::Landed => result.landed = figures,
            Server::Floor(decode) => result.floors[decode as usize] = figures,
        }
    }
    Ok(result)
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
