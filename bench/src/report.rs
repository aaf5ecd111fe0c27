//! The printed summary: figures per phase, then each target of issues #8 and #27 with PASS or
//! FAIL.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cold::ColdResult;
use crate::memory::MemoryResult;
use crate::warm::{WarmOptions, WarmResult};
use crate::warm_report;

/// One target and whether this run met it.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// What the target says.
    pub target: String,
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

impl Report {
    /// The figures as text.
    pub fn figures(&self) -> String {
        let mut out = String::new();
        if let Some((options, warm)) = &self.warm {
            warm_report::figures(&mut out, options, warm);
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
        if let Some((options, warm)) = &self.warm {
            verdicts.extend(warm_report::verdicts(options, warm));
        }
        if let Some(cold) = &self.cold {
            let authorized = cold.manifest_total() - cold.manifest_challenges();
            verdicts.push(Verdict {
                target:
                    "cold: exactly 1 manifest request (+ at most 1 unauthenticated 401 challenge)"
                        .to_owned(),
                figure: format!("{authorized} + {} challenge", cold.manifest_challenges()),
                passed: authorized == 1 && cold.manifest_challenges() <= 1,
            });
            verdicts.push(Verdict {
                target: "cold: <= 1 token request per (registry, scope)".to_owned(),
                figure: format!("at most {} per scope", cold.max_tokens_per_scope()),
                passed: cold.max_tokens_per_scope() <= 1,
            });
            verdicts.push(Verdict {
                target: "cold: every review allowed".to_owned(),
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
                target: "RSS idle <= 40 MiB".to_owned(),
                figure: format!("{:.1} MiB", m.idle.rss_mib()),
                passed: m.idle.rss_kib <= 40 * 1024,
            });
            verdicts.push(Verdict {
                target: "RSS <= 80 MiB holding the entries under load".to_owned(),
                figure: format!(
                    "{:.1} MiB peak, {} entries",
                    m.load_peak_rss_kib as f64 / 1024.0,
                    m.entries
                ),
                passed: m.load_peak_rss_kib <= 80 * 1024,
            });
            verdicts.push(Verdict {
                target: "every entry still cached in the second pass".to_owned(),
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
