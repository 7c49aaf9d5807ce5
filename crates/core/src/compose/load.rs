//! The loading pipeline: files -> YAML values (anchors, `<<` merge keys) -> interpolation (per
//! file, process environment over `.env`/`--env-file`) -> merge of the `-f` files in order ->
//! key check (`x-` keys taken out) -> typed model -> profile selection and resolution into a
//! `StackSpec` -> cross-service validation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::event::ComposeWarning;
use super::extends::Resolver;
use super::interpolate::{interpolate, InterpolationError};
use super::merge::{merge_files, strip_tags};
use super::model::ComposeModel;
use super::resolve::{resolve, ResolveInput};
use super::schema;
use super::service::read_dotenv;
use super::yaml::{KeyPath, Seg, Sources, YamlFile};
use crate::stack::StackSpec;

/// The file names looked for when no `-f` is given, in compose's order.
pub const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// What to load: files, variables, profiles, project name.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Compose files in `-f` order; empty = look for the default names in `working_dir`.
    pub files: Vec<PathBuf>,
    /// `--env-file`; default: `.env` in the project directory when it exists.
    pub env_file: Option<PathBuf>,
    /// `--profile` values; empty = `COMPOSE_PROFILES` from the environment.
    pub profiles: Vec<String>,
    /// `-p`.
    pub project: Option<String>,
    /// The variables; `None` = the process environment.
    pub environment: Option<BTreeMap<String, String>>,
    /// Where to look for default files (default: the current directory).
    pub working_dir: Option<PathBuf>,
}

impl LoadOptions {
    /// Options for these files.
    pub fn new<P: Into<PathBuf>>(files: impl IntoIterator<Item = P>) -> Self {
        Self { files: files.into_iter().map(Into::into).collect(), ..Default::default() }
    }
    /// Set `--env-file`.
    pub fn env_file(mut self, f: impl Into<PathBuf>) -> Self {
        self.env_file = Some(f.into());
        self
    }
    /// Add profiles.
    pub fn profiles<S: Into<String>>(mut self, p: impl IntoIterator<Item = S>) -> Self {
        self.profiles.extend(p.into_iter().map(Into::into));
        self
    }
    /// Set the project name.
    pub fn project(mut self, p: impl Into<String>) -> Self {
        self.project = Some(p.into());
        self
    }
    /// Use these variables instead of the process environment.
    pub fn environment(mut self, env: BTreeMap<String, String>) -> Self {
        self.environment = Some(env);
        self
    }
    /// Look for default files in this directory.
    pub fn working_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(d.into());
        self
    }
}

/// A loaded stack and the warnings found on the way.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadedStack {
    /// The resolved stack.
    pub stack: StackSpec,
    /// Warnings (unset variables, ignored `build:`, obsolete `version:`), deduplicated, in order.
    pub warnings: Vec<ComposeWarning>,
}

/// Read a file's text.
pub(super) fn read(path: &Path) -> Result<String, ComposeError> {
    std::fs::read_to_string(path).map_err(|source| ComposeError::Read { file: path.to_path_buf(), source })
}

/// The compose file Compose picks in `dir` when none is named (the first of [`DEFAULT_FILES`]).
pub fn default_file(dir: &Path) -> Option<PathBuf> {
    DEFAULT_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

/// Load, interpolate, merge, check and resolve a compose project.
pub fn load(opts: &LoadOptions) -> Result<LoadedStack, ComposeError> {
    let cwd = match &opts.working_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|source| ComposeError::Read { file: PathBuf::from("."), source })?,
    };
    let files: Vec<PathBuf> = if opts.files.is_empty() {
        vec![default_file(&cwd).ok_or_else(|| ComposeError::NoComposeFile { dir: cwd.clone() })?]
    } else {
        opts.files.iter().map(|f| if f.is_absolute() { f.clone() } else { cwd.join(f) }).collect()
    };
    let project_dir = files[0].parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone());

    let process: BTreeMap<String, String> = match &opts.environment {
        Some(e) => e.clone(),
        None => std::env::vars().collect(),
    };
    let env_file = match &opts.env_file {
        Some(f) => Some(if f.is_absolute() { f.clone() } else { cwd.join(f) }),
        None => Some(project_dir.join(".env")).filter(|p| p.is_file()),
    };
    let mut env = BTreeMap::new();
    if let Some(f) = env_file {
        let text = read(&f)?;
        for (k, v) in read_dotenv(&f, &text, &process)? {
            if let Some(v) = v {
                env.insert(k, v);
            }
        }
    }
    env.extend(process);

    let mut texts = Vec::with_capacity(files.len());
    for f in &files {
        texts.push((f.clone(), read(f)?));
    }
    load_texts(&texts, &project_dir, &env, opts.project.as_deref(), &opts.profiles)
}

