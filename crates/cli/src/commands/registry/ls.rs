//! `slipway ls REPOSITORY`: print the tags, one per line (sorted).

use slipway::registry::Location;

use super::{fail, ConnectArgs};

/// Arguments of `slipway ls`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  slipway ls 127.0.0.1:5000/app\n  slipway ls --json oci:./out")]
pub struct Args {
    /// Repository (`registry/name`) or `oci:DIR`.
    repository: String,
    /// Print one JSON array of tags.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Run `slipway ls`.
pub async fn run(args: Args) -> u8 {
    let result = async {
        let loc = Location::parse_repository(&args.repository)?;
        slipway::registry::ops::list_tags(&loc, &args.connect.options()?).await
    };
    match result.await {
        Ok(tags) => {
            if args.json {
                crate::output::json_line(&serde_json::json!(tags));
            } else {
                for t in tags {
                    println!("{t}");
                }
            }
            0
        }
        Err(e) => fail(e),
    }
}
