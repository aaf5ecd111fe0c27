//! `landed`: a Kubernetes admission webhook that refuses workloads whose container images
//! never landed in their registry.
//!
//! Data flows through the modules in this order: [`admission`] decodes the review and finds
//! the images, [`image`] parses their references, [`resolve`] asks the [`registry`] (through
//! caches and budgets) for a [`verdict::Verdict`] per image, [`policy`] runs the rules over
//! those verdicts, and [`admission`] turns the combined decision into the response.
//! [`server`], [`audit`] and [`cli`] are the ways in; [`config`] reads landed.yaml and hands
//! each step its own section.
//!
//! Layers, bottom to top (a module uses only lower ones; a unit test checks it): the shared
//! vocabulary [`mode`], [`workload`], [`verdict`], [`image`]; [`metrics`]; [`registry`];
//! [`resolve`]; [`policy`]; [`admission`]; [`audit`] and [`server`]; [`config`]; [`cli`].

pub mod admission;
pub mod audit;
pub mod cli;
pub mod config;
pub mod image;
#[cfg(test)]
mod layering;
pub mod metrics;
pub mod mode;
pub mod policy;
pub mod registry;
pub mod resolve;
pub mod server;
pub mod verdict;
pub mod workload;
