//! `slipway prune`: two contracts under one name. With a `REPOSITORY` it deletes registry tags
//! beyond retention (`--keep N --match GLOB [--protect GLOB...] [--apply]`); without one it removes
//! a project's retained release containers and images on the host beyond `--retain N` (`-p`/`-f`).

use super::deploy::Target;
use super::registry::ConnectArgs;

/// Arguments of `slipway prune`.
#[derive(clap::Args)]
#[command(after_help = "With REPOSITORY: registry tags. Protected always: v[0-9]*.[0-9]*.[0-9]* and staging-latest.
Without: the project's retained releases on the Docker host.
Examples:
  slipway prune 127.0.0.1:5000/app --keep 5 --match 'test-*'
  slipway prune 127.0.0.1:5000/app --keep 5 --match 'test-*' --protect 'release-*' --apply
  slipway prune -p shop --retain 3")]
pub struct Args {
    /// Registry repository (`registry/name`) or `oci:DIR` whose tags to prune; omit to prune releases on the host.
    repository: Option<String>,
    /// Registry: how many of the newest matching tags to keep.
    #[arg(long, requires = "repository")]
    keep: Option<usize>,
    /// Registry: glob of the tags subject to pruning.
    #[arg(long = "match", value_name = "GLOB", requires = "repository")]
    matching: Option<String>,
    /// Registry: extra glob of protected tags (repeatable).
    #[arg(long, value_name = "GLOB", requires = "repository")]
    protect: Vec<String>,
    /// Registry: really delete (otherwise only print what would be deleted).
    #[arg(long, requires = "repository")]
    apply: bool,
    /// Host: releases whose containers and images are kept.
    #[arg(long, default_value_t = 5, conflicts_with = "repository")]
    retain: usize,
    /// JSON output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    target: Target,
}

/// Run `slipway prune`.
pub async fn run(args: Args) -> u8 {
    match &args.repository {
        Some(repository) => {
            let (Some(keep), Some(matching)) = (args.keep, args.matching.as_deref()) else {
                eprintln!(
                    "slipway: prune {repository}: --keep N and --match GLOB are required for a registry repository"
                );
                return 2;
            };
            super::registry::prune::run(super::registry::prune::Request {
                repository,
                keep,
                matching,
                protect: &args.protect,
                apply: args.apply,
                json: args.json,
                connect: &args.connect,
            })
            .await
        }
        None => super::releases::prune(&args.target, args.retain, args.json).await,
    }
}
