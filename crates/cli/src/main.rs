//! `slipway`: the command-line face. Parses input, calls the core, renders results and events.
//! Exit codes: 0 ok, 1 operation failed, 2 bad input, 3 refused by policy.

mod commands;
mod engine_args;
mod output;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Shown after the top-level help; each subcommand's `--help` has its own examples.
const TOP_HELP: &str = "\
Examples:
  slipway ref redis
  slipway tags --event release --version 1.4.2 --latest
  slipway policy check --env production registry.example.com/app:v1.4.2

Run `slipway <command> --help` for each command's options and examples.
Exit codes: 0 ok, 1 operation failed, 2 bad input, 3 refused by policy.";

/// Ship container releases: build once, push, deploy by pull + up behind health checks.
#[derive(Parser)]
#[command(name = "slipway", version, about, propagate_version = true)]
#[command(term_width = 0, after_help = TOP_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse image references and print their canonical form.
    Ref(commands::reference::Args),
    /// Deploy a stack: policy, digests, plan, health-gated rollout, record (undone on failure).
    Deploy(commands::deploy::Args),
    /// What runs for a project, with roles and health.
    Status(commands::releases::StatusArgs),
    /// The release history recorded on the host.
    History(commands::releases::HistoryArgs),
    /// Deploy a recorded release again (the previous one by default).
    Rollback(commands::releases::RollbackArgs),
    /// Prune registry tags beyond retention (with REPOSITORY) or a project's retained releases on the host.
    Prune(commands::prune::Args),
    /// Back up databases and volumes, verify, list and prune backups.
    Backup(commands::backup::Args),
    /// Restore a backup into a service, a scratch container or a volume.
    Restore(commands::restore::Args),
    /// Build an image: a Dockerfile through the engine, or a reproducible OCI build (--oci FILE).
    Build(Box<commands::build::Args>),
    /// Log in to a registry (password from stdin); stored in Docker's config.json.
    Login(commands::registry::login::Args),
    /// Print the digest a reference points at.
    Digest(commands::registry::digest::Args),
    /// List the tags of a repository.
    Ls(commands::registry::ls::Args),
    /// Show an image's media type, platforms, layers and config.
    Inspect(commands::registry::inspect::Args),
    /// Copy an image or index (promotion moves no blob bytes).
    Copy(commands::registry::copy::Args),
    /// Push an image from the Docker Engine or a layout.
    Push(commands::registry::push::Args),
    /// Load an image from a layout (oci:DIR:TAG) or a registry into the Docker Engine.
    Load(commands::registry::load::Args),
    /// Delete the manifest a reference points at.
    Rm(commands::registry::rm::Args),
    /// Print the tags a build event gets (pre-release or release).
    Tags(commands::tags::Args),
    /// Check references against an environment's policy; show the policies.
    Policy(commands::policy::Args),
    /// Probe targets (HTTP, TCP, PostgreSQL, Redis, containers, exec, logs) with compose healthcheck semantics.
    Probe(commands::probe::Args),
    /// Print the resolved compose stack (like `docker compose config`).
    Config(commands::config::Args),
    /// Render the compose stack for another platform (Kubernetes manifests).
    Render(commands::render::Args),
    /// The managed edge: run Traefik v3 on the engine's host (up | status | logs | down).
    Proxy(commands::proxy::Args),
}

fn main() -> ExitCode {
    output::init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("slipway: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Ref(args) => commands::reference::run(args).await,
            Command::Deploy(args) => commands::deploy::run(args).await,
            Command::Status(args) => commands::releases::status(args).await,
            Command::History(args) => commands::releases::history(args).await,
            Command::Rollback(args) => commands::releases::rollback(args).await,
            Command::Prune(args) => commands::prune::run(args).await,
            Command::Backup(args) => commands::backup::run(args).await,
            Command::Restore(args) => commands::restore::run(args).await,
            Command::Build(args) => commands::build::run(*args).await,
            Command::Login(args) => commands::registry::login::run(args).await,
            Command::Digest(args) => commands::registry::digest::run(args).await,
            Command::Ls(args) => commands::registry::ls::run(args).await,
            Command::Inspect(args) => commands::registry::inspect::run(args).await,
            Command::Copy(args) => commands::registry::copy::run(args).await,
            Command::Push(args) => commands::registry::push::run(args).await,
            Command::Load(args) => commands::registry::load::run(args).await,
            Command::Rm(args) => commands::registry::rm::run(args).await,
            Command::Tags(args) => commands::tags::run(args).await,
            Command::Policy(args) => commands::policy::run(args).await,
            Command::Probe(args) => commands::probe::run(args).await,
            Command::Config(args) => commands::config::run(args).await,
            Command::Render(args) => commands::render::run(args).await,
            Command::Proxy(args) => commands::proxy::run(args).await,
        }
    });
    ExitCode::from(code)
}
