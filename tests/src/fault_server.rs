//! One `landed serve` (real TLS, fake kube API) configured to reach a set of injected faults
//! and one good registry, with `onUndetermined: deny` in one namespace.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::fakes::kube_api::FakeKubeApi;
use crate::faults::{FaultKind, FaultSet};
use crate::faults_check::fault_config;
use crate::images::PushedImage;
use crate::landed::Landed;
use crate::registry::{Registry, RegistryOptions};
use crate::review::PodReview;
use crate::server::LandedServer;
use crate::RegistryEntry;

/// Namespace left at the default `onUndetermined: allow`.
pub const OPEN: &str = "shop";
/// Namespace configured fail-closed (`onUndetermined: deny`).
pub const CLOSED: &str = "pay";

/// What the API server got for one review.
#[derive(Clone, Debug)]
pub struct Reviewed {
    /// The AdmissionReview's `response`.
    pub response: Value,
    /// From sending the request to having the whole answer.
    pub took: Duration,
}

impl Reviewed {
    /// `response.allowed`.
    pub fn allowed(&self) -> Option<bool> {
        self.response["allowed"].as_bool()
    }

    /// The warnings, one per line.
    pub fn warnings(&self) -> String {
        self.response["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// `response.status.message` (empty when allowed).
    pub fn message(&self) -> String {
        self.response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The server and everything it reaches.
pub struct FaultServer {
    /// The running `landed serve`.
    pub server: LandedServer,
    /// The faults it reaches.
    pub faults: FaultSet,
    /// An image that landed in the good registry.
    pub good: PushedImage,
    _good_registry: Registry,
    _kube: FakeKubeApi,
    _landed: Landed,
}

impl FaultServer {
    /// Sets up `kinds`, a good registry with one image, and the server.
    pub fn start(kinds: &[FaultKind]) -> Result<Self> {
        let good_registry = Registry::start(RegistryOptions::default())?;
        let good = good_registry.push_image("team/good", "v1")?;
        let mut landed = Landed::new()?;
        let kube = FakeKubeApi::start()?;
        let kubeconfig = kube.write_kubeconfig(landed.home(), OPEN)?;
        landed.set_env("KUBECONFIG", kubeconfig.display().to_string());
        let faults = FaultSet::start(kinds, &mut landed)?;
        let mut config = fault_config(faults.registry_entries());
        config
            .registries
            .push(RegistryEntry::for_registry(&good_registry));
        config.namespace_on_undetermined = vec![(CLOSED.to_owned(), "deny".to_owned())];
        let server = LandedServer::start(&mut landed, &config)?;
        Ok(Self {
            server,
            faults,
            good,
            _good_registry: good_registry,
            _kube: kube,
            _landed: landed,
        })
    }

    /// POSTs a Pod running `image` in `namespace` to `/validate`.
    pub fn review(&self, namespace: &str, image: &str) -> Result<Reviewed> {
        review(&self.server, namespace, image)
    }
}

/// POSTs a Pod running `image` in `namespace` to `server`'s `/validate` and checks the
/// envelope (HTTP 200, the request's uid).
pub fn review(server: &LandedServer, namespace: &str, image: &str) -> Result<Reviewed> {
    let pod = PodReview::new(namespace)?.container("app", image);
    let started = Instant::now();
    let (status, body) = server.post("/validate", &pod.to_json())?;
    let took = started.elapsed();
    if status != 200 || body["response"]["uid"] != pod.uid().as_str() {
        anyhow::bail!("review of {image} answered {status}: {body}");
    }
    Ok(Reviewed {
        response: body["response"].clone(),
        took,
    })
}

/// The resident set size of process `pid` (`VmRSS` in `/proc/<pid>/status`), in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .context("no VmRSS line")
}
