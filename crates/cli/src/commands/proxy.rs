//! `slipway proxy up | status | logs | down`: the managed edge (Traefik v3 as `slipway-proxy` on
//! the engine's host). Parses flags into `slipway::proxy::ProxySettings`, calls the core, renders.

use std::path::PathBuf;

use slipway::events::{Event, Observer};
use slipway::proxy::{ManagedProxy, ProxyEvent, ProxySettings, UpAction, DEFAULT_IMAGE, DEFAULT_NAME};

use crate::engine_args::EngineArgs;
use crate::output;

const EXAMPLES: &str = "Examples:
  slipway proxy up --acme-email ops@example.com --redirect-https
  slipway proxy up -H ssh://deploy@web1 --http :80 --https :443 --acme-email ops@example.com
  slipway proxy up --http 127.0.0.1:8080 --https 127.0.0.1:8443          # local trial, no ACME
  slipway proxy up --acme-email ops@example.com --acme-server https://ca.internal/acme/directory --acme-ca ca.pem
  slipway proxy status --json
  slipway proxy logs --tail 50
  slipway proxy down

Routed services (Traefik labels: traefik.enable=true, traefik.http.routers.*) of any stack deployed
to the same engine then switch through this proxy with zero downtime; no x-slipway.traefik needed.";

