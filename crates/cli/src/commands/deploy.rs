//! `slipway deploy [-f FILE...] [-p PROJECT] [--env ENV] [--tag T] [--dry-run] [--json]` and the
//! target arguments shared with `status`, `history`, `rollback` and `prune`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use slipway::backup::{BackupBeforeDeploy, BackupStore};
use slipway::compose::{load, LoadOptions};
use slipway::deploy::{DeployEvent, DeployOptions, Deployer, DockerHost};
use slipway::stack::StackSpec;
use slipway::{Event, Observer};

use crate::output;

/// Where and what: compose files, project, engine.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Compose file(s), merged in order (default: compose.yaml in the current directory).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name (default: the compose file's `name:` or its directory).
    #[arg(short = 'p', long = "project-name")]
    pub project: Option<String>,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    pub engine: crate::engine_args::EngineArgs,
    /// The kind of target: `host` (one engine, the default) or `swarm` (the engine is a Swarm
    /// manager); default: the compose file's `x-slipway: {target: ...}`, else host.
    #[arg(long = "target", value_name = "KIND")]
    pub kind: Option<super::swarm::TargetKind>,
}

impl Target {
    /// The engine.
    pub async fn host(&self) -> Result<DockerHost, slipway::Error> {
        let connection = self.engine.resolve().map_err(slipway::deploy::DeployError::from)?;
        Ok(DockerHost::connect(&connection).await?)
    }

    /// The project name: `-p`, else the stack's.
    pub fn project(&self) -> Result<String, slipway::Error> {
        if let Some(p) = &self.project {
            return Ok(p.clone());
        }
        Ok(load_stack(&self.files, None, None)?.name)
    }
}

/// Load the stack through the compose loader (`--tag` sets `IMAGE_TAG` for interpolation). A
/// `.json` file is taken as an already resolved `StackSpec` (what `deploy --dry-run --json` prints
/// under `stack`).
pub fn load_stack(files: &[PathBuf], project: Option<&str>, tag: Option<&str>) -> Result<StackSpec, slipway::Error> {
    if !files.is_empty() && files.iter().all(|f| f.extension().is_some_and(|e| e == "json")) {
        let mut stack: Option<StackSpec> = None;
        for f in files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| invalid(format!("cannot read stack file {}: {e}", f.display())))?;
            stack = Some(serde_json::from_str(&text).map_err(|e| invalid(format!("stack file {}: {e}", f.display())))?);
        }
        let mut stack = stack.ok_or_else(|| invalid("no stack file".into()))?;
        if let Some(p) = project {
            stack.name = p.to_string();
        }
        return Ok(stack);
    }
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    if let Some(t) = tag {
        env.insert("IMAGE_TAG".into(), t.to_string());
    }
    let mut opts = LoadOptions::new(files.to_vec()).environment(env);
    if let Some(p) = project {
        opts = opts.project(p);
    }
    let loaded = load(&opts)?;
    for w in &loaded.warnings {
        eprintln!("slipway: warning: {w}");
    }
    Ok(loaded.stack)
}

fn parse_pull_policy(s: &str) -> Result<slipway::stack::PullPolicy, String> {
    slipway::stack::PullPolicy::parse(s)
}

fn invalid(msg: String) -> slipway::Error {
    slipway::Error::from(slipway::deploy::DeployError::Invalid(msg))
}

/// Arguments of `slipway deploy`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway deploy -f compose.yaml --env production --tag v1.4.2\n  slipway deploy --dry-run --json"
)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Environment for the policy (production refuses `latest` and moving tags).
    #[arg(long, default_value = "default")]
    env: String,
    /// Image tag: sets IMAGE_TAG for interpolation and the release's version.
    #[arg(long)]
    tag: Option<String>,
    /// Print the plan, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How tags become digests for every service, over the stack's `pull_policy`: always (the
    /// registry), missing (the engine's image when present), never (only the engine's images).
    #[arg(long, value_name = "POLICY", value_parser = parse_pull_policy)]
    pull: Option<slipway::stack::PullPolicy>,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// Wait this long for another deploy's lock (e.g. 30s); default: refuse at once.
    #[arg(long, value_parser = humantime::parse_duration)]
    lock_wait: Option<Duration>,
    /// Releases whose containers and images are kept.
    #[arg(long, default_value_t = 5)]
    retain: usize,
    /// Extra environment policies (TOML or JSON) merged over the built-in ones.
    #[arg(long, value_name = "FILE", env = "SLIPWAY_POLICY_FILE")]
    policy_file: Option<PathBuf>,
    /// Skip the database backup the environment's policy asks for (production does).
    #[arg(long)]
    no_backup: bool,
    /// Where pre-deploy backups go (default: $SLIPWAY_BACKUP_DIR, /var/lib/slipway/backups as root, else ~/.local/share/slipway/backups).
    #[arg(long, value_name = "DIR")]
    backup_dir: Option<PathBuf>,
}

