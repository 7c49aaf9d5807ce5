//! `slipway login REGISTRY --username U [--password-stdin]`: check the credentials against the
//! registry, then store them in Docker's config.json as `docker login` does.

use slipway::registry::distribution::{store_login, Credentials, Secret};
use slipway::registry::{Distribution, DistributionOptions};

use super::{fail, read_stdin_secret};

/// Arguments of `slipway login`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  echo \"$TOKEN\" | slipway login ghcr.io --username me --password-stdin")]
pub struct Args {
    /// Registry host (`ghcr.io`, `127.0.0.1:5000`).
    registry: String,
    /// User name.
    #[arg(long, short = 'u')]
    username: String,
    /// Read the password from stdin (always the case; accepted for `docker login` compatibility).
    #[arg(long)]
    password_stdin: bool,
    /// Speak plain HTTP to this host although it is not loopback.
    #[arg(long)]
    insecure: bool,
    /// Trust the CA certificates in this PEM file.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
}

/// Run `slipway login`.
pub async fn run(args: Args) -> u8 {
    let password = match read_stdin_secret() {
        Ok(p) => Secret::new(p),
        Err(e) => return fail(e),
    };
    let mut options = DistributionOptions::default().credentials(Credentials::basic(&args.username, password.clone()));
    if args.insecure {
        options = options.insecure(&args.registry);
    }
    if let Some(ca) = &args.ca {
        options = options.ca_file(ca);
    }
    let client = match Distribution::connect(&args.registry, options).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = client.ping().await {
        return fail(e);
    }
    match store_login(&args.registry, &args.username, &password).await {
        Ok(_) => {
            println!("Login Succeeded");
            0
        }
        Err(e) => fail(e),
    }
}
