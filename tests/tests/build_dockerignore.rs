//! `.dockerignore` cross-checked against the Docker CLI itself: the files `docker build` sends
//! for a context with tricky patterns are exactly the files our `BuildContext` sends.

use std::process::Command;

use slipway::build::context::BuildContext;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::{images, names};

const IGNORE: &str = "# comment line\n\
*.md\n\
!README.md\n\
docs\n\
!docs/keep/**\n\
**/*.tmp\n\
/abs/./path\n\
sub/*/deep\n\
temp?\n\
  spaced.txt  \n\
lib/../vendor\n";

const FILES: [&str; 17] = [
    "README.md",
    "CHANGES.md",
    "sub/NOTES.md",
    "docs/a.txt",
    "docs/keep/x.txt",
    "docs/keep/y/z.txt",
    "a.tmp",
    "s/b.tmp",
    "abs/path/f",
    "abs/other",
    "sub/x/deep/f",
    "sub/x/other",
    "temp1",
    "temp12",
    "spaced.txt",
    "vendor/v.go",
    "keep.txt",
];

#[tokio::test]
async fn context_matches_what_the_docker_cli_sends() {
    let base = images::busybox_base().await.unwrap();
    let ctx = tempfile::tempdir().unwrap();
    for f in FILES {
        let p = ctx.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f).unwrap();
    }
    std::fs::write(ctx.path().join(".dockerignore"), IGNORE).unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), format!("FROM {base}\nCOPY . /ctx/\n")).unwrap();

    let tag = format!("{}:ignore", names::unique("builder"));
    let cleanup = Cleanup::new();
    cleanup.image(format!("docker.io/library/{tag}"));
    let built = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &tag])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let listed = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "find", &tag, "/ctx", "-type", "f"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let mut docker_files: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("/ctx/").map(String::from))
        .collect();
    docker_files.sort();

    let ours = BuildContext::from_dir(ctx.path(), None).unwrap();
    let mut our_files: Vec<String> = ours.entries().iter().filter(|e| ctx.path().join(e).is_file()).cloned().collect();
    our_files.sort();
    assert_eq!(our_files, docker_files);
    // And the expectations in words, so a change in both would still be noticed.
    for kept in ["README.md", "docs/keep/x.txt", "docs/keep/y/z.txt", "temp12", "abs/other", "sub/x/other", "keep.txt"]
    {
        assert!(our_files.iter().any(|f| f == kept), "{kept} should be sent: {our_files:?}");
    }
    for dropped in [
        "CHANGES.md",
        "docs/a.txt",
        "a.tmp",
        "s/b.tmp",
        "abs/path/f",
        "sub/x/deep/f",
        "temp1",
        "spaced.txt",
        "vendor/v.go",
    ] {
        assert!(!our_files.iter().any(|f| f == dropped), "{dropped} should be ignored: {our_files:?}");
    }
}