/// Arguments of `slipway proxy`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// Flags every proxy subcommand takes.
#[derive(clap::Args)]
struct Common {
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: EngineArgs,
    /// The proxy's container name (its volumes are NAME-dynamic and NAME-acme).
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Run the proxy (idempotent: same settings = nothing to do; changed settings = recreated).
    Up(UpArgs),
    /// What runs, with which settings, and what Traefik's API says.
    Status {
        #[command(flatten)]
        common: Common,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The proxy's log.
    Logs {
        #[command(flatten)]
        common: Common,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Stop and remove the proxy (its configuration and certificate volumes are kept).
    Down {
        #[command(flatten)]
        common: Common,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct UpArgs {
    #[command(flatten)]
    common: Common,
    /// The Traefik v3 image.
    #[arg(long, value_name = "REF", default_value = DEFAULT_IMAGE)]
    image: String,
    /// Where entry point `web` (HTTP) is published: PORT, :PORT, IP:PORT.
    #[arg(long, value_name = "ADDR", default_value = ":80")]
    http: String,
    /// Where entry point `websecure` (HTTPS) is published.
    #[arg(long, value_name = "ADDR", default_value = ":443")]
    https: String,
    /// Redirect every HTTP request to HTTPS.
    #[arg(long)]
    redirect_https: bool,
    /// ACME account email: turns on the certificate resolver `letsencrypt`.
    #[arg(long, value_name = "E")]
    acme_email: Option<String>,
    /// ACME directory URL (default Let's Encrypt production).
    #[arg(long, value_name = "URL")]
    acme_server: Option<String>,
    /// Use Let's Encrypt's staging directory.
    #[arg(long)]
    acme_staging: bool,
    /// An extra CA (PEM) the proxy trusts for the ACME server (private ACME servers).
    #[arg(long, value_name = "FILE")]
    acme_ca: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Progress lines on stderr.
struct Progress;

impl Observer for Progress {
    fn event(&self, event: &Event) {
        let Event::Proxy(e) = event else { return };
        match e {
            ProxyEvent::Pulling { image } => eprintln!("pulling {image} ..."),
            ProxyEvent::VolumeCreated { volume } => eprintln!("volume {volume} created"),
            ProxyEvent::Recreating { name, from_hash, to_hash } => eprintln!(
                "{name}: settings changed ({from_hash} -> {to_hash}): recreating; no request is served until the new proxy is ready"
            ),
            ProxyEvent::Ready { name, waited_ms } => eprintln!("{name}: ready in {waited_ms} ms"),
            ProxyEvent::Removed { name } => eprintln!("{name}: removed"),
            _ => {}
        }
    }
}

async fn proxy(common: &Common) -> Result<ManagedProxy, slipway::Error> {
    let connection = common.engine.resolve().map_err(slipway::proxy::ProxyError::from)?;
    Ok(ManagedProxy::connect(&connection).await?)
}

/// Run `slipway proxy ...`.
pub async fn run(args: Args) -> u8 {
    let result = match args.action {
        Action::Up(up) => run_up(up).await,
        Action::Status { common, json } => status(&common, json).await,
        Action::Logs { common, tail } => logs(&common, tail).await,
        Action::Down { common, json } => down(&common, json).await,
    };
    result.unwrap_or_else(|e| output::report_error(&e))
}

async fn run_up(args: UpArgs) -> Result<u8, slipway::Error> {
    let settings = ProxySettings::new()
        .name(args.common.name.clone())
        .image(args.image)
        .http(args.http)
        .https(args.https)
        .redirect_https(args.redirect_https)
        .acme_email(args.acme_email)
        .acme_server(args.acme_server)
        .acme_staging(args.acme_staging)
        .acme_ca(args.acme_ca);
    // Bad flags fail before anything connects.
    settings.resolve()?;
    let up = proxy(&args.common).await?.up(&settings, &Progress).await?;
    if args.json {
        output::json_line(&serde_json::to_value(&up).unwrap_or_default());
        return Ok(0);
    }
    let what = match up.action {
        UpAction::Created => "started".to_string(),
        UpAction::Unchanged => "already running with these settings (nothing to do)".to_string(),
        UpAction::Started => "started again (same settings)".to_string(),
        UpAction::Recreated => {
            format!("recreated with the new settings; gap: {} ms without a proxy", up.gap_ms.unwrap_or_default())
        }
        _ => "done".to_string(),
    };
    println!("{}: {what} (http {}, https {}, image {})", up.name, up.http, up.https, up.image);
    Ok(0)
}

async fn status(common: &Common, json: bool) -> Result<u8, slipway::Error> {
    let st = proxy(common).await?.status(&common.name).await?;
    if json {
        output::json_line(&serde_json::to_value(&st).unwrap_or_default());
        return Ok(if st.running { 0 } else { 1 });
    }
    if !st.exists {
        println!("{}: not running on {} (start it with `slipway proxy up`)", st.name, st.host);
        return Ok(1);
    }
    println!(
        "{}: {} on {} (image {})",
        st.name,
        if st.running { "running" } else { "stopped" },
        st.host,
        st.image.as_deref().unwrap_or("?")
    );
    println!(
        "  http {}  https {}  redirect-https {}",
        st.http.as_deref().unwrap_or("?"),
        st.https.as_deref().unwrap_or("?"),
        st.redirect_https.unwrap_or(false)
    );
    match &st.acme {
        Some(a) => println!(
            "  acme: letsencrypt, email {}, server {}",
            a.get("email").and_then(|v| v.as_str()).unwrap_or("?"),
            a.get("server").and_then(|v| v.as_str()).unwrap_or("?")
        ),
        None => println!("  acme: off"),
    }
    println!("  networks: {}", st.networks.join(", "));
    if let Some(v) = &st.version {
        println!("  traefik {v}: {} routers, {} services", st.routers.unwrap_or(0), st.services.unwrap_or(0));
    }
    Ok(if st.running { 0 } else { 1 })
}

async fn logs(common: &Common, tail: Option<usize>) -> Result<u8, slipway::Error> {
    for line in proxy(common).await?.logs(&common.name, tail).await? {
        println!("{line}");
    }
    Ok(0)
}

async fn down(common: &Common, json: bool) -> Result<u8, slipway::Error> {
    let done = proxy(common).await?.down(&common.name, &Progress).await?;
    if json {
        output::json_line(&serde_json::to_value(&done).unwrap_or_default());
    } else if done.removed {
        println!("{}: stopped and removed (volumes kept: {})", done.name, done.kept_volumes.join(", "));
    } else {
        println!("{}: nothing to remove", done.name);
    }
    Ok(0)
}
