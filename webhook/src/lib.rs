//! `landed`: a Kubernetes admission webhook that refuses workloads whose container images
//! never landed in their registry.
//!
//! Data flows through the modules in this order: [`admission`] decodes the review and finds
//! the images, [`image`] parses their references, [`resolve`] asks the [`registry`] (through
//! caches and budgets) for a [`verdict::Verdict`] per image, [`policy`] runs the rules over
//! those verdicts, and [`admission`] turns the combined decision into the response.
//! [`server`] and [`cli`] are the two ways in.

pub mod admission;
pub mod audit;
pub mod cli;
pub mod config;
pub mod image;
pub mod metrics;
pub mod mode;
pub mod policy;
pub mod registry;
pub mod resolve;
pub mod server;
pub mod verdict;
pub mod workload;
