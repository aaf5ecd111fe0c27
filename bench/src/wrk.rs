//! Driving a server with `wrk` (Debian's): a Lua script POSTs the same AdmissionReview on every
//! request and prints one machine-readable line from wrk's own latency histogram.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// How hard and how long to drive.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// wrk threads.
    pub threads: u32,
    /// Open connections (the concurrency).
    pub connections: u32,
    /// How long.
    pub duration: Duration,
}

/// What wrk measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    /// Responses received.
    pub requests: u64,
    /// Requests per second.
    pub throughput: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Connect, read, write and timeout errors, and non-2xx answers.
    pub errors: u64,
}

const MARKER: &str = "landed-bench-wrk";

/// Writes the Lua script that POSTs the JSON file `body` to `path` in `dir`.
pub fn write_script(dir: &Path, body: &Path, path: &str) -> Result<PathBuf> {
    let script = format!(
        "wrk.method = \"POST\"\n\
         wrk.path = {path:?}\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         local file = assert(io.open({body:?}, \"rb\"))\n\
         wrk.body = file:read(\"*a\")\n\
         file:close()\n\
         function done(summary, latency, requests)\n\
         \x20 local e = summary.errors\n\
         \x20 io.write(string.format(\"{MARKER} %d %d %d %d %d\\n\", summary.requests,\n\
         \x20   summary.duration, latency:percentile(50), latency:percentile(99),\n\
         \x20   e.connect + e.read + e.write + e.timeout + e.status))\n\
         end\n",
        body = body.display().to_string(),
    );
    let file = dir.join(format!("post{}.lua", path.replace('/', "-")));
    std::fs::write(&file, script).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// Runs wrk with `script` against `url` (scheme, host and port).
pub fn run(url: &str, script: &Path, load: Load) -> Result<Measured> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&stdout).with_context(|| format!("no {MARKER} line in wrk's output:\n{stdout}"))
}

fn parse(stdout: &str) -> Option<Measured> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(MARKER))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [requests, duration_us, p50_us, p99_us, errors] = numbers[..] else {
        return None;
    };
    if duration_us <= 0.0 {
        return None;
    }
    Some(Measured {
        requests: requests as u64,
        throughput: requests / (duration_us / 1e6),
        p50_us,
        p99_us,
        errors: errors as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_done_line() {
        let out = "Running 2s test @ https://127.0.0.1:1\n  2 threads and 8 connections\n\
                   landed-bench-wrk 20000 2000000 350 1200 3\nRequests/sec: 10000.00\n";
        let m = parse(out).expect("parsed");
        assert_eq!(m.requests, 20000);
        assert!((m.throughput - 10000.0).abs() < 1e-6);
        assert_eq!((m.p50_us, m.p99_us, m.errors), (350.0, 1200.0, 3));
    }
}
