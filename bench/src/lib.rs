//! Load benchmark of `landed serve` (issues #8, #27): the warm path on each review of the
//! corpus (`bench/data/`) side by side with two floor servers that only answer "allowed", the
//! cold path's request counts at a real registry, and resident memory idle and holding many
//! cache entries. `landed-bench --help` runs it.

pub mod client;
pub mod cold;
pub mod corpus;
pub mod cpu;
pub mod floor;
pub mod memory;
pub mod report;
pub mod rss;
pub mod setup;
pub mod warm;
pub mod warm_report;
pub mod wrk;
