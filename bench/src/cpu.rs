//! CPU time of a process (all its threads, user and system), from `/proc/<pid>/stat`.

use std::time::Duration;

use anyhow::{Context, Result};

/// The kernel's fixed tick for times exported to user space (`USER_HZ`, what `getconf
/// CLK_TCK` prints): 100 on every architecture this bench runs on.
const USER_HZ: u64 = 100;

/// utime + stime of `pid` so far.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat(&stat).with_context(|| format!("no utime/stime in {path}"))?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// utime + stime in ticks: fields 14 and 15, counted after `comm`, which may hold spaces
/// and parentheses (so split after its last `)`).
fn parse_stat(stat: &str) -> Option<u64> {
    let (_, after_comm) = stat.rsplit_once(')')?;
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_an_odd_comm() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1529 0 0 0 731 269 0 0 20 0 \
                    5 0 123 456 789";
        assert_eq!(parse_stat(stat), Some(1000));
    }

    #[test]
    fn this_process_has_spent_some_cpu() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {}
        assert!(cpu_time(std::process::id()).expect("own stat") > Duration::ZERO);
    }
}
