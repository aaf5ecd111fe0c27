//! Load benchmark of `landed serve` (issue #8): the warm path side by side with a floor
//! server that only answers "allowed", the cold path's request counts at a real registry, and
//! resident memory idle and holding many cache entries. `landed-bench --help` runs it.

pub mod client;
pub mod cold;
pub mod corpus;
pub mod floor;
pub mod memory;
pub mod report;
pub mod rss;
pub mod setup;
pub mod warm;
pub mod wrk;
