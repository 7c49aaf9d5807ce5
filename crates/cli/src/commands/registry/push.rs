//! `slipway push IMAGE DST`: push an image from the Docker Engine (or from `oci:DIR[:TAG]`) to a
//! registry or a layout; prints the digest.

use slipway::registry::{CopyOptions, RegistryError};

use super::{fail, location, progress_observer, ConnectArgs};

/// Arguments of `slipway push`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway push app:dev 127.0.0.1:5000/app:staging-latest\n  slipway push oci:./out:v1 ghcr.io/me/app:v1\n  slipway push app:dev oci:./out:v1"
)]
pub struct Args {
    /// An image in the Docker Engine (name or id), or `oci:DIR[:TAG]`.
    image: String,
    /// Destination reference or `oci:DIR:TAG`.
    destination: String,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
    /// Blobs moved at the same time.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway push`.
pub async fn run(args: Args) -> u8 {
    let observer = progress_observer();
    let result = async {
        let dst = location(&args.destination)?;
        let options = args.connect.options()?;
        let copy_options = CopyOptions::default().parallelism(args.parallel);
        let docker = if args.image.starts_with("oci:") {
            None
        } else {
            Some(crate::engine_args::connect(&args.engine).await.map_err(|e| RegistryError::Engine {
                image: args.image.clone(),
                operation: "connect".into(),
                reason: e.to_string(),
            })?)
        };
        slipway::registry::ops::push(docker.as_ref(), &args.image, &dst, &options, &copy_options, &observer).await
    };
    match result.await {
        Ok(d) => {
            println!("{d}");
            0
        }
        Err(e) => fail(e),
    }
}
