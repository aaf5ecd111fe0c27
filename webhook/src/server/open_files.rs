//! The open-file limit: every connection holds a descriptor, and many distributions start
//! processes with a soft limit of 1024, below the default `server.maxConnections` plus the
//! registry connections and files the server needs. Like most servers, `landed serve` raises
//! its soft limit to the hard limit at start.

use tracing::{info, warn};

/// Descriptors kept for registry connections, policy and certificate files, logs.
const HEADROOM: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs the outcome; never fails.
/// Warns when the result leaves no room for `max_connections` client connections.
pub fn raise_open_file_limit(max_connections: usize) {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
    let now = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => now,
        Err(err) => {
            warn!(error = %err, "cannot raise the open file limit; keeping it as it is");
            return;
        }
    };
    let (soft_before, hard) = before.unwrap_or((now, now));
    let needed = max_connections as u64 + HEADROOM;
    if now < needed {
        warn!(
            open_files = now,
            hard_limit = hard,
            max_connections,
            "the open file limit is below server.maxConnections plus headroom; connections \
             beyond it will be refused by the kernel (raise the hard limit, e.g. LimitNOFILE)"
        );
    } else {
        info!(
            open_files = now,
            raised_from = soft_before,
            "open file limit"
        );
    }
}
