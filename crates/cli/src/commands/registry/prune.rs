//! `slipway prune REPOSITORY --keep N --match GLOB [--protect GLOB...] [--apply]`: delete matching
//! tags beyond the newest N, never a digest a protected or remaining tag points at. Dry run unless
//! `--apply`.

use slipway::registry::{Location, PruneRules};

use super::{fail, ConnectArgs};

/// What `slipway prune REPOSITORY ...` was asked to do.
pub struct Request<'a> {
    /// Repository (`registry/name`) or `oci:DIR`.
    pub repository: &'a str,
    /// How many of the newest matching tags to keep.
    pub keep: usize,
    /// Glob of the tags subject to pruning.
    pub matching: &'a str,
    /// Extra globs of protected tags.
    pub protect: &'a [String],
    /// Really delete.
    pub apply: bool,
    /// One JSON object with keys deleted, kept, shared, applied.
    pub json: bool,
    /// Registry connection flags.
    pub connect: &'a ConnectArgs,
}

/// Run `slipway prune REPOSITORY ...`.
pub async fn run(args: Request<'_>) -> u8 {
    let result = async {
        let loc = Location::parse_repository(args.repository)?;
        let mut rules = PruneRules::new(args.keep, args.matching);
        for p in args.protect {
            rules = rules.protect(p);
        }
        slipway::registry::ops::prune_location(
            &loc,
            &rules,
            args.apply,
            &args.connect.options()?,
            &slipway::NoopObserver,
        )
        .await
    };
    match result.await {
        Ok(outcome) => {
            if args.json {
                crate::output::json_line(&serde_json::to_value(&outcome).unwrap_or_default());
                return 0;
            }
            let verb = if outcome.applied { "deleted" } else { "would delete" };
            for (tag, digest) in &outcome.deleted {
                println!("{verb} {tag} {digest}");
            }
            for tag in &outcome.shared {
                println!("kept (digest shared with a remaining tag) {tag}");
            }
            for tag in &outcome.kept {
                println!("kept {tag}");
            }
            0
        }
        Err(e) => fail(e),
    }
}
