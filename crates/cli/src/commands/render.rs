//! `slipway render --target kubernetes [-f FILE...] [--env-file F] [-p P] [--profile P]
//! [--namespace N] [-o DIR] [--strict] [--ingress ingress|traefik] [--ingress-class C]`:
//! the compose stack as Kubernetes manifests (one YAML stream); warnings go to stderr.

use std::path::PathBuf;

use slipway::compose::load;
use slipway::kubernetes::{render, IngressKind, RenderOptions};

/// What to render for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// Kubernetes objects (Deployments, Services, Jobs, Ingress, ...).
    Kubernetes,
}

/// Which routing object.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Ingress {
    /// networking.k8s.io/v1 Ingress with Traefik's annotations.
    Ingress,
    /// Traefik's IngressRoute (traefik.io/v1alpha1).
    Traefik,
}

/// Arguments of `slipway render`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway render --target kubernetes -f tests/kubernetes/stacks/production/compose.yml --namespace shop\n  slipway render --target kubernetes -f tests/kubernetes/stacks/production/compose.yml --ingress traefik -o /tmp/k8s\n  slipway render --target kubernetes -f tests/kubernetes/stacks/production/compose.yml --strict --json"
)]
pub struct Args {
    /// The target platform.
    #[arg(long, value_enum)]
    target: Target,
    #[command(flatten)]
    load: crate::load_args::LoadArgs,
    /// metadata.namespace of every object (default: none, the context's namespace at apply time).
    #[arg(long)]
    namespace: Option<String>,
    /// Write DIR/<project>.yaml instead of printing the stream.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Keys that cannot map to Kubernetes are errors (exit 2), not warnings.
    #[arg(long)]
    strict: bool,
    /// Routing objects from the Traefik labels.
    #[arg(long, value_enum, default_value = "ingress")]
    ingress: Ingress,
    /// spec.ingressClassName of Ingress objects.
    #[arg(long, default_value = "traefik")]
    ingress_class: String,
    /// Print the objects and warnings as one JSON document instead of YAML.
    #[arg(long)]
    json: bool,
}

/// Run `slipway render`.
pub async fn run(args: Args) -> u8 {
    let Target::Kubernetes = args.target;
    let opts = args.load.options();
    let loaded = match load(&opts) {
        Ok(l) => l,
        Err(e) => return crate::output::report_error(&slipway::Error::from(e)),
    };
    for w in &loaded.warnings {
        eprintln!("slipway: warning: {w}");
    }
    let mut ropts = RenderOptions::new()
        .strict(args.strict)
        .ingress(match args.ingress {
            Ingress::Ingress => IngressKind::Ingress,
            Ingress::Traefik => IngressKind::Traefik,
        })
        .ingress_class(args.ingress_class)
        .environment(std::env::vars().collect());
    if let Some(ns) = args.namespace {
        ropts = ropts.namespace(ns);
    }
    let rendered = match render(&loaded.stack, &ropts) {
        Ok(r) => r,
        Err(e) => return crate::output::report_error(&slipway::Error::from(e)),
    };
    for w in &rendered.warnings {
        eprintln!("slipway: warning: {w}");
    }
    let text = if args.json {
        let objects: Vec<&serde_json::Value> = rendered.objects.iter().map(|m| &m.body).collect();
        let doc = serde_json::json!({"objects": objects, "warnings": rendered.warnings});
        format!("{doc}\n")
    } else {
        rendered.to_yaml()
    };
    match args.output {
        Some(dir) => {
            let path = dir.join(format!("{}.yaml", loaded.stack.name));
            let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text));
            match written {
                Ok(()) => {
                    eprintln!("slipway: wrote {} object(s) to {}", rendered.objects.len(), path.display());
                    0
                }
                Err(e) => {
                    eprintln!("slipway: cannot write {}: {e}", path.display());
                    1
                }
            }
        }
        None => {
            print!("{text}");
            0
        }
    }
}
