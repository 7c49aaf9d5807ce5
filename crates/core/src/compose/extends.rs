//! `extends` (a service of the same document, or of another file) and `include` (another
//! compose project merged in), resolved on the YAML values before the key check, as Compose
//! resolves them: the extending service is merged over its base with the `-f` merge rules, and
//! relative paths of another file are rebased onto that file's folder. Cycles are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::error::ComposeError;
use super::event::ComposeWarning;
use super::load::{interpolate_tree, read};
use super::merge::merge_service;
use super::yaml::{KeyPath, Sources, YamlFile};

/// What resolving needs: variables, warnings, and the files read so far (for lines).
pub struct Resolver<'a> {
    /// Variables.
    pub env: &'a BTreeMap<String, String>,
    /// Warnings found.
    pub warnings: &'a mut Vec<ComposeWarning>,
    /// Files read (compose files, then extended and included ones).
    pub sources: &'a mut Sources,
}

fn invalid(sources: &Sources, path: &KeyPath, message: String) -> ComposeError {
    ComposeError::InvalidValue { at: sources.locate(path), message }
}

impl Resolver<'_> {
    /// Read, parse and interpolate another compose file; its relative paths rebased on its folder.
    fn load_file(&mut self, file: &Path) -> Result<Value, ComposeError> {
        self.load_file_in(file, file.parent())
    }

    /// As `load_file`, relative paths rebased on `base` (an include's `project_directory`).
    fn load_file_in(&mut self, file: &Path, base: Option<&Path>) -> Result<Value, ComposeError> {
        let text = read(file)?;
        let mut yf = YamlFile::parse(file, &text)?;
        let mut value = std::mem::take(&mut yf.value);
        interpolate_tree(&mut value, &KeyPath::default(), &yf, self.env, self.warnings)?;
        self.sources.files.push(yf);
        if let Some(dir) = base {
            rebase(&mut value, dir);
        }
        Ok(value)
    }

    /// Resolve `include:` of `root` (recursively), merging the included resources in.
    pub fn include(&mut self, root: &mut Value, dir: &Path, depth: usize) -> Result<(), ComposeError> {
        let Some(Value::Mapping(top)) = Some(&mut *root) else { return Ok(()) };
        let Some(list) = top.remove("include") else { return Ok(()) };
        let Value::Sequence(items) = list else {
            return Err(invalid(self.sources, &KeyPath::parse("include"), "`include` must be a list".into()));
        };
        if depth > 16 {
            return Err(invalid(
                self.sources,
                &KeyPath::parse("include"),
                "`include` nests too deep (a cycle?)".into(),
            ));
        }
        for (i, item) in items.into_iter().enumerate() {
            let at = KeyPath::parse("include").index(i);
            let paths: Vec<String> = match &item {
                Value::String(s) => vec![s.clone()],
                Value::Mapping(_) => match item.get("path") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Sequence(v)) => v.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
                    _ => return Err(invalid(self.sources, &at, "an include needs `path`".into())),
                },
                _ => return Err(invalid(self.sources, &at, "an include is a path or {path, ...}".into())),
            };
            // As Compose: `project_directory` (relative to the including file's folder; default the
            // first file's folder) is where the included files' relative paths point; `env_file`
            // (relative to the including folder; default `.env` of that directory) gives variables
            // under the including project's own, which win.
            let text_of = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let first = paths.first().map(|p| dir.join(p)).unwrap_or_else(|| dir.to_path_buf());
            let project_dir = match text_of("project_directory") {
                Some(pd) => dir.join(pd),
                None => first.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf()),
            };
            let env_files: Vec<PathBuf> = match item.get("env_file") {
                Some(Value::String(f)) => vec![dir.join(f)],
                Some(Value::Sequence(fs)) => fs.iter().filter_map(|f| f.as_str()).map(|f| dir.join(f)).collect(),
                _ => vec![project_dir.join(".env")].into_iter().filter(|f| f.is_file()).collect(),
            };
            let mut env = BTreeMap::new();
            for f in env_files.iter().filter(|f| f.as_path() != Path::new("/dev/null")) {
                let text = read(f)?;
                for (k, v) in super::service::read_dotenv(f, &text, self.env)? {
                    if let Some(v) = v {
                        env.insert(k, v);
                    }
                }
            }
            env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            let mut sub_resolver = Resolver { env: &env, warnings: &mut *self.warnings, sources: &mut *self.sources };
            let mut merged: Option<Value> = None;
            for p in paths {
                let file = dir.join(&p);
                let mut v = sub_resolver.load_file_in(&file, Some(&project_dir))?;
                sub_resolver.include(&mut v, &project_dir, depth + 1)?;
                sub_resolver.extends(&mut v, &project_dir)?;
                match &mut merged {
                    None => merged = Some(v),
                    Some(m) => super::merge::merge_files(m, v),
                }
            }
            let Some(Value::Mapping(inc)) = merged else { continue };
            for (section, content) in inc {
                let Value::Mapping(entries) = content else { continue };
                let Some(name) = section.as_str().map(str::to_string) else { continue };
                if !matches!(name.as_str(), "services" | "networks" | "volumes" | "secrets" | "configs") {
                    continue;
                }
                let target = top.entry(section).or_insert_with(|| Value::Mapping(Mapping::new()));
                let Value::Mapping(t) = target else { continue };
                for (k, v) in entries {
                    if t.contains_key(&k) && name == "services" {
                        let key = k.as_str().unwrap_or_default().to_string();
                        return Err(invalid(
                            self.sources,
                            &at,
                            format!("included service `{key}` is also defined in the including file"),
                        ));
                    }
                    t.entry(k).or_insert(v);
                }
            }
        }
        Ok(())
    }

    /// Resolve `extends` of every service of `root` (whose relative paths resolve against `dir`).
    pub fn extends(&mut self, root: &mut Value, dir: &Path) -> Result<(), ComposeError> {
        let names: Vec<String> = match root.get("services") {
            Some(Value::Mapping(m)) => m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect(),
            _ => return Ok(()),
        };
        for name in names {
            let resolved = self.resolve_service(root, dir, &name, &mut Vec::new())?;
            if let Some(Value::Mapping(services)) = root.get_mut("services") {
                services.insert(Value::from(name), resolved);
            }
        }
        Ok(())
    }

    fn resolve_service(
        &mut self,
        doc: &Value,
        dir: &Path,
        name: &str,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<Value, ComposeError> {
        let path = KeyPath::parse("services").key(name);
        let Some(svc) = doc.get("services").and_then(|s| s.get(name)).cloned() else {
            return Err(invalid(self.sources, &path, format!("extends names service `{name}`, which does not exist")));
        };
        let Some(ext) = svc.get("extends").cloned() else { return Ok(svc) };
        let here = (dir.to_path_buf(), name.to_string());
        if chain.contains(&here) {
            let names: Vec<&str> = chain.iter().map(|(_, n)| n.as_str()).collect();
            return Err(invalid(
                self.sources,
                &path.key("extends"),
                format!("extends cycle: {} -> {name}", names.join(" -> ")),
            ));
        }
        chain.push(here);
        let (base_name, file) = match &ext {
            Value::String(s) => (s.clone(), None),
            Value::Mapping(_) => {
                let service = ext.get("service").and_then(Value::as_str).map(str::to_string);
                let service = service
                    .ok_or_else(|| invalid(self.sources, &path.key("extends"), "extends needs `service`".into()))?;
                (service, ext.get("file").and_then(Value::as_str).map(str::to_string))
            }
            _ => {
                return Err(invalid(
                    self.sources,
                    &path.key("extends"),
                    "extends is a service name or {service, file}".into(),
                ))
            }
        };
        let mut base = match file {
            None => self.resolve_service(doc, dir, &base_name, chain)?,
            Some(f) => {
                let file = dir.join(f);
                let other = self.load_file(&file)?;
                let sub = file.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
                self.resolve_service(&other, &sub, &base_name, chain)?
            }
        };
        chain.pop();
        let mut over = svc;
        if let Value::Mapping(m) = &mut over {
            m.remove("extends");
        }
        if let Value::Mapping(m) = &mut base {
            // As Compose: what only makes sense once is not inherited.
            for k in ["extends", "depends_on", "links", "volumes_from", "net"] {
                if k != "depends_on" {
                    m.remove(k);
                }
            }
        }
        merge_service(&mut base, over);
        Ok(base)
    }
}

