//! `slipway load SRC IMAGE`: load an image from a layout (`oci:DIR:TAG`) or a registry into the
//! Docker Engine under the tag IMAGE, so a host can deploy without any registry server.

use slipway::registry::RegistryError;

use super::{fail, location, ConnectArgs};

/// Arguments of `slipway load`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway load oci:.slipway/images:demo-v0.1.0 slipway-example/demo:v0.1.0\n  slipway load 127.0.0.1:5000/app:v1.2.3 app:v1.2.3"
)]
pub struct Args {
    /// Where the image is: `oci:DIR:TAG` or a registry reference.
    source: String,
    /// The tag to give it in the engine.
    image: String,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway load`: prints the loaded manifest's digest.
pub async fn run(args: Args) -> u8 {
    let result = async {
        let loc = location(&args.source)?;
        let docker = crate::engine_args::connect(&args.engine).await.map_err(|e| RegistryError::Engine {
            image: args.image.clone(),
            operation: "connect".into(),
            reason: e.to_string(),
        })?;
        slipway::registry::ops::load(&docker, &loc, &args.image, &args.connect.options()?).await
    };
    match result.await {
        Ok(d) => {
            println!("{d}");
            0
        }
        Err(e) => fail(e),
    }
}