/// Prints deploy progress on stderr (one line per step).
pub struct Progress;

impl Observer for Progress {
    fn event(&self, event: &Event) {
        let Event::Deploy(e) = event else { return };
        match e {
            DeployEvent::StepStarted { index, total, description } => eprintln!("[{index}/{total}] {description} ..."),
            DeployEvent::StepDone { index, description, millis, .. } => {
                eprintln!("[{index}] {description}: done in {millis} ms")
            }
            DeployEvent::StepFailed { description, reason } => eprintln!("FAILED {description}: {reason}"),
            DeployEvent::Undo { description } => eprintln!("undo: {description}"),
            DeployEvent::LockWaiting { holder } => eprintln!("waiting for the deploy lock held by {holder}"),
            DeployEvent::StaleLock { holder, reason } => {
                eprintln!("stale deploy lock of {holder} taken over: {reason}")
            }
            DeployEvent::Resolved { service, image, pinned, from } if from != "written" => {
                eprintln!("{service}: {image} -> {pinned} ({from})")
            }
            DeployEvent::Message { text } => eprintln!("{text}"),
            DeployEvent::HookDone { hook, command, exit_code, output } => {
                eprintln!("{hook} hook `{command}` exited with {exit_code}");
                for l in output {
                    eprintln!("  | {l}");
                }
            }
            DeployEvent::OneOffDone { service, exit_code, logs } => {
                eprintln!("one-off {service} exited with {exit_code}");
                for l in logs {
                    eprintln!("  | {l}");
                }
            }
            _ => {}
        }
    }
}

/// The options from flags.
pub fn options(env: &str, tag: Option<&str>, lock_wait: Option<Duration>, retain: usize) -> DeployOptions {
    DeployOptions::default()
        .env(env)
        .version(tag.map(str::to_string))
        .lock_wait(lock_wait.unwrap_or_default())
        .retain(retain)
}

/// Run `slipway deploy`.
pub async fn run(args: Args) -> u8 {
    match deploy(&args).await {
        Ok(code) => code,
        Err(e) => output::report_error(&e),
    }
}

async fn deploy(args: &Args) -> Result<u8, slipway::Error> {
    let stack = load_stack(&args.target.files, args.target.project.as_deref(), args.tag.as_deref())?;
    let host = args.target.host().await?;
    let policies = slipway::policy::EnvironmentPolicies::builtin_with_file(args.policy_file.as_deref())?;
    let mut opts = options(&args.env, args.tag.as_deref(), args.lock_wait, args.retain)
        .policy(Arc::new(policies.clone()))
        .pull(args.pull);
    if super::swarm::wanted(&args.target, Some(&stack)) {
        return super::swarm::deploy(&args.target, &stack, &opts, args.dry_run, args.json).await;
    }
    if let (false, false, Ok(policy)) = (args.no_backup, args.dry_run, policies.get(&args.env)) {
        let docker = host.docker().clone();
        let store = BackupStore::new(args.backup_dir.clone().unwrap_or_else(slipway::backup::default_backup_dir));
        if let Some(hook) = BackupBeforeDeploy::for_policy(policy, docker, store, Arc::new(Progress)) {
            opts = opts.before_change(hook);
        }
    }
    if args.dry_run {
        let plan = host.plan(&stack, &opts).await?;
        if args.json {
            output::json_line(&serde_json::json!({ "plan": plan, "stack": stack }));
        } else if plan.steps.is_empty() {
            println!("{}: nothing to do", stack.name);
        } else {
            for (i, s) in plan.steps.iter().enumerate() {
                println!("{:>3}. {}", i + 1, s.describe());
            }
        }
        return Ok(0);
    }
    let out = host.apply(&stack, &opts, &Progress).await?;
    if args.json {
        output::json_line(&serde_json::json!({
            "project": stack.name,
            "release": out.release,
            "steps": out.plan.steps.len(),
        }));
    } else {
        match &out.release {
            None => println!("{}: nothing to do (the running stack is what was asked)", stack.name),
            Some(r) => println!(
                "{}: release {} deployed ({} steps){}",
                stack.name,
                r.id,
                out.plan.steps.len(),
                r.version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default()
            ),
        }
    }
    Ok(0)
}
