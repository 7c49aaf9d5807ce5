//! `slipway build [-f Dockerfile] [--target T] [--build-arg K=V...] [--label K=V...]
//! [--event E --sha S | -t REF...] [--push] CONTEXT` and
//! `slipway build --oci FILE [-o oci:DIR:TAG | --push REF | --load REF]`. Both print the digest.
//! `slipway build -f compose.yml [SERVICE...] [--push] [--event E --sha S | --version V]` builds
//! the compose project's `build:` services (a `-f` ending in `.yml`/`.yaml` is a compose file).

use std::path::PathBuf;

use slipway::build::{BuildEvent, DockerBuildRequest, EventRequest, OciBuildRequest};
use slipway::events::Event;

use crate::output;

const EXAMPLES: &str = "\
Examples:
  slipway build -t 127.0.0.1:5000/app:v1 --push .
  slipway build -f docker/Dockerfile --target runtime --build-arg VERSION=1.2.3 --label team=web -t app:dev .
  slipway build --event release --version 1.4.2 -t 127.0.0.1:5000/app --push .
  slipway build --oci image.toml -o oci:./out:v1
  slipway build --oci image.toml --load app:dev
  slipway build -f compose.yml --push                      # every service with build:, tagged as image:
  slipway build -f compose.yml web --event pre-release --sha 4f2a9c1e --push

