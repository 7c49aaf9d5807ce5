//! `slipway deploy [-f FILE...] [-p PROJECT] [--env ENV] [--tag T] [--dry-run] [--json]` and the
//! target arguments shared with `status`, `history`, `rollback` and `prune`.

use std::path::PathBuf;
use std::time::Duration;

use slipway::compose::LoadOptions;
use slipway::deploy::{BackupChoice, DeployEvent, DeployOptions, DeployRequest, Deployer, DockerHost};
use slipway::stack::StackSpec;
use slipway::{Event, Observer};

use crate::output;
use crate::signals::{cancel_on_signals, Trail};

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
    /// With `--target kubernetes`, `--context` names the kubeconfig context.
    #[command(flatten)]
    pub engine: crate::engine_args::EngineArgs,
    /// The kind of target: `host` (one engine, the default), `swarm` (the engine is a Swarm
    /// manager) or `kubernetes`; default: the compose file's `x-slipway: {target: ...}`, else host.
    #[arg(long = "target", value_name = "KIND")]
    pub kind: Option<super::swarm::TargetKind>,
    /// `--namespace` (kubernetes room).
    #[command(flatten)]
    pub kube: super::kubernetes::KubeTarget,
    /// `--with-registry-auth` (swarm room).
    #[command(flatten)]
    pub swarm: super::swarm::SwarmArgs,
}

impl Target {
    /// `--target kubernetes` was given.
    pub fn is_kubernetes(&self) -> bool {
        self.kind == Some(super::swarm::TargetKind::Kubernetes)
    }

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
/// `.json` file is taken as an already resolved `StackSpec` (`deploy --dry-run --json` prints one
/// under `stack`, with environment values left out).
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
    let mut opts = LoadOptions::new(files.to_vec());
    if let Some(p) = project {
        opts = opts.project(p);
    }
    let loaded = slipway::deploy::load_for_deploy(&opts, tag)?;
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

/// The request flags deploy and rollback share: the same names as `DeployRequest` and Python's
/// keyword arguments, with the same meaning.
#[derive(clap::Args, Clone, Debug)]
pub struct RequestArgs {
    /// Environment whose policy applies: pins (production refuses `latest` and moving tags) and
    /// the backup before any change (production takes one).
    #[arg(long, default_value = "default")]
    pub env: String,
    /// Wait this long for another deploy's lock (e.g. 30s); default: refuse at once.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub lock_wait: Option<Duration>,
    /// The deploy lock's lease (renewed while this deploy runs; if it is killed, another deploy
    /// takes the lock over one lease plus a quarter of it later).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    pub lease: Duration,
    /// Releases whose containers and images are kept.
    #[arg(long, default_value_t = 5)]
    pub retain: usize,
    /// Extra environment policies (TOML or JSON) merged over the built-in ones.
    #[arg(long, value_name = "FILE", env = "SLIPWAY_POLICY_FILE")]
    pub policy_file: Option<PathBuf>,
    /// Skip the database backup the environment's policy asks for (refused, exit 3, by a policy
    /// with `allow_no_backup = false`).
    #[arg(long, conflicts_with = "backup")]
    pub no_backup: bool,
    /// Take a database backup before any change even when the policy does not ask for one.
    #[arg(long)]
    pub backup: bool,
    /// Where pre-deploy backups go (default: $SLIPWAY_BACKUP_DIR, /var/lib/slipway/backups as root, else ~/.local/share/slipway/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

impl RequestArgs {
    /// The core's request for these flags (and `tag`).
    pub fn request(&self, tag: Option<&str>) -> DeployRequest {
        let mut req = DeployRequest::default();
        req.env = self.env.clone();
        req.tag = tag.map(str::to_string);
        req.lock_wait = self.lock_wait.unwrap_or_default();
        req.lease = self.lease;
        req.retain = self.retain;
        req.policy_file = self.policy_file.clone();
        req.backup_dir = self.backup_dir.clone();
        req.backup = match (self.no_backup, self.backup) {
            (true, _) => BackupChoice::Skip,
            (_, true) => BackupChoice::Always,
            _ => BackupChoice::AsPolicy,
        };
        req
    }
}

/// Arguments of `slipway deploy`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway deploy -f compose.yaml --env production --tag v1.4.2\n  slipway deploy --dry-run --json\n\nCtrl-C or SIGTERM stops the current step, undoes the deploy and releases the lock (exit 1); a second one aborts the undo."
)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    request: RequestArgs,
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
}

