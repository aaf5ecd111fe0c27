//! `landed-floor`: a floor server of the load benchmark (see `landed_bench::floor`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use landed_bench::floor::Decode;

/// A webhook that answers "allowed" to every AdmissionReview, over HTTPS.
#[derive(Parser)]
struct Args {
    /// Listen address.
    #[arg(long)]
    listen: SocketAddr,
    /// PEM certificate chain.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key.
    #[arg(long)]
    key: PathBuf,
    /// How the review is read: `kube` (kube's AdmissionReview<DynamicObject>, what a minimal
    /// kube-rs webhook does) or `value` (a serde_json::Value, the uid echoed: the lower bound
    /// for TLS + HTTP + JSON).
    #[arg(long, value_enum, default_value_t = Decode::Kube)]
    decode: Decode,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    landed_bench::floor::serve(args.listen, &args.cert, &args.key, args.decode).await
}
