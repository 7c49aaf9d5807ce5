//! `slipway inspect REF [--json]`: media type, digest, platforms, layers and sizes, config summary.

use slipway::registry::ImageInfo;

use super::{fail, location, ConnectArgs};

/// Arguments of `slipway inspect`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  slipway inspect 127.0.0.1:5000/app:v1\n  slipway inspect --json oci:./out:v1")]
pub struct Args {
    /// Image reference or `oci:DIR:TAG`.
    reference: String,
    /// One JSON object with keys reference, digest, media_type, size, platforms, layers, total_size, config.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

fn render(info: &ImageInfo) {
    println!("reference:  {}", info.reference);
    println!("digest:     {}", info.digest);
    println!("media type: {}", info.media_type);
    for p in &info.platforms {
        println!("platform:   {:<16} {} ({} bytes)", p.platform, p.digest, p.size);
    }
    if let Some(c) = &info.config {
        println!("platform:   {}/{}", c.os, c.architecture);
        if let Some(created) = &c.created {
            println!("created:    {created}");
        }
        if !c.entrypoint.is_empty() {
            println!("entrypoint: {}", c.entrypoint.join(" "));
        }
        if !c.cmd.is_empty() {
            println!("cmd:        {}", c.cmd.join(" "));
        }
        for (k, v) in &c.labels {
            println!("label:      {k}={v}");
        }
    }
    for l in &info.layers {
        println!("layer:      {} {:>12} bytes", l.digest, l.size);
    }
    if !info.layers.is_empty() {
        println!("total:      {} bytes in {} layers", info.total_size, info.layers.len());
    }
}

/// Run `slipway inspect`.
pub async fn run(args: Args) -> u8 {
    let result = async {
        let loc = location(&args.reference)?;
        slipway::registry::ops::inspect_location(&loc, &args.connect.options()?).await
    };
    match result.await {
        Ok(info) => {
            if args.json {
                crate::output::json_line(&serde_json::to_value(&info).unwrap_or_default());
            } else {
                render(&info);
            }
            0
        }
        Err(e) => fail(e),
    }
}
