//! `slipway policy check|show`: judge references against an environment's policy.

use std::path::PathBuf;

use slipway::policy::{EnvironmentPolicies, Verdict};
use slipway::ImageRef;

use crate::output;

const CHECK_EXAMPLES: &str = "\
Examples:
  slipway policy check --env production registry.example.com/app:v1.4.2
  slipway policy check --env production app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  slipway policy check --env production app:latest app:sha-3f2c1a9    # exit 3: refused
  slipway policy check --env staging app:staging-latest --json
  slipway policy check --env prod app:v1.4.2    # exit 2: unknown environment

Built-in environments: production (accepts vX.Y.Z tags and digests only) and staging (accepts all).
A reference with a tag and a digest is judged by its digest. Define other environments, or
replace these, with --policy-file (see `slipway policy show` for the format).
Output: one line per accepted reference on stdout (`accepted CANONICAL (rule NAME)`), one reason per
refused reference on stderr. With --json, one object per reference on stdout:
  {\"reference\", \"canonical\", \"environment\", \"accepted\", \"rule\", \"reason\", \"fix\"}
(reason and fix are null when accepted).
Exit codes: 0 all accepted, 2 bad input (reference, environment, policy file), 3 refused.";

const SHOW_EXAMPLES: &str = "\
Examples:
  slipway policy show
  slipway policy show --env production

Prints the policies as TOML: the format --policy-file accepts (JSON with the same shape works too).";

/// Arguments of `slipway policy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(clap::Subcommand)]
enum PolicyCommand {
    /// Check references against an environment's policy (exit 3 if any is refused).
    #[command(term_width = 0, after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Print the environment policies (built-in, plus --policy-file) as TOML.
    #[command(term_width = 0, after_help = SHOW_EXAMPLES)]
    Show(ShowArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The environment whose policy applies (production, staging, or one from --policy-file).
    #[arg(long)]
    env: String,
    /// A TOML or JSON (.json) file defining environments; they replace built-ins of the same name.
    #[arg(long, value_name = "FILE", env = "SLIPWAY_POLICY_FILE")]
    policy_file: Option<PathBuf>,
    /// One JSON object per reference on stdout.
    #[arg(long)]
    json: bool,
    /// References to check.
    #[arg(required = true, value_name = "REF")]
    refs: Vec<String>,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Show only this environment.
    #[arg(long)]
    env: Option<String>,
    /// A TOML or JSON (.json) file defining environments.
    #[arg(long, value_name = "FILE", env = "SLIPWAY_POLICY_FILE")]
    policy_file: Option<PathBuf>,
}

/// Run `slipway policy ...`.
pub async fn run(args: Args) -> u8 {
    match args.command {
        PolicyCommand::Check(a) => check(a),
        PolicyCommand::Show(a) => show(a),
    }
}

fn check(args: CheckArgs) -> u8 {
    let policies = match EnvironmentPolicies::builtin_with_file(args.policy_file.as_deref()) {
        Ok(p) => p,
        Err(e) => return output::report_error(&e.into()),
    };
    let policy = match policies.get(&args.env) {
        Ok(p) => p,
        Err(e) => return output::report_error(&e.into()),
    };
    let mut parsed = Vec::new();
    let mut bad_input = false;
    for s in &args.refs {
        match ImageRef::parse(s) {
            Ok(r) => parsed.push((s, r)),
            Err(e) => {
                output::report_error(&e.into());
                bad_input = true;
            }
        }
    }
    if bad_input {
        return 2;
    }
    let mut refused = false;
    for (given, r) in &parsed {
        let verdict = policy.evaluate(r);
        if args.json {
            let (accepted, rule, reason, fix) = match &verdict {
                Verdict::Accepted { rule } => (true, rule.clone(), None, None),
                Verdict::Refused(f) => (false, f.rule.clone(), Some(f.reason.clone()), f.fix.clone()),
                _ => (false, String::new(), None, None),
            };
            output::json_line(&serde_json::json!({
                "reference": given,
                "canonical": r.to_string(),
                "environment": policy.name,
                "accepted": accepted,
                "rule": rule,
                "reason": reason,
                "fix": fix,
            }));
        }
        match verdict {
            Verdict::Accepted { rule } if !args.json => println!("accepted {r} (rule {rule})"),
            Verdict::Refused(refusal) => {
                eprintln!("slipway: {refusal}");
                refused = true;
            }
            _ => {}
        }
    }
    if refused {
        3
    } else {
        0
    }
}

fn show(args: ShowArgs) -> u8 {
    let mut policies = match EnvironmentPolicies::builtin_with_file(args.policy_file.as_deref()) {
        Ok(p) => p,
        Err(e) => return output::report_error(&e.into()),
    };
    if let Some(env) = &args.env {
        match policies.get(env) {
            Ok(p) => policies = EnvironmentPolicies::empty().with(p.clone()),
            Err(e) => return output::report_error(&e.into()),
        }
    }
    match policies.to_toml() {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => output::report_error(&e.into()),
    }
}
