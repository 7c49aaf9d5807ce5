//! Unit tests of the environment policies: every built-in rule, user-defined tables, files.

use super::*;
use crate::{ErrorKind, ImageRef};

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn r(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

fn verdict(env: &str, reference: &str) -> Verdict {
    EnvironmentPolicies::builtin().get(env).unwrap().evaluate(&r(reference))
}

fn accepted_by(env: &str, reference: &str) -> String {
    match verdict(env, reference) {
        Verdict::Accepted { rule } => rule,
        Verdict::Refused(refusal) => panic!("{reference} refused: {refusal}"),
    }
}

fn refused_by(env: &str, reference: &str) -> Refusal {
    match verdict(env, reference) {
        Verdict::Refused(refusal) => refusal,
        Verdict::Accepted { rule } => panic!("{reference} accepted by {rule}"),
    }
}

#[test]
fn production_accepts_release_versions() {
    for t in ["app:v1.2.3", "127.0.0.1:5000/team/app:v0.0.1", "app:v10.20.30"] {
        assert_eq!(accepted_by("production", t), "release-version", "{t}");
    }
}

#[test]
fn production_accepts_digests_even_with_a_moving_tag() {
    assert_eq!(accepted_by("production", &format!("app@sha256:{HEX}")), "pinned-by-digest");
    assert_eq!(accepted_by("production", &format!("app:latest@sha256:{HEX}")), "pinned-by-digest");
    assert_eq!(accepted_by("production", &format!("app:test-20260101-1@sha256:{HEX}")), "pinned-by-digest");
}

#[test]
fn production_refuses_each_moving_tag_by_its_rule() {
    for (tag, rule) in [
        ("latest", "no-latest"),
        ("staging-latest", "no-staging-latest"),
        ("test-20260131-4", "no-test-builds"),
        ("sha-abcdef0", "no-commit-builds"),
        ("1.2.3", "release-versions-only"),
        ("v1.2", "release-versions-only"),
        ("v1.2.3-rc.1", "release-versions-only"),
        ("v01.2.3", "release-versions-only"),
        ("main", "release-versions-only"),
    ] {
        let refusal = refused_by("production", &format!("app:{tag}"));
        assert_eq!(refusal.rule, rule, "{tag}");
        assert_eq!(refusal.environment, "production");
        assert_eq!(refusal.fix.as_deref(), Some(PRODUCTION_FIX));
        let shown = refusal.to_string();
        assert!(shown.contains(rule) && shown.contains("pin vX.Y.Z or a digest"), "{shown}");
    }
    // A bare name means `:latest`.
    assert_eq!(refused_by("production", "app").rule, "no-latest");
}

#[test]
fn staging_accepts_everything() {
    for t in ["app", "app:staging-latest", "app:test-20260101-1", "app:sha-abcdef0", "app:v1.2.3"] {
        assert_eq!(accepted_by("staging", t), "accept-all");
    }
    assert_eq!(accepted_by("staging", &format!("app@sha256:{HEX}")), "accept-all");
}

#[test]
fn check_collects_every_refusal_as_policy_refused() {
    let prod = EnvironmentPolicies::builtin();
    let prod = prod.get("production").unwrap();
    let refs = [r("a:latest"), r("b:v1.0.0"), r("c:sha-abcdef0")];
    let err = prod.check(&refs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyRefused);
    let rules: Vec<_> = err.refusals().iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["no-latest", "no-commit-builds"]);
    assert!(prod.check(&[r("b:v1.0.0")]).is_ok());
    assert_eq!(crate::Error::from(err).kind().exit_code(), 3);
}

#[test]
fn unknown_environment_is_bad_input() {
    let err = EnvironmentPolicies::builtin().get("prod").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("production, staging"));
}

