//! `slipway config [-f FILE...] [--env-file FILE] [--profile P] [-p PROJECT] [--format yaml|json]`

use std::path::PathBuf;

use slipway::compose::{load, render_json, render_yaml, LoadOptions};

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
    /// Compose files, merged in order (default: compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Variables for interpolation (default: .env next to the first file); the process environment wins.
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Enable services of this profile (repeatable; default: COMPOSE_PROFILES).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Project name (default: `name:`, COMPOSE_PROJECT_NAME, or the first file's folder).
    #[arg(short = 'p', long = "project-name")]
    project: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
}

/// Run `slipway config`: print the resolved stack; warnings go to stderr; exit 2 on a bad file.
pub async fn run(args: Args) -> u8 {
    let mut opts = LoadOptions::new(args.files).profiles(args.profiles);
    if let Some(f) = args.env_file {
        opts = opts.env_file(f);
    }
    if let Some(p) = args.project {
        opts = opts.project(p);
    }
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