fn rebase_path(v: &mut Value, dir: &Path) {
    if let Value::String(s) = v {
        if (s.starts_with("./") || s.starts_with("../") || s == ".") && !s.contains("://") {
            *s = super::syntax::absolute(s, dir, None);
        }
    }
}

/// Make the relative paths of a file's services and resources relative to nothing (absolute on
/// `dir`): build contexts, env files, bind sources, secret and config files.
pub fn rebase(doc: &mut Value, dir: &Path) {
    if let Some(Value::Mapping(services)) = doc.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            match svc.get_mut("build") {
                Some(b @ Value::String(_)) => rebase_bare(b, dir),
                Some(b) => {
                    if let Some(c) = b.get_mut("context") {
                        rebase_bare(c, dir);
                    }
                }
                None => {}
            }
            match svc.get_mut("env_file") {
                Some(e @ Value::String(_)) => rebase_bare(e, dir),
                Some(Value::Sequence(items)) => {
                    for item in items {
                        match item {
                            Value::Mapping(_) => {
                                if let Some(p) = item.get_mut("path") {
                                    rebase_bare(p, dir);
                                }
                            }
                            other => rebase_bare(other, dir),
                        }
                    }
                }
                _ => {}
            }
            if let Some(Value::Sequence(vols)) = svc.get_mut("volumes") {
                for vol in vols {
                    match vol {
                        Value::String(s) => {
                            if let Some((src, rest)) = s.split_once(':') {
                                if src.starts_with('.') {
                                    *s = format!("{}:{rest}", super::syntax::absolute(src, dir, None));
                                }
                            }
                        }
                        Value::Mapping(_) if vol.get("type").and_then(Value::as_str) == Some("bind") => {
                            if let Some(src) = vol.get_mut("source") {
                                rebase_path(src, dir);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Value::Mapping(m)) = doc.get_mut(section) {
            for (_, def) in m.iter_mut() {
                if let Some(f) = def.get_mut("file") {
                    rebase_bare(f, dir);
                }
            }
        }
    }
}

/// A relative path without a leading `./` (build contexts, env files) counts as relative too.
fn rebase_bare(v: &mut Value, dir: &Path) {
    if let Value::String(s) = v {
        if !s.starts_with('/') && !s.starts_with('~') && !s.contains("://") && !s.starts_with("git@") {
            *s = super::syntax::absolute(s, dir, None);
        }
    }
}
