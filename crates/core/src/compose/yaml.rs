//! One compose file read as YAML: the value (anchors resolved, `<<` merge keys applied) and a
//! line index (key path -> 1-based line) so that later errors can name the file, line and key.
//!
//! The value comes from serde_yaml_ng (maintained fork of serde_yaml, serde-native); the line
//! index from yaml-rust2's event parser, whose events carry markers, since serde_yaml_ng's
//! `Value` keeps no positions.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::error::{ComposeError, Location};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A key path such as `services.app.ports[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// The path extended by a key.
    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.0.clone();
        p.push(Seg::Key(k.to_string()));
        KeyPath(p)
    }
    /// The path extended by an index.
    pub fn index(&self, i: usize) -> KeyPath {
        let mut p = self.0.clone();
        p.push(Seg::Index(i));
        KeyPath(p)
    }
    /// Parse a dotted path (`services.app.ports`); only for keys without dots.
    pub fn parse(s: &str) -> KeyPath {
        KeyPath(s.split('.').filter(|p| !p.is_empty()).map(|k| Seg::Key(k.to_string())).collect())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A parsed compose file.
#[derive(Debug, Clone)]
pub struct YamlFile {
    /// The file's path.
    pub path: PathBuf,
    /// Its content with anchors resolved and merge keys applied.
    pub value: Value,
    lines: HashMap<KeyPath, (usize, usize)>,
}

impl YamlFile {
    /// Parse `text` read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ComposeError> {
        let yaml_err = |line: usize, message: String| ComposeError::Yaml { file: path.to_path_buf(), line, message };
        let mut index = LineIndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // Syntax errors are reported by serde_yaml_ng below; here a failure only loses line numbers.
        let _ = parser.load(&mut index, false);
        if let Some((line, key)) = index.duplicate.take() {
            return Err(yaml_err(line, format!("duplicate key `{key}`: a key may appear once per mapping")));
        }
        let mut value: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| yaml_err(e.location().map(|l| l.line()).unwrap_or(0), e.to_string()))?;
        // As Compose: a `!reset` key of a mapping that also merges (`<<`) is removed before the
        // merge, so the merged value comes back.
        drop_reset_beside_merge(&mut value);
        // A merged anchor may itself hold `<<` keys (an anchor built from another anchor): apply
        // merges until none is left (bounded by the nesting a file can have).
        for _ in 0..32 {
            value.apply_merge().map_err(|e| yaml_err(e.location().map(|l| l.line()).unwrap_or(0), e.to_string()))?;
            if !has_merge_key(&value) {
                break;
            }
        }
        if value.is_null() {
            value = Value::Mapping(Default::default());
        }
        if !value.is_mapping() {
            return Err(yaml_err(1, "the top level of a compose file must be a mapping".into()));
        }
        Ok(Self { path: path.to_path_buf(), value, lines: index.lines })
    }

    /// The line of `path` itself, if the file writes it.
    pub fn line_exact(&self, path: &KeyPath) -> Option<usize> {
        self.lines.get(path).map(|(l, _)| *l)
    }

    /// The (line, 1-based column) of `path` itself, if the file writes it.
    pub fn position(&self, path: &KeyPath) -> Option<(usize, usize)> {
        self.lines.get(path).copied()
    }

    /// The line of `path`, or of its nearest ancestor the file writes (keys that come from a
    /// `<<` merge or an alias have no line of their own).
    pub fn line_of(&self, path: &KeyPath) -> Option<usize> {
        let mut p = path.0.clone();
        loop {
            if let Some((l, _)) = self.lines.get(&KeyPath(p.clone())) {
                return Some(*l);
            }
            p.pop()?;
        }
    }
}

fn drop_reset_beside_merge(v: &mut Value) {
    match v {
        Value::Mapping(m) => {
            if m.contains_key("<<") {
                m.retain(|_, v| !matches!(v, Value::Tagged(t) if t.tag == "!reset"));
            }
            for (_, v) in m.iter_mut() {
                drop_reset_beside_merge(v);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(drop_reset_beside_merge),
        Value::Tagged(t) => drop_reset_beside_merge(&mut t.value),
        _ => {}
    }
}

fn has_merge_key(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => m.iter().any(|(k, v)| k.as_str() == Some("<<") || has_merge_key(v)),
        Value::Sequence(items) => items.iter().any(has_merge_key),
        Value::Tagged(t) => has_merge_key(&t.value),
        _ => false,
    }
}

/// The files of a project, in `-f` order, for locating keys after merging.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The files.
    pub files: Vec<YamlFile>,
}

