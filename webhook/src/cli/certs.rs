//! `landed certs`: a CA and a serving certificate for manual installs and local runs.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::server::certs::CertBundle;

/// Arguments of `landed certs`.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Directory to write ca.crt, tls.crt and tls.key into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// DNS names or IP addresses of the serving certificate, e.g. `landed.landed.svc`.
    #[arg(long = "dns", value_name = "NAME", required = true)]
    pub names: Vec<String>,
    /// Validity of the serving certificate in days (the CA lives twice as long).
    #[arg(long, default_value_t = 365)]
    pub days: i64,
}

/// Writes the files and prints their paths.
pub async fn run(args: CertsArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)?;
    let paths = CertBundle::generate(&args.names, args.days)?.write(&args.out)?;
    println!("CA certificate (caBundle): {}", paths.ca.display());
    println!("serving certificate:       {}", paths.cert.display());
    println!("serving key:               {}", paths.key.display());
    Ok(ExitCode::SUCCESS)
}
