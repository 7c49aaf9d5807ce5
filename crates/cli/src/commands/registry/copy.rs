//! `slipway copy SRC DST`: copy an image or index (promotion within a registry moves no blob
//! bytes); prints the destination digest.

use slipway::registry::CopyOptions;

use super::{fail, location, progress_observer, ConnectArgs};

/// Arguments of `slipway copy`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway copy 127.0.0.1:5000/app:staging-latest 127.0.0.1:5000/app:v1.2.3\n  slipway copy ghcr.io/me/app:v1 oci:./backup:v1"
)]
pub struct Args {
    /// Source reference or `oci:DIR:TAG`.
    source: String,
    /// Destination reference or `oci:DIR:TAG`.
    destination: String,
    /// Blobs moved at the same time.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway copy`.
pub async fn run(args: Args) -> u8 {
    let observer = progress_observer();
    let result = async {
        let (src, dst) = (location(&args.source)?, location(&args.destination)?);
        let options = args.connect.options()?;
        let copy_options = CopyOptions::default().parallelism(args.parallel);
        slipway::registry::ops::copy_location(&src, &dst, &options, &copy_options, &observer).await
    };
    match result.await {
        Ok(d) => {
            println!("{d}");
            0
        }
        Err(e) => fail(e),
    }
}
