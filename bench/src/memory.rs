//! Memory: a fresh `landed serve` idle, then holding N cache entries under load. The entries
//! are honest ones: N distinct tags pushed to the real registry (one manifest PUT under N
//! tags), each resolved through a review, so the resolver caches N `tag → digest` answers
//! (and N last-known-good verdicts). A second pass over all N tags is the load; the registry
//! must see no manifest request during it, which shows every entry was still held.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use landed_e2e::review::PodReview;

use crate::client::Batch;
use crate::rss::{self, Memory};
use crate::setup::World;

/// The repository holding the tags.
pub const REPO: &str = "bench/many";
/// Images per reviewed Pod.
const IMAGES_PER_POD: usize = 3;

/// What memory looked like.
#[derive(Clone, Debug)]
pub struct MemoryResult {
    /// Distinct tags resolved.
    pub entries: usize,
    /// Time to push the tags.
    pub push_time: Duration,
    /// After start, before any review.
    pub idle: Memory,
    /// The reviews that filled the cache.
    pub fill: Batch,
    /// Manifest requests the registry saw while filling.
    pub fill_registry_requests: usize,
    /// After filling.
    pub filled: Memory,
    /// The second pass over every tag.
    pub load: Batch,
    /// Manifest requests the registry saw during the second pass (0: all served from cache).
    pub load_registry_requests: usize,
    /// Highest VmRSS sampled during the second pass, KiB.
    pub load_peak_rss_kib: u64,
    /// After the second pass.
    pub after: Memory,
}

/// Pushes `entries` tags, fills a fresh landed's cache with them over `connections`
/// connections, then reviews them all again while sampling its memory.
pub fn run(world: &World, entries: usize, connections: usize) -> Result<MemoryResult> {
    let pushed = Instant::now();
    push_tags(world, entries)?;
    let push_time = pushed.elapsed();
    // Filling 100,000 tags takes minutes on a busy 2-core machine: keep every answer for
    // the whole phase, so the second pass measures holding them, not re-fetching expired ones.
    let landed = world.start_landed("cache:\n  tagTtl: 1h\n")?;
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss::memory(landed.pid())?;
    let client = world.client()?;
    let host = world.registry.host();
    let pods = entries.div_ceil(IMAGES_PER_POD);
    let make = move |i: usize| {
        let first = i * IMAGES_PER_POD;
        (first..(first + IMAGES_PER_POD).min(entries))
            .try_fold(PodReview::new("shop")?, |pod, n| {
                anyhow::Ok(pod.container(
                    &format!("c{}", n - first),
                    &format!("{host}/{REPO}:{}", tag(n)),
                ))
            })
            .map(|pod| pod.to_json())
    };

    let mark = world.registry.access_mark();
    let fill = client.drive(&landed.url(), pods, connections, make.clone())?;
    let fill_registry_requests = count_manifest_requests(world, mark);
    check(&fill, pods, "filling")?;
    let filled = rss::memory(landed.pid())?;

    let mark = world.registry.access_mark();
    let pid = landed.pid();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(m) = rss::memory(pid) {
                    peak = peak.max(m.rss_kib);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };
    let load = client.drive(&landed.url(), pods, connections, make);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let load_peak_rss_kib = sampler.join().unwrap_or_default();
    let load = load?;
    check(&load, pods, "the second pass")?;
    let load_registry_requests = count_manifest_requests(world, mark);
    let after = rss::memory(landed.pid())?;
    Ok(MemoryResult {
        entries,
        push_time,
        idle,
        fill,
        fill_registry_requests,
        filled,
        load,
        load_registry_requests,
        load_peak_rss_kib: load_peak_rss_kib.max(after.rss_kib),
        after,
    })
}

fn tag(n: usize) -> String {
    format!("t{n:06}")
}

fn check(batch: &Batch, pods: usize, what: &str) -> Result<()> {
    if batch.allowed != pods {
        bail!(
            "{what}: {} of {pods} reviews allowed, {} denied, {} failed (first: {})",
            batch.allowed,
            batch.denied,
            batch.failed,
            batch.first_error.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

fn count_manifest_requests(world: &World, mark: usize) -> usize {
    world
        .registry
        .access_log_since(mark)
        .iter()
        .filter(|e| e.is_manifest_of(REPO))
        .count()
}

/// Pushes one image as `t000000` through the registry API, then tags the same manifest
/// `t000001`… by writing the tag links into the registry's storage exactly as its own tag PUT
/// does (`_manifests/tags/<tag>/current/link` and `index/sha256/<hex>/link`). A manifest PUT per
/// tag would take minutes for 100,000 tags here; the registry serves these tags like any other
/// (the fill phase's lookups all answer 200).
fn push_tags(world: &World, entries: usize) -> Result<()> {
    let pushed = world.registry.push_image(REPO, &tag(0))?;
    let hex = pushed
        .digest
        .strip_prefix("sha256:")
        .context("skopeo reported a non-sha256 digest")?;
    let tags = world
        .registry
        .storage_root()
        .join("docker/registry/v2/repositories")
        .join(REPO)
        .join("_manifests/tags");
    for n in 1..entries {
        let dir = tags.join(tag(n));
        for link in [dir.join("current"), dir.join("index/sha256").join(hex)] {
            std::fs::create_dir_all(&link)
                .with_context(|| format!("creating {}", link.display()))?;
            std::fs::write(link.join("link"), &pushed.digest)?;
        }
    }
    Ok(())
}
