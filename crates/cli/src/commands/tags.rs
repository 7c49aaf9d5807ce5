//! `slipway tags --event pre-release|release ...`: the tags a build event gets (from the core's `TagPolicy`).

use slipway::policy::{today_utc, TagPolicy, TagRequest};

use crate::output;

const EXAMPLES: &str = "\
Examples:
  slipway tags --event pre-release --sha 3f2c1a9e8b7d6c5b --date 20260131
  slipway tags --event pre-release --sha 3f2c1a9 --date 20260131 --existing test-20260131-1 test-20260131-2 --json
  slipway tags --event release --version 1.4.2
  slipway tags --event release --version v1.4.2 --latest --json
  slipway tags --event release --version 1.4    # exit 2: not X.Y.Z

Output: the tags, one per line, most specific first. With --json, one line:
  {\"event\": \"pre-release\" | \"release\", \"tags\": [\"...\", ...]}
pre-release gives sha-<7>, test-YYYYMMDD-N (N = 1 + the highest N of that day in --existing, else 1)
and staging-latest; --date defaults to today (UTC). release gives vX.Y.Z, plus latest with --latest.
Exit codes: 0 ok, 2 bad input.";

/// Arguments of `slipway tags`.
#[derive(clap::Args)]
#[command(disable_version_flag = true, term_width = 0, after_help = EXAMPLES)]
pub struct Args {
    /// The build event.
    #[arg(long, value_parser = ["pre-release", "release"])]
    event: String,
    /// Commit sha, 7 to 64 hex characters (pre-release).
    #[arg(long)]
    sha: Option<String>,
    /// Build day as YYYYMMDD (pre-release; default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// Tags already in the repository (pre-release), to number test-YYYYMMDD-N.
    #[arg(long, num_args = 1.., value_name = "TAG")]
    existing: Vec<String>,
    /// Release version X.Y.Z or vX.Y.Z (release).
    #[arg(long)]
    version: Option<String>,
    /// Also move `latest` (release).
    #[arg(long)]
    latest: bool,
    /// One JSON object: {"event", "tags"}.
    #[arg(long)]
    json: bool,
}

/// Run `slipway tags`: print the tags, or exit 2 on bad input.
pub async fn run(args: Args) -> u8 {
    let mut request = TagRequest::new(&args.event);
    request.sha = args.sha;
    request.date = args.date;
    request.existing = args.existing;
    request.version = args.version;
    request.latest = args.latest;
    let event = match request.into_event(today_utc()) {
        Ok(e) => e,
        Err(e) => return output::report_error(&e.into()),
    };
    let tags = TagPolicy::new().tags_for(&event);
    if args.json {
        output::json_line(&serde_json::json!({ "event": event.kind().as_str(), "tags": tags }));
    } else {
        for t in tags {
            println!("{t}");
        }
    }
    0
}
