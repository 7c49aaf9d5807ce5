//! `slipway config [-f FILE...] [--env-file FILE] [--profile P] [-p PROJECT] [--format yaml|json]`

use slipway::compose::{load, render_json, render_yaml};

/// Output format of `slipway config`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// YAML, like `docker compose config`.
    Yaml,
    /// JSON, like `docker compose config --format json`.
    Json,
}

/// Arguments of `slipway config`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway config\n  slipway config -f compose.yml -f compose.prod.yml --env-file prod.env --format json\n  slipway config --profile tools -p myapp"
)]
pub struct Args {
    #[command(flatten)]
    load: crate::load_args::LoadArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
}

/// Run `slipway config`: print the resolved stack; warnings go to stderr; exit 2 on a bad file.
pub async fn run(args: Args) -> u8 {
    let opts = args.load.options();
    match load(&opts) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("slipway: warning: {w}");
            }
            match args.format {
                Format::Json => println!("{}", render_json(&loaded.stack)),
                Format::Yaml => print!("{}", render_yaml(&loaded.stack)),
            }
            0
        }
        Err(e) => crate::output::report_error(&slipway::Error::from(e)),
    }
}
