//! `slipway rm REF`: delete the manifest a reference points at (every tag on that digest goes);
//! prints the deleted digest.

use super::{fail, location, ConnectArgs};

/// Arguments of `slipway rm`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  slipway rm 127.0.0.1:5000/app:test-20250101-3")]
pub struct Args {
    /// Image reference or `oci:DIR:TAG`.
    reference: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway rm`.
pub async fn run(args: Args) -> u8 {
    let result = async {
        let loc = location(&args.reference)?;
        slipway::registry::ops::remove(&loc, &args.connect.options()?).await
    };
    match result.await {
        Ok(d) => {
            println!("{d}");
            0
        }
        Err(e) => fail(e),
    }
}