impl Sources {
    /// Where `path` was written: the last file that writes it exactly, else the last file with
    /// the nearest ancestor.
    pub fn locate(&self, path: &KeyPath) -> Location {
        let key = path.to_string();
        if let Some(f) = self.files.iter().rev().find(|f| f.line_exact(path).is_some()) {
            let (line, col) = f.position(path).unwrap_or((0, 0));
            return Location::new(&f.path, line, key).column(col);
        }
        let mut p = path.0.clone();
        while p.pop().is_some() {
            let kp = KeyPath(p.clone());
            if let Some(f) = self.files.iter().rev().find(|f| f.line_exact(&kp).is_some()) {
                return Location::new(&f.path, f.line_exact(&kp).unwrap_or(0), key);
            }
        }
        let file = self.files.first().map(|f| f.path.clone()).unwrap_or_default();
        Location::new(file, 0, key)
    }
}

enum Frame {
    Map {
        path: KeyPath,
        key: Option<String>,
    },
    Seq {
        path: KeyPath,
        next: usize,
    },
    /// A complex (non-scalar) mapping key: its content is not indexed.
    Skip,
}

#[derive(Default)]
struct LineIndexBuilder {
    stack: Vec<Frame>,
    lines: HashMap<KeyPath, (usize, usize)>,
    col: usize,
    /// The first key written twice in one mapping (line, key).
    duplicate: Option<(usize, String)>,
}

impl LineIndexBuilder {
    /// The path of the node starting now, advancing the parent; `None` if this node is a key.
    fn node_path(&mut self, ev: &Event, line: usize) -> Option<KeyPath> {
        match self.stack.last_mut() {
            None => Some(KeyPath::default()),
            Some(Frame::Skip) => None,
            Some(Frame::Map { path, key }) => match key.take() {
                Some(k) => Some(path.key(&k)),
                None => {
                    if let Event::Scalar(s, ..) = ev {
                        let p = path.key(s);
                        if self.lines.contains_key(&p) && s != "<<" {
                            self.duplicate.get_or_insert((line, s.clone()));
                        }
                        self.lines.entry(p).or_insert((line, self.col));
                        *key = Some(s.clone());
                    } else {
                        *key = Some(String::new());
                    }
                    None
                }
            },
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                self.lines.entry(p.clone()).or_insert((line, self.col));
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for LineIndexBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        self.col = mark.col() + 1;
        match &ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let in_skip = matches!(self.stack.last(), Some(Frame::Skip));
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                let path = self.node_path(&ev, line);
                self.stack.push(match (path, in_skip || is_key) {
                    (Some(path), false) if matches!(ev, Event::MappingStart(..)) => Frame::Map { path, key: None },
                    (Some(path), false) => Frame::Seq { path, next: 0 },
                    _ => Frame::Skip,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Scalar(..) | Event::Alias(..) => {
                self.node_path(&ev, line);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_and_items() {
        let text = "a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 1\n    - f\n? [k]\n: v\ng: 2\n";
        let f = YamlFile::parse(Path::new("t.yml"), text).unwrap();
        let l = |p: KeyPath| f.line_exact(&p);
        assert_eq!(l(KeyPath::parse("a")), Some(1));
        assert_eq!(l(KeyPath::parse("b.c")), Some(3));
        assert_eq!(l(KeyPath::parse("b.d").index(1)), Some(6));
        assert_eq!(l(KeyPath::parse("b.d").index(0).key("e")), Some(5));
        assert_eq!(l(KeyPath::parse("g")), Some(9));
        assert_eq!(f.line_of(&KeyPath::parse("b.c.zz")), Some(3));
    }

    #[test]
    fn merge_keys_apply() {
        let text = "x: &a {p: 1, q: 2}\ny:\n  <<: *a\n  q: 3\n";
        let f = YamlFile::parse(Path::new("t.yml"), text).unwrap();
        assert_eq!(f.value["y"]["p"], Value::from(1));
        assert_eq!(f.value["y"]["q"], Value::from(3));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = YamlFile::parse(Path::new("t.yml"), "a: 1\nb: [\n").unwrap_err();
        assert!(matches!(e, ComposeError::Yaml { line, .. } if line >= 2));
    }
}