/// The pipeline from file texts on: parse, interpolate with `env`, merge, check, resolve, validate.
fn load_texts(
    texts: &[(PathBuf, String)],
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    project: Option<&str>,
    profiles: &[String],
) -> Result<LoadedStack, ComposeError> {
    let mut warnings = Vec::new();
    let mut sources = Sources::default();
    let mut merged: Option<Value> = None;
    for (f, text) in texts {
        let mut yf = YamlFile::parse(f, text)?;
        let mut value = std::mem::take(&mut yf.value);
        interpolate_tree(&mut value, &KeyPath::default(), &yf, env, &mut warnings)?;
        match &mut merged {
            None => merged = Some(value),
            Some(m) => merge_files(m, value),
        }
        sources.files.push(yf);
    }
    let mut root = merged.unwrap_or(Value::Mapping(Default::default()));
    let mut resolver = Resolver { env, warnings: &mut warnings, sources: &mut sources };
    resolver.include(&mut root, project_dir, 0)?;
    resolver.extends(&mut root, project_dir)?;
    strip_tags(&mut root);
    let ext = schema::check(&mut root, &sources)?;
    let model: ComposeModel = serde_path_to_error::deserialize(root).map_err(|e| {
        let path = KeyPath(
            e.path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    _ => None,
                })
                .collect(),
        );
        ComposeError::InvalidValue { at: sources.locate(&path), message: e.into_inner().to_string() }
    })?;
    let input = ResolveInput { sources: &sources, project_dir, env, project, profiles };
    let stack = resolve(model, ext, &input, &mut warnings)?;
    Ok(LoadedStack { stack, warnings: dedup(warnings) })
}

fn dedup(warnings: Vec<ComposeWarning>) -> Vec<ComposeWarning> {
    let mut seen = BTreeSet::new();
    warnings
        .into_iter()
        .filter(|w| match w {
            ComposeWarning::UnsetVariable { variable, .. } => seen.insert(variable.clone()),
            _ => true,
        })
        .collect()
}

/// Interpolate every string value (keys are left alone, as compose does).
pub(super) fn interpolate_tree(
    v: &mut Value,
    path: &KeyPath,
    file: &YamlFile,
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<ComposeWarning>,
) -> Result<(), ComposeError> {
    match v {
        Value::String(s) => {
            if !s.contains('$') {
                return Ok(());
            }
            let at = || super::error::Location::new(&file.path, file.line_of(path).unwrap_or(0), path.to_string());
            let lookup = |n: &str| env.get(n).cloned();
            match interpolate(s, &lookup) {
                Ok(r) => {
                    for variable in r.unset {
                        warnings.push(ComposeWarning::UnsetVariable { variable, at: at() });
                    }
                    *s = r.value;
                }
                Err(InterpolationError::Invalid { message }) => {
                    return Err(ComposeError::InvalidInterpolation { at: at(), message })
                }
                Err(InterpolationError::Required { variable, message }) => {
                    return Err(ComposeError::RequiredVariable { at: at(), variable, message })
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(i), file, env, warnings)?;
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
                };
                interpolate_tree(item, &path.key(&key), file, env, warnings)?;
            }
        }
        Value::Tagged(t) => interpolate_tree(&mut t.value, path, file, env, warnings)?,
        _ => {}
    }
    Ok(())
}

/// Run the whole pipeline on one compose text with an empty environment, project `fuzz` and a
/// project directory that does not exist (used by the fuzz target and no-panic tests).
pub fn parse_only(text: &str) -> Result<LoadedStack, ComposeError> {
    let texts = [(PathBuf::from("/nonexistent/slipway-fuzz/compose.yml"), text.to_string())];
    load_texts(&texts, Path::new("/nonexistent/slipway-fuzz"), &BTreeMap::new(), Some("fuzz"), &[])
}
