//! The printed summary: figures per phase, then each target of issue #8 with PASS or FAIL.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cold::ColdResult;
use crate::memory::MemoryResult;
use crate::warm::{ServerFigures, WarmOptions, WarmResult};

/// One target and whether this run met it.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// What the target says.
    pub target: &'static str,
    /// The measured figure, as printed.
    pub figure: String,
    /// Met or not.
    pub passed: bool,
}

/// Everything a run measured.
#[derive(Default)]
pub struct Report {
    /// Warm comparison, with its options.
    pub warm: Option<(WarmOptions, WarmResult)>,
    /// Cold path.
    pub cold: Option<ColdResult>,
    /// Memory.
    pub memory: Option<MemoryResult>,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us_as_ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

fn row(out: &mut String, name: &str, f: &ServerFigures) {
    let _ = writeln!(
        out,
        "  {name:<8} {:>10.0} {:>10} {:>10} {:>7.1} MiB {:>7.1} MiB {:>8}",
        f.measured.throughput,
        us_as_ms(f.measured.p50_us),
        us_as_ms(f.measured.p99_us),
        f.idle.rss_mib(),
        f.loaded.rss_mib(),
        f.measured.errors,
    );
}

impl Report {
    /// The figures as text.
    pub fn figures(&self) -> String {
        let mut out = String::new();
        if let Some((options, warm)) = &self.warm {
            let _ = writeln!(
                out,
                "Warm: Pod with 3 images ({}), policies require-landed + no-latest-tag (input: {}), TLS, \
                 wrk -t{} -c{}, {} × {} s per server, alternating",
                warm.images.join(", "),
                options.policy_input.unwrap_or("images, their default"),
                options.load.threads,
                options.load.connections,
                options.rounds,
                options.load.duration.as_secs()
            );
            let _ = writeln!(
                out,
                "  {:<8} {:>10} {:>10} {:>10} {:>11} {:>11} {:>8}",
                "server", "req/s", "p50", "p99", "RSS idle", "RSS loaded", "errors"
            );
            row(&mut out, "landed", &warm.landed);
            row(&mut out, "floor", &warm.floor);
            let _ = writeln!(
                out,
                "  landed/floor throughput: {:.1} %",
                warm.ratio() * 100.0
            );
        }
        if let Some(cold) = &self.cold {
            let b = &cold.batch;
            let _ = writeln!(
                out,
                "Cold: {} concurrent reviews of {} against a fresh landed",
                b.allowed + b.denied + b.failed,
                cold.image
            );
            let _ = writeln!(
                out,
                "  answers: {} allowed, {} denied, {} failed; p50 {}, p99 {}, all in {}",
                b.allowed,
                b.denied,
                b.failed,
                ms(b.quantile(0.5)),
                ms(b.quantile(0.99)),
                ms(b.elapsed)
            );
            if let Some(e) = &b.first_error {
                let _ = writeln!(out, "  first failure: {e}");
            }
            let requests: Vec<String> = cold
                .manifest_requests
                .iter()
                .map(|((method, status), n)| format!("{method} {status} ×{n}"))
                .collect();
            let _ = writeln!(
                out,
                "  manifest requests at the registry: {} ({})",
                cold.manifest_total(),
                requests.join(", ")
            );
            let tokens: Vec<String> = cold
                .token_requests
                .iter()
                .map(|(scope, n)| format!("{scope} ×{n}"))
                .collect();
            let _ = writeln!(out, "  token requests: {}", tokens.join(", "));
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(
                out,
                "Memory: {} distinct tags (pushed in {:.1} s)",
                m.entries,
                m.push_time.as_secs_f64()
            );
            let _ = writeln!(
                out,
                "  idle after start:          RSS {:.1} MiB",
                m.idle.rss_mib()
            );
            let _ = writeln!(
                out,
                "  filling ({} reviews, {:.0}/s, {} manifest requests): RSS {:.1} MiB",
                m.fill.allowed,
                m.fill.throughput(),
                m.fill_registry_requests,
                m.filled.rss_mib()
            );
            let _ = writeln!(
                out,
                "  second pass ({} reviews, {:.0}/s, p99 {}, {} manifest requests): peak RSS {:.1} MiB, \
                 after {:.1} MiB, VmHWM {:.1} MiB",
                m.load.allowed,
                m.load.throughput(),
                ms(m.load.quantile(0.99)),
                m.load_registry_requests,
                m.load_peak_rss_kib as f64 / 1024.0,
                m.after.rss_mib(),
                m.after.peak_mib()
            );
        }
        out
    }

    /// Each target this run measured.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        if let Some((_, warm)) = &self.warm {
            verdicts.push(Verdict {
                target: "warm throughput >= 60 % of the floor",
                figure: format!("{:.1} %", warm.ratio() * 100.0),
                passed: warm.ratio() >= 0.60,
            });
            verdicts.push(Verdict {
                target: "warm p99 <= 2 ms",
                figure: us_as_ms(warm.landed.measured.p99_us),
                passed: warm.landed.measured.p99_us <= 2000.0,
            });
            verdicts.push(Verdict {
                target: "no failed warm requests",
                figure: format!(
                    "{} landed, {} floor",
                    warm.landed.measured.errors, warm.floor.measured.errors
                ),
                passed: warm.landed.measured.errors == 0 && warm.floor.measured.errors == 0,
            });
        }
        if let Some(cold) = &self.cold {
            let authorized = cold.manifest_total() - cold.manifest_challenges();
            verdicts.push(Verdict {
                target:
                    "cold: exactly 1 manifest request (+ at most 1 unauthenticated 401 challenge)",
                figure: format!("{authorized} + {} challenge", cold.manifest_challenges()),
                passed: authorized == 1 && cold.manifest_challenges() <= 1,
            });
            verdicts.push(Verdict {
                target: "cold: <= 1 token request per (registry, scope)",
                figure: format!("at most {} per scope", cold.max_tokens_per_scope()),
                passed: cold.max_tokens_per_scope() <= 1,
            });
            verdicts.push(Verdict {
                target: "cold: every review allowed",
                figure: format!(
                    "{} of {}",
                    cold.batch.allowed,
                    cold.batch.allowed + cold.batch.denied + cold.batch.failed
                ),
                passed: cold.batch.denied == 0 && cold.batch.failed == 0,
            });
        }
        if let Some(m) = &self.memory {
            verdicts.push(Verdict {
                target: "RSS idle <= 40 MiB",
                figure: format!("{:.1} MiB", m.idle.rss_mib()),
                passed: m.idle.rss_kib <= 40 * 1024,
            });
            verdicts.push(Verdict {
                target: "RSS <= 80 MiB holding the entries under load",
                figure: format!(
                    "{:.1} MiB peak, {} entries",
                    m.load_peak_rss_kib as f64 / 1024.0,
                    m.entries
                ),
                passed: m.load_peak_rss_kib <= 80 * 1024,
            });
            verdicts.push(Verdict {
                target: "every entry still cached in the second pass",
                figure: format!("{} manifest requests", m.load_registry_requests),
                passed: m.load_registry_requests == 0,
            });
        }
        verdicts
    }

    /// Figures, then one PASS/FAIL line per target.
    pub fn render(&self) -> String {
        let mut out = self.figures();
        let _ = writeln!(out, "Targets:");
        for v in self.verdicts() {
            let mark = if v.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "  {mark}  {:<80} {}", v.target, v.figure);
        }
        out
    }
}
