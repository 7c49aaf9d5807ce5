//! Policies: which tags a build event gets ([`TagPolicy`]) and which references an environment
//! accepts ([`EnvironmentPolicy`], a table of rules; [`EnvironmentPolicies`] the named set with the
//! built-in `production` and `staging`). Pure functions of their input: no I/O except reading a
//! policy file when asked.

mod environment;
mod environments;
mod error;
mod tags;
#[cfg(test)]
mod tests;

pub use environment::{Action, EnvironmentPolicy, Matcher, Rule, TagGlob, Verdict, OTHERWISE_RULE};
pub use environments::{production, staging, EnvironmentPolicies, PRODUCTION_FIX};
pub use error::{PolicyError, Refusal};
pub use tags::{
    parse_date, parse_release_version, parse_sha, today_utc, BuildEvent, EventKind, TagPolicy, TagRequest, LATEST,
    SHORT_SHA_LEN, STAGING_LATEST,
};