#[test]
fn user_policy_from_toml() {
    let text = r#"
        [environments.qa]
        fix = "pin a release candidate"
        rules = [
          { name = "pinned", match = "pinned", action = "accept" },
          { name = "candidates", match = { tag-glob = "v*-rc.*" }, action = "accept" },
          { name = "no-main", match = { tag = "main" }, action = "refuse", reason = "main moves" },
          { name = "no-dev", match = { tag-prefix = "dev-" }, action = "refuse", fix = "build a candidate" },
        ]

        [environments.production]
        rules = [{ name = "anything", match = "any", action = "accept" }]
    "#;
    let set = EnvironmentPolicies::builtin().merge(EnvironmentPolicies::from_toml(text, "qa.toml").unwrap());
    assert_eq!(set.names(), ["production", "qa", "staging"]);
    let qa = set.get("qa").unwrap();
    assert_eq!(qa.evaluate(&r("app:v2.0.0-rc.1")), Verdict::Accepted { rule: "candidates".into() });
    let Verdict::Refused(main) = qa.evaluate(&r("app:main")) else { panic!("main accepted") };
    assert_eq!((main.rule.as_str(), main.reason.as_str()), ("no-main", "main moves"));
    assert_eq!(main.fix.as_deref(), Some("pin a release candidate"));
    let Verdict::Refused(dev) = qa.evaluate(&r("app:dev-7")) else { panic!("dev accepted") };
    assert_eq!(dev.fix.as_deref(), Some("build a candidate"));
    let Verdict::Refused(other) = qa.evaluate(&r("app:v2.0.0")) else { panic!("v2 accepted") };
    assert_eq!(other.rule, OTHERWISE_RULE);
    // The user's production replaced the built-in one.
    assert!(matches!(set.get("production").unwrap().evaluate(&r("app:latest")), Verdict::Accepted { .. }));
}

#[test]
fn user_policy_from_json_and_builder_agree() {
    let json = r#"{"environments": {"edge": {"otherwise": "accept",
        "rules": [{"name": "no-latest", "match": {"tag": "latest"}, "action": "refuse"}]}}}"#;
    let from_json = EnvironmentPolicies::from_json(json, "edge.json").unwrap();
    let built = EnvironmentPolicies::empty().with(
        EnvironmentPolicy::new("edge")
            .rule(Rule::refuse("no-latest", Matcher::Tag("latest".into())))
            .otherwise(Action::Accept),
    );
    assert_eq!(from_json, built);
    let edge = built.get("edge").unwrap();
    assert!(matches!(edge.evaluate(&r("app")), Verdict::Refused(_)));
    assert!(matches!(edge.evaluate(&r("app:anything")), Verdict::Accepted { .. }));
}

#[test]
fn invalid_policy_files_are_bad_input() {
    for (text, why) in [
        ("[environments.x]\nrules = [{ name = \"g\", match = { tag-glob = \"[\" }, action = \"accept\" }]", "glob"),
        ("[environments.x]\nrules = [{ name = \"g\", match = \"pinnned\", action = \"accept\" }]", "matcher"),
        ("[environments.x]\nrules = [{ name = \"g\", match = \"any\", action = \"allow\" }]", "action"),
        ("[environments.x]\nrulez = []", "field"),
        ("not toml at all [", "syntax"),
    ] {
        let err = EnvironmentPolicies::from_toml(text, "bad.toml").unwrap_err();
        assert!(matches!(err, PolicyError::InvalidPolicy { .. }), "{why}: {err}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("bad.toml"));
    }
}

#[test]
fn builtins_round_trip_through_toml() {
    let text = EnvironmentPolicies::builtin().to_toml().unwrap();
    assert_eq!(EnvironmentPolicies::from_toml(&text, "round-trip").unwrap(), EnvironmentPolicies::builtin());
}

#[test]
fn policy_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(
        &path,
        r#"{"environments": {"ci": {"rules": [{"name": "all", "match": "any", "action": "accept"}]}}}"#,
    )
    .unwrap();
    let set = EnvironmentPolicies::builtin_with_file(Some(&path)).unwrap();
    assert_eq!(set.names(), ["ci", "production", "staging"]);
    let missing = EnvironmentPolicies::from_file(&dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, PolicyError::ReadPolicy { .. }));
}
