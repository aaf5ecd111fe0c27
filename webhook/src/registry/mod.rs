//! Distribution (OCI distribution-spec) client on reqwest, with its auth.
//!
//! [`client::RegistryClient`] asks for manifests; [`egress`] decides which hosts it may
//! connect to; [`challenge`] and [`token`] do the token dance; [`auth`] finds credentials;
//! [`errors`] turns answers into verdict classes.

pub mod artifact;
pub mod auth;
pub mod challenge;
pub mod client;
pub mod config;
mod context;
pub mod egress;
mod endpoint;
mod error_body;
pub mod errors;
pub mod index;
mod public;
mod request;
pub mod secret;
pub mod tls;
pub mod token;
pub mod upload;
mod wire;

pub use client::{Access, Manifest, RegistryClient};
pub use config::{AuthMode, RegistryConfig};
pub use context::LookupContext;
pub use egress::{Egress, EgressConfig, Origin, Refusal};
pub use endpoint::Endpoint;
pub use errors::RegistryError;
pub use secret::Secret;
pub use tls::{SetupError, Timeouts};
