//! The warm phase's part of the report: one table per review (landed and both floors side by
//! side), landed's ratios to each floor, and the targets of issues #8 and #27.

use std::fmt::Write as _;

use crate::corpus::Review;
use crate::floor::Decode;
use crate::report::Verdict;
use crate::warm::{ReviewResult, Server, WarmOptions, WarmResult, WARM_POLICIES};

fn us_as_ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

/// The figures of every review, as text.
pub fn figures(out: &mut String, options: &WarmOptions, warm: &WarmResult) {
    let order: Vec<&str> = Server::ALL.iter().map(|s| s.name()).collect();
    let _ = writeln!(
        out,
        "Warm: policies {} (input: {}), TLS, wrk -t{} -c{}, {} × {} s per server and review, \
         alternating {}",
        WARM_POLICIES
            .iter()
            .map(|p| p.to_string())
            .chain(
                options
                    .extra_policy
                    .as_ref()
                    .map(|p| p.display().to_string())
            )
            .collect::<Vec<_>>()
            .join(" + "),
        options.policy_input.unwrap_or("images, their default"),
        options.load.threads,
        options.load.connections,
        options.rounds,
        options.load.duration.as_secs(),
        order.join(", ")
    );
    for review in &warm.reviews {
        table(out, review);
    }
}

fn table(out: &mut String, r: &ReviewResult) {
    let _ = writeln!(
        out,
        "{}: {}, {} bytes",
        r.review.name(),
        r.review.describe(),
        r.bytes
    );
    let _ = writeln!(
        out,
        "  {:<11} {:>9} {:>9} {:>9} {:>11} {:>10} {:>11} {:>7}",
        "server", "req/s", "p50", "p99", "CPU/review", "RSS idle", "RSS loaded", "errors"
    );
    let servers = std::iter::once(Server::Landed).chain(Decode::ALL.map(Server::Floor));
    for server in servers {
        let f = r.server(server);
        let _ = writeln!(
            out,
            "  {:<11} {:>9.0} {:>9} {:>9} {:>8.1} µs {:>6.1} MiB {:>7.1} MiB {:>7}",
            server.name(),
            f.measured.throughput,
            us_as_ms(f.measured.p50_us),
            us_as_ms(f.measured.p99_us),
            f.cpu_per_review_us(),
            f.idle.rss_mib(),
            f.loaded.rss_mib(),
            f.measured.errors,
        );
    }
    for decode in Decode::ALL {
        let _ = writeln!(
            out,
            "  landed / {:<12} throughput {:.1} %, CPU per review {:.2} ×, p99 {:.2} ×",
            format!("{}:", decode.floor_name()),
            r.ratio(decode) * 100.0,
            r.cpu_ratio(decode),
            r.p99_ratio(decode)
        );
    }
}

/// The warm targets this run measured. With the built-ins' default input: #8's on the small
/// Pod (against the kube floor), #27's on the realistic Pod CREATE and the Deployment UPDATE
/// (against the value floor). With `input: full`, #27's throughput target for that case.
pub fn verdicts(options: &WarmOptions, warm: &WarmResult) -> Vec<Verdict> {
    let full = options.policy_input == Some("full");
    let mut verdicts = Vec::new();
    for r in &warm.reviews {
        let name = r.review.name();
        let value = r.floor(Decode::Value);
        let throughput = |floor: Decode, at_least: f64, suffix: &str| Verdict {
            target: format!(
                "{name}{suffix}: throughput >= {:.0} % of {}",
                at_least * 100.0,
                floor.floor_name()
            ),
            figure: format!("{:.1} %", r.ratio(floor) * 100.0),
            passed: r.ratio(floor) >= at_least,
        };
        let p99_at_most_2_ms = Verdict {
            target: format!("{name}: p99 <= 2 ms"),
            figure: us_as_ms(r.landed.measured.p99_us),
            passed: r.landed.measured.p99_us <= 2000.0,
        };
        match (r.review, full) {
            (Review::PodSmall, false) => {
                verdicts.push(throughput(Decode::Kube, 0.60, ""));
                verdicts.push(p99_at_most_2_ms);
            }
            (Review::PodReplicaset, false) => {
                verdicts.push(throughput(Decode::Value, 0.50, ""));
                verdicts.push(Verdict {
                    target: format!("{name}: CPU per review <= 2.5 × floor-value's"),
                    figure: format!(
                        "{:.2} × ({:.1} µs against {:.1} µs)",
                        r.cpu_ratio(Decode::Value),
                        r.landed.cpu_per_review_us(),
                        value.cpu_per_review_us()
                    ),
                    passed: r.cpu_ratio(Decode::Value) <= 2.5,
                });
                verdicts.push(Verdict {
                    target: format!("{name}: p99 <= 1.5 × floor-value's"),
                    figure: format!(
                        "{:.2} × ({} against {})",
                        r.p99_ratio(Decode::Value),
                        us_as_ms(r.landed.measured.p99_us),
                        us_as_ms(value.measured.p99_us)
                    ),
                    passed: r.p99_ratio(Decode::Value) <= 1.5,
                });
                verdicts.push(p99_at_most_2_ms);
            }
            (Review::PodReplicaset, true) => {
                verdicts.push(throughput(Decode::Value, 0.30, " (input: full)"));
            }
            (Review::DeploymentUpdateApply, false) => {
                verdicts.push(throughput(Decode::Value, 0.45, ""));
            }
            _ => {}
        }
        let errors: Vec<String> = Server::ALL
            .iter()
            .map(|&s| format!("{} {}", r.server(s).measured.errors, s.name()))
            .collect();
        verdicts.push(Verdict {
            target: format!("{name}: no failed warm requests"),
            figure: errors.join(", "),
            passed: Server::ALL
                .iter()
                .all(|&s| r.server(s).measured.errors == 0),
        });
    }
    verdicts
}