/// Prints deploy progress on stderr (one line per step) and keeps the trail of finished steps
/// for the second-signal warning.
#[derive(Clone, Default)]
pub struct Progress {
    trail: Trail,
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        let Event::Deploy(e) = event else { return };
        match e {
            DeployEvent::StepStarted { index, total, description } => eprintln!("[{index}/{total}] {description} ..."),
            DeployEvent::StepDone { index, description, millis, .. } => {
                self.trail.done(description);
                eprintln!("[{index}] {description}: done in {millis} ms")
            }
            DeployEvent::StepFailed { description, reason } => eprintln!("FAILED {description}: {reason}"),
            DeployEvent::Undo { description } => {
                self.trail.undone();
                eprintln!("undo: {description}")
            }
            DeployEvent::UndoFailed { description, reason, finish } => {
                eprintln!("UNDO FAILED {description}: {reason}; finish with: {finish}")
            }
            DeployEvent::Cancelled { step } => eprintln!("cancelled during {step}; undoing"),
            DeployEvent::PostDeployHookFailed { index, command, reason } => {
                eprintln!("post-deploy hook {index} `{command}` failed: {reason}")
            }
            DeployEvent::LockWaiting { holder } => eprintln!("waiting for the deploy lock held by {holder}"),
            DeployEvent::StaleLock { holder, reason } => {
                eprintln!("stale deploy lock of {holder} taken over: {reason}")
            }
            DeployEvent::Resolved { service, image, pinned, from } if from != "written" => {
                eprintln!("{service}: {image} -> {pinned} ({from})")
            }
            DeployEvent::Message { text } => eprintln!("{text}"),
            DeployEvent::HookDone { hook, command, ran_on, exit_code, output } => {
                eprintln!("{hook} hook `{command}` ({ran_on}) exited with {exit_code}");
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

/// The options for a request, cancelled by the first SIGINT/SIGTERM (see `signals.rs`).
pub fn cancellable_options(
    req: &DeployRequest,
    project: &str,
    progress: &Progress,
) -> Result<DeployOptions, slipway::Error> {
    let token = slipway::deploy::CancellationToken::new();
    cancel_on_signals(token.clone(), project.to_string(), progress.trail.clone());
    Ok(req.options()?.cancel(token))
}

/// Run `slipway deploy`.
pub async fn run(args: Args) -> u8 {
    match deploy(&args).await {
        Ok(code) => code,
        Err(e) => output::report_error(&e),
    }
}

async fn deploy(args: &Args) -> Result<u8, slipway::Error> {
    let mut req = args.request.request(args.tag.as_deref());
    req.pull = args.pull;
    let stack = load_stack(&args.target.files, args.target.project.as_deref(), req.tag.as_deref())?;
    let progress = Progress::default();
    let opts = cancellable_options(&req, &stack.name, &progress)?;
    if args.target.is_kubernetes() {
        return super::kubernetes::deploy(&args.target, &stack, &opts, args.dry_run, args.json).await;
    }
    if super::swarm::wanted(&args.target, Some(&stack)) {
        return super::swarm::deploy(&args.target, &stack, &opts, args.dry_run, args.json).await;
    }
    let host = args.target.host().await?;
    if args.dry_run {
        let plan = host.plan(&stack, &opts).await?;
        if args.json {
            // No environment value in `--json` output: the stack shows the variables' names only.
            let stack = slipway::deploy::without_env_values(&stack);
            output::json_line(&serde_json::json!({ "plan": plan, "stack": stack }));
        } else if plan.steps.is_empty() {
            println!("{}: nothing to do", stack.name);
        } else {
            for (i, s) in plan.steps.iter().enumerate() {
                println!("{:>3}. {}", i + 1, s.describe());
            }
            for note in &plan.notes {
                println!("note: {note}");
            }
        }
        return Ok(0);
    }
    let out = match host.apply(&stack, &opts, &progress).await {
        Ok(out) => out,
        Err(e) => {
            if args.json {
                output::failure_json(&stack.name, &e);
            }
            return Err(e);
        }
    };
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
