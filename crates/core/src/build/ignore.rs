//! `.dockerignore` rules with Docker's semantics (moby/patternmatcher, as used by the Docker CLI):
//! patterns are relative to the context root and cleaned like Go's `filepath.Clean`, a leading
//! `/` is stripped, `#` starts a comment line, `!` makes an exception, `*` and `?` never cross
//! `/`, `**` crosses any number of directories, a pattern that matches a parent directory matches
//! everything under it, and the last matching pattern wins. Matching itself is done by `globset`.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

use super::BuildError;

/// One cleaned pattern.
#[derive(Debug, Clone)]
struct Rule {
    /// The cleaned pattern without its `!`.
    text: String,
    matcher: GlobMatcher,
    exclusion: bool,
}

/// The parsed rules of one `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Rules that exclude nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parse the text of a `.dockerignore` file (`file` is only used in error messages).
    pub fn parse(text: &str, file: &Path) -> Result<Self, BuildError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let rule = Self::rule(line).map_err(|reason| BuildError::IgnorePattern {
                file: file.to_path_buf(),
                line: idx + 1,
                pattern: line.to_string(),
                reason,
            })?;
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// Rules from patterns already split into lines (as `docker build` receives them).
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BuildError> {
        let text = patterns.iter().map(|p| p.as_ref()).collect::<Vec<_>>().join("\n");
        Self::parse(&text, Path::new("<patterns>"))
    }

    /// Add an exception (`!pattern`) at the end, as Docker does for the Dockerfile and
    /// `.dockerignore`, which are always sent.
    pub fn always_include(&mut self, relative: &str) -> Result<(), BuildError> {
        let rule = Self::rule(&format!("!{relative}")).map_err(BuildError::Invalid)?;
        self.rules.push(rule);
        Ok(())
    }

    fn rule(line: &str) -> Result<Rule, String> {
        let (exclusion, rest) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if rest.is_empty() {
            return Err("illegal exclusion pattern: \"!\"".into());
        }
        let mut text = clean(rest);
        if text.len() > 1 && text.starts_with('/') {
            text.remove(0);
        }
        let matcher = GlobBuilder::new(&text)
            .literal_separator(true)
            .backslash_escape(true)
            .empty_alternates(false)
            .build()
            .map_err(|e| e.kind().to_string())?
            .compile_matcher();
        Ok(Rule { text, matcher, exclusion })
    }

    /// Whether any rule is an exception (`!`).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exclusion)
    }

    /// Whether `relative` (slash separated, relative to the context root) is excluded: Docker's
    /// `MatchesOrParentMatches` – a rule matches the path or one of its parent directories, and
    /// the last matching rule decides.
    pub fn is_excluded(&self, relative: &str) -> bool {
        let parents: Vec<&str> = match relative.rfind('/') {
            Some(i) => relative[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for rule in &self.rules {
            if rule.exclusion != matched {
                continue;
            }
            let mut hit = rule.matcher.is_match(relative);
            if !hit {
                for i in 0..parents.len() {
                    if rule.matcher.is_match(parents[..=i].join("/")) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !rule.exclusion;
            }
        }
        matched
    }

    /// For an excluded directory: whether the walk must still descend into it because an
    /// exception pattern starts with `dir/` (Docker's rule; wildcard exceptions do not count).
    pub fn must_descend(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.rules.iter().filter(|r| r.exclusion).any(|r| format!("{}/", r.text).starts_with(&dir_slash))
    }
}

/// Go's `filepath.Clean` for slash-separated paths.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text, Path::new(".dockerignore")).unwrap()
    }

    #[test]
    fn clean_matches_go() {
        assert_eq!(clean("a/./b/../c/"), "a/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("a//b"), "a/b");
    }

    #[test]
    fn patterns_are_rooted_not_anywhere() {
        let r = rules("foo\n");
        assert!(r.is_excluded("foo"));
        assert!(r.is_excluded("foo/bar.txt"), "a matching parent excludes its contents");
        assert!(!r.is_excluded("sub/foo"), "unlike .gitignore, foo only matches at the root");
    }

    #[test]
    fn leading_slash_and_dot_segments_are_stripped() {
        let r = rules("/a/./b/../c\n");
        assert!(r.is_excluded("a/c"));
        assert!(r.is_excluded("a/c/d"));
        assert!(!r.is_excluded("a/b"));
    }

    #[test]
    fn star_does_not_cross_slash_but_double_star_does() {
        let r = rules("*.log\n");
        assert!(r.is_excluded("x.log"));
        assert!(!r.is_excluded("d/x.log"));
        let r = rules("**/*.log\n");
        assert!(r.is_excluded("x.log"), "**/ also matches zero directories");
        assert!(r.is_excluded("d/e/x.log"));
        let r = rules("a/**/z\n");
        assert!(r.is_excluded("a/z"));
        assert!(r.is_excluded("a/b/c/z"));
        assert!(!r.is_excluded("b/z"));
        let r = rules("*/temp*\n");
        assert!(r.is_excluded("sub/tempfile"));
        assert!(!r.is_excluded("tempfile"));
        assert!(!r.is_excluded("a/b/tempfile"));
        let r = rules("temp?\n");
        assert!(r.is_excluded("temp1"));
        assert!(!r.is_excluded("temp12"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let r = rules("*.md\n!README.md\n");
        assert!(r.is_excluded("CHANGES.md"));
        assert!(!r.is_excluded("README.md"));
        let r = rules("!README.md\n*.md\n");
        assert!(r.is_excluded("README.md"), "a later exclusion overrides an earlier exception");
        let r = rules("docs\n!docs/keep.md\n");
        assert!(r.is_excluded("docs/other.md"));
        assert!(!r.is_excluded("docs/keep.md"));
        assert!(r.must_descend("docs"));
        assert!(!r.must_descend("src"));
        // A directory excluded again after the exception stays excluded.
        let r = rules("docs\n!docs/keep.md\ndocs\n");
        assert!(r.is_excluded("docs/keep.md"));
    }

    #[test]
    fn comments_blank_lines_and_bom() {
        let r = rules("\u{feff}# comment\n\n   \n  spaced  \n");
        assert!(r.is_excluded("spaced"));
        assert!(!r.is_excluded("# comment"));
        let r = rules(" #notacomment\n");
        assert!(r.is_excluded("#notacomment"), "only a # in the first column starts a comment");
    }

    #[test]
    fn lone_bang_is_an_error_with_line() {
        let err = IgnoreRules::parse("a\n!\n", Path::new("ctx/.dockerignore")).unwrap_err();
        match err {
            BuildError::IgnorePattern { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn always_include_overrides() {
        let mut r = rules("*\n");
        r.always_include("Dockerfile").unwrap();
        assert!(!r.is_excluded("Dockerfile"));
        assert!(r.is_excluded("src"));
    }
}