Output: the digest (manifest digest when pushed or for --oci, else the image ID). With --json one line:
  {\"digest\", \"image_id\", \"manifest_digest\", \"tags\"}
With -f compose.yml: one line per image, `IMAGE DIGEST SERVICES`; with --json one line per image:
  {\"image\", \"services\", \"digest\", \"tags\"}
Build output goes to stderr (--quiet hides it).
Exit codes: 0 ok, 1 build failed, 2 bad input.";

/// Arguments of `slipway build`.
#[derive(clap::Args)]
#[command(disable_version_flag = true, after_help = EXAMPLES)]
pub struct Args {
    /// The Dockerfile (default CONTEXT/Dockerfile), or compose files (`*.yml`/`*.yaml`, repeatable).
    #[arg(short = 'f', long = "file", value_name = "DOCKERFILE|COMPOSE_FILE")]
    files: Vec<PathBuf>,
    /// Compose builds: `--env-file`.
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Compose builds: `--profile` (repeatable).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Compose builds: the project name.
    #[arg(short = 'p', long = "project-name")]
    project: Option<String>,
    /// Multi-stage target.
    #[arg(long)]
    target: Option<String>,
    /// Build argument (repeatable).
    #[arg(long = "build-arg", value_name = "K=V")]
    build_args: Vec<String>,
    /// Label (repeatable); OCI revision/version/created/source labels are added from git.
    #[arg(long = "label", value_name = "K=V")]
    labels: Vec<String>,
    /// Tag (repeatable); with --event, a repository that gets the policy's tags.
    #[arg(short = 't', long = "tag", value_name = "REF")]
    tags: Vec<String>,
    /// Build event for the tag policy: pre-release or release.
    #[arg(long, value_parser = ["pre-release", "release"])]
    event: Option<String>,
    /// Commit sha (pre-release; also the revision label).
    #[arg(long)]
    sha: Option<String>,
    /// Version X.Y.Z (release; also the version label).
    #[arg(long)]
    version: Option<String>,
    /// Also move `latest` (release).
    #[arg(long)]
    latest: bool,
    /// Push the tags (Dockerfile builds), or push to REF (--oci builds).
    #[arg(long, num_args = 0..=1, value_name = "REF")]
    push: Option<Option<String>>,
    /// Do not use the build cache.
    #[arg(long)]
    no_cache: bool,
    /// Target platform (where the engine supports it).
    #[arg(long)]
    platform: Option<String>,
    /// Build from a declarative TOML file without the engine.
    #[arg(long, value_name = "FILE")]
    oci: Option<PathBuf>,
    /// Write the --oci result to an OCI layout: oci:DIR:TAG.
    #[arg(short = 'o', long = "output", value_name = "oci:DIR:TAG")]
    output: Option<String>,
    /// Load the --oci result into the engine as REF.
    #[arg(long, value_name = "REF")]
    load: Option<String>,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// No build output on stderr.
    #[arg(long)]
    quiet: bool,
    /// The build context directory (Dockerfile builds), or the services to build (compose builds).
    #[arg(value_name = "CONTEXT|SERVICE")]
    positional: Vec<String>,
}

fn is_compose_file(p: &std::path::Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn invalid(message: String) -> u8 {
    output::report_error(&slipway::build::BuildError::Invalid(message).into())
}

/// Run `slipway build`.
pub async fn run(args: Args) -> u8 {
    let quiet = args.quiet;
    let observer = move |e: &Event| {
        if quiet {
            return;
        }
        if let Event::Build(b) = e {
            match b {
                BuildEvent::Step { step } => eprintln!("{step}"),
                BuildEvent::Output { line } => eprintln!("{line}"),
                BuildEvent::LayerBuilt { platform, digest, size } => {
                    eprintln!("layer {platform} {digest} {size} bytes")
                }
                BuildEvent::Tagged { reference } => eprintln!("tagged {reference}"),
                _ => {}
            }
        }
    };
    if args.files.first().is_some_and(|f| is_compose_file(f)) {
        return compose(args, &observer).await;
    }
    if args.files.len() > 1 || args.positional.len() > 1 {
        return invalid("one -f DOCKERFILE and one CONTEXT (several -f are compose files)".into());
    }
    let dockerfile = args.files.first().cloned();
    let context = args.positional.first().map(PathBuf::from);
    let result = if let Some(file) = args.oci {
        if context.is_some() || dockerfile.is_some() || !args.tags.is_empty() || args.event.is_some() {
            return invalid("--oci takes its inputs from the build file: no CONTEXT, -f, -t or --event".into());
        }
        let mut req = OciBuildRequest::new(file);
        req.output = args.output;
        req.load = args.load;
        req.engine = args.engine.options();
        req.push = match args.push {
            Some(Some(r)) => Some(r),
            Some(None) => return invalid("--oci with --push needs a REF".into()),
            None => None,
        };
        slipway::build::oci_build(&req, &observer).await
    } else {
        if args.output.is_some() || args.load.is_some() {
            return invalid("-o and --load apply to --oci builds".into());
        }
        // `--push CONTEXT`: clap reads the context as --push's value; take it back.
        let (push, context) = match (args.push, context) {
            (Some(Some(v)), None) => (true, Some(PathBuf::from(v))),
            (Some(Some(v)), Some(_)) => {
                return invalid(format!("--push takes no value for Dockerfile builds (got {v})"))
            }
            (p, c) => (p.is_some(), c),
        };
        let Some(context) = context else {
            return invalid("missing CONTEXT (or --oci FILE)".into());
        };
        let mut req = DockerBuildRequest::new(context);
        req.dockerfile = dockerfile;
        req.target = args.target;
        req.build_args = args.build_args;
        req.labels = args.labels;
        req.tags = args.tags;
        req.push = push;
        req.no_cache = args.no_cache;
        req.platform = args.platform;
        req.engine = args.engine.options();
        if let Some(event) = args.event {
            let mut e = EventRequest::new(event);
            e.sha = args.sha;
            e.version = args.version;
            e.latest = args.latest;
            req.event = Some(e);
        } else if args.sha.is_some() || args.version.is_some() || args.latest {
            return invalid("--sha, --version and --latest need --event".into());
        }
        slipway::build::docker_build(&req, &observer).await
    };
    match result {
        Ok(out) => {
            let digest = out.digest().map(|d| d.to_string()).unwrap_or_default();
            if args.json {
                output::json_line(&serde_json::json!({
                    "digest": digest,
                    "image_id": out.image_id.as_ref().map(|d| d.to_string()),
                    "manifest_digest": out.manifest_digest.as_ref().map(|d| d.to_string()),
                    "tags": out.tags,
                }));
            } else {
                println!("{digest}");
            }
            0
        }
        Err(e) => output::report_error(&e.into()),
    }
}

fn event_request(args: &Args) -> Result<Option<EventRequest>, u8> {
    match &args.event {
        Some(event) => {
            let mut e = EventRequest::new(event.clone());
            e.sha = args.sha.clone();
            e.version = args.version.clone();
            e.latest = args.latest;
            Ok(Some(e))
        }
        None if args.sha.is_some() || args.version.is_some() || args.latest => {
            Err(invalid("--sha, --version and --latest need --event".into()))
        }
        None => Ok(None),
    }
}

/// `slipway build -f compose.yml [SERVICE...]`.
async fn compose(args: Args, observer: &dyn slipway::events::Observer) -> u8 {
    if args.oci.is_some() || args.output.is_some() || args.load.is_some() || !args.tags.is_empty() {
        return invalid(
            "with -f COMPOSE_FILE the images come from the compose file: no --oci, -o, --load or -t".into(),
        );
    }
    let event = match event_request(&args) {
        Ok(e) => e,
        Err(code) => return code,
    };
    // `--push SERVICE`: clap reads the first service as --push's value; take it back.
    let mut services = args.positional.clone();
    let push = match &args.push {
        Some(Some(v)) => {
            services.insert(0, v.clone());
            true
        }
        Some(None) => true,
        None => false,
    };
    let mut load = slipway::compose::LoadOptions::new(args.files.clone()).profiles(args.profiles.clone());
    if let Some(f) = &args.env_file {
        load = load.env_file(f);
    }
    if let Some(p) = &args.project {
        load = load.project(p);
    }
    let mut req = slipway::build::ComposeBuildRequest::default();
    req.load = load;
    req.services = services;
    req.push = push;
    req.event = event;
    req.no_cache = args.no_cache;
    req.engine = args.engine.options();
    match slipway::build::compose_build(&req, observer).await {
        Ok(images) => {
            for i in images {
                let digest = i.output.digest().map(|d| d.to_string()).unwrap_or_default();
                if args.json {
                    output::json_line(&serde_json::json!({
                        "image": i.image,
                        "services": i.services,
                        "digest": digest,
                        "tags": i.output.tags,
                    }));
                } else {
                    println!("{} {digest} {}", i.image, i.services.join(","));
                }
            }
            0
        }
        Err(e) => output::report_error(&e.into()),
    }
}
