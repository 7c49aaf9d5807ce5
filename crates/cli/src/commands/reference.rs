//! `slipway ref [--json] REF...`

use crate::output;

const EXAMPLES: &str = "\
Examples:
  slipway ref redis
  slipway ref --json 127.0.0.1:5000/team/app:v1.2.3
  slipway ref user/app:1.0 index.docker.io/library/redis:7
  slipway ref Redis    # exit 2: repository names are lowercase

Output: the canonical form, one line per reference (docker.io/library/redis:latest). With --json,
one object per line: {\"registry\", \"repository\", \"tag\", \"digest\", \"canonical\"}
(tag and digest are null when absent). References are normalised as Docker Engine 20.10 does.
Exit codes: 0 ok, 2 an invalid reference (named on stderr with the reason).";

/// Arguments of `slipway ref`.
#[derive(clap::Args)]
#[command(term_width = 0, after_help = EXAMPLES)]
pub struct Args {
    /// One JSON object per line with keys registry, repository, tag, digest, canonical.
    #[arg(long)]
    json: bool,
    /// References to parse.
    #[arg(required = true)]
    refs: Vec<String>,
}

/// Run `slipway ref`: exit 2 if any reference is invalid.
pub async fn run(args: Args) -> u8 {
    let mut code = 0;
    for s in &args.refs {
        match slipway::ImageRef::parse(s) {
            Ok(r) => {
                if args.json {
                    output::json_line(&serde_json::json!({
                        "registry": r.registry(),
                        "repository": r.repository(),
                        "tag": r.tag(),
                        "digest": r.digest().map(|d| d.to_string()),
                        "canonical": r.to_string(),
                    }));
                } else {
                    println!("{r}");
                }
            }
            Err(e) => {
                code = output::report_error(&slipway::Error::from(e)).max(code);
            }
        }
    }
    code
}
