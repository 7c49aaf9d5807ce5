//! `slipway digest REF`: print the digest a reference points at.

use super::{fail, location, ConnectArgs};

/// Arguments of `slipway digest`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  slipway digest 127.0.0.1:5000/app:v1\n  slipway digest oci:./out:v1")]
pub struct Args {
    /// Image reference or `oci:DIR:TAG`.
    reference: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway digest`.
pub async fn run(args: Args) -> u8 {
    let result = async {
        let loc = location(&args.reference)?;
        slipway::registry::ops::digest(&loc, &args.connect.options()?).await
    };
    match result.await {
        Ok(d) => {
            println!("{d}");
            0
        }
        Err(e) => fail(e),
    }
}
