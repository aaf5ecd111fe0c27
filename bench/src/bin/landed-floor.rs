//! `landed-floor`: the floor server of the load benchmark (see `landed_bench::floor`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    landed_bench::floor::serve(args.listen, &args.cert, &args.key).await
}
