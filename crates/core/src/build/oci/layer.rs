//! Deterministic layers: file mappings (host path -> image path, mode, uid/gid) collected into
//! sorted entries and written as a tar with uid/gid from the mapping (0 by default), empty
//! user/group names, one fixed mtime (`SOURCE_DATE_EPOCH` or 0), no xattrs, no device numbers,
//! GNU long-name headers; then gzip with flate2's pure-Rust backend (miniz_oxide) at level 6,
//! gzip header mtime 0 and OS byte 255. The same inputs give the same bytes on any machine.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use flate2::{Compression, GzBuilder};

use crate::build::BuildError;
use crate::digest::Sha256Hasher;
use crate::Digest;

/// The gzip level used for every layer (pinned: changing it changes every digest).
pub const GZIP_LEVEL: u32 = 6;

/// Where the bytes of one mapped path come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A file or directory on this machine; a directory is walked in sorted order, a symlink
    /// given directly is followed, symlinks met while walking are kept as symlinks.
    Path(PathBuf),
    /// Literal file contents.
    Contents(Vec<u8>),
    /// A symbolic link pointing at the given target.
    Symlink(String),
    /// An empty directory.
    Directory,
}

/// One mapping into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    /// What to put there.
    pub source: Source,
    /// Absolute path inside the image.
    pub target: String,
    /// Permission bits for files (default: 0755 when the host file is executable, else 0644)
    /// and for the directory itself (default 0755).
    pub mode: Option<u32>,
    /// Owner uid (default 0).
    pub uid: u64,
    /// Owner gid (default 0).
    pub gid: u64,
}

impl FileMapping {
    /// Map a host path to an image path.
    pub fn path(source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        Self::new(Source::Path(source.into()), target)
    }
    /// Put literal contents at an image path.
    pub fn contents(contents: impl Into<Vec<u8>>, target: impl Into<String>) -> Self {
        Self::new(Source::Contents(contents.into()), target)
    }
    /// A symlink at `target` pointing at `link`.
    pub fn symlink(link: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(Source::Symlink(link.into()), target)
    }
    /// An empty directory.
    pub fn directory(target: impl Into<String>) -> Self {
        Self::new(Source::Directory, target)
    }
    fn new(source: Source, target: impl Into<String>) -> Self {
        Self { source, target: target.into(), mode: None, uid: 0, gid: 0 }
    }
    /// Set the permission bits.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode & 0o7777);
        self
    }
    /// Set the owner.
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
}

/// One entry of a layer, keyed by its path without the leading `/`.
#[derive(Debug, Clone)]
enum Entry {
    Dir { mode: u32, uid: u64, gid: u64 },
    File { from: FileData, mode: u32, uid: u64, gid: u64 },
    Link { target: String, uid: u64, gid: u64 },
}

#[derive(Debug, Clone)]
enum FileData {
    Host(PathBuf),
    Inline(Vec<u8>),
}

/// A finished layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The gzip-compressed tar.
    pub blob: Bytes,
    /// Digest of the compressed bytes (the layer's descriptor digest).
    pub digest: Digest,
    /// Digest of the uncompressed tar (the config's `diff_id`).
    pub diff_id: Digest,
    /// Number of entries in the tar.
    pub entries: usize,
}

/// Collect the mappings into sorted entries (parents added as 0755 root directories).
fn collect(mappings: &[FileMapping]) -> Result<BTreeMap<String, Entry>, BuildError> {
    let mut out = BTreeMap::new();
    for m in mappings {
        let target = super::super::ignore::clean(&m.target);
        let Some(rel) = target.strip_prefix('/').filter(|r| !r.is_empty()) else {
            return Err(BuildError::Invalid(format!("layer target {:?} must be an absolute path below /", m.target)));
        };
        add_parents(&mut out, rel);
        match &m.source {
            Source::Contents(bytes) => {
                let mode = m.mode.unwrap_or(0o644);
                out.insert(
                    rel.into(),
                    Entry::File { from: FileData::Inline(bytes.clone()), mode, uid: m.uid, gid: m.gid },
                );
            }
            Source::Symlink(link) => {
                out.insert(rel.into(), Entry::Link { target: link.clone(), uid: m.uid, gid: m.gid });
            }
            Source::Directory => {
                out.insert(rel.into(), Entry::Dir { mode: m.mode.unwrap_or(0o755), uid: m.uid, gid: m.gid });
            }
            Source::Path(path) => {
                let meta = fs::metadata(path).map_err(|e| BuildError::io("reading layer source", path, e))?;
                if meta.is_dir() {
                    out.insert(rel.into(), Entry::Dir { mode: m.mode.unwrap_or(0o755), uid: m.uid, gid: m.gid });
                    walk(path, rel, m, &mut out)?;
                } else {
                    let mode = m.mode.unwrap_or_else(|| default_mode(&meta));
                    let from = FileData::Host(path.clone());
                    out.insert(rel.into(), Entry::File { from, mode, uid: m.uid, gid: m.gid });
                }
            }
        }
    }
    Ok(out)
}

/// 0755 when any execute bit is set on the host, else 0644: independent of the host's umask.
fn default_mode(meta: &fs::Metadata) -> u32 {
    if meta.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

fn add_parents(out: &mut BTreeMap<String, Entry>, rel: &str) {
    let mut acc = String::new();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(part);
        out.entry(acc.clone()).or_insert(Entry::Dir { mode: 0o755, uid: 0, gid: 0 });
    }
}

/// Walk a host directory in sorted order; symlinks stay symlinks; other special files are skipped.
fn walk(dir: &Path, rel: &str, m: &FileMapping, out: &mut BTreeMap<String, Entry>) -> Result<(), BuildError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| BuildError::io("walking", dir, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| BuildError::io("walking", dir, e))?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let child = format!("{rel}/{}", name.to_string_lossy());
        let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io("reading", &path, e))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| BuildError::io("reading link", &path, e))?;
            out.insert(child, Entry::Link { target: target.to_string_lossy().into_owned(), uid: m.uid, gid: m.gid });
        } else if ft.is_dir() {
            out.insert(child.clone(), Entry::Dir { mode: 0o755, uid: m.uid, gid: m.gid });
            walk(&path, &child, m, out)?;
        } else if ft.is_file() {
            let mode = m.mode.unwrap_or_else(|| default_mode(&meta));
            out.insert(child, Entry::File { from: FileData::Host(path), mode, uid: m.uid, gid: m.gid });
        }
    }
    Ok(())
}

/// A writer that hashes what passes through.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Build one deterministic gzip layer from `mappings` with every mtime set to `mtime`.
pub fn build_layer(mappings: &[FileMapping], mtime: u64) -> Result<Layer, BuildError> {
    let entries = collect(mappings)?;
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Hashing { inner: Vec::new(), hasher: Sha256Hasher::new() }, Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(Hashing { inner: gz, hasher: Sha256Hasher::new() });
    tar.mode(tar::HeaderMode::Deterministic);
    let count = entries.len();
    let werr = |e| BuildError::io("writing layer entry", "<layer>", e);
    for (path, entry) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        match entry {
            Entry::Dir { mode, uid, gid } => {
                h.set_entry_type(tar::EntryType::Directory);
                set_owner(&mut h, mode, uid, gid);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty()).map_err(werr)?;
            }
            Entry::Link { target, uid, gid } => {
                h.set_entry_type(tar::EntryType::Symlink);
                set_owner(&mut h, 0o777, uid, gid);
                h.set_size(0);
                tar.append_link(&mut h, &path, &target).map_err(werr)?;
            }
            Entry::File { from, mode, uid, gid } => {
                h.set_entry_type(tar::EntryType::Regular);
                set_owner(&mut h, mode, uid, gid);
                match from {
                    FileData::Inline(bytes) => {
                        h.set_size(bytes.len() as u64);
                        tar.append_data(&mut h, &path, bytes.as_slice()).map_err(werr)?;
                    }
                    FileData::Host(src) => {
                        let file = fs::File::open(&src).map_err(|e| BuildError::io("reading", &src, e))?;
                        let len = file.metadata().map_err(|e| BuildError::io("reading", &src, e))?.len();
                        h.set_size(len);
                        tar.append_data(&mut h, &path, file).map_err(|e| BuildError::io("adding to layer", &src, e))?;
                    }
                }
            }
        }
    }
    let tar_writer = tar.into_inner().map_err(werr)?;
    let diff_id = tar_writer.hasher.finish();
    let gz_writer = tar_writer.inner.finish().map_err(werr)?;
    let digest = gz_writer.hasher.finish();
    Ok(Layer { blob: Bytes::from(gz_writer.inner), digest, diff_id, entries: count })
}

fn set_owner(h: &mut tar::Header, mode: u32, uid: u64, gid: u64) {
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    // new_gnu leaves user/group names and device numbers empty; keep them so.
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("d/sub")).unwrap();
        fs::write(root.join("d/b.txt"), "b").unwrap();
        fs::write(root.join("d/a.txt"), "a").unwrap();
        fs::write(root.join("d/sub/c"), "c").unwrap();
        fs::write(root.join("bin"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("bin"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("d/link")).unwrap();
    }

    fn mappings(root: &Path) -> Vec<FileMapping> {
        vec![
            FileMapping::path(root.join("d"), "/srv/data"),
            FileMapping::path(root.join("bin"), "/usr/local/bin/run"),
            FileMapping::contents("root:x:0:0::/:/bin/sh\n", "/etc/passwd"),
            FileMapping::path(root.join("d/a.txt"), "/owned").owner(999, 998).mode(0o600),
        ]
    }

    #[test]
    fn same_inputs_elsewhere_give_same_bytes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        tree(a.path());
        tree(b.path());
        // Different mtimes and a different umask-like mode on the copy.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        fs::File::options().write(true).open(b.path().join("d/a.txt")).unwrap().set_modified(old).unwrap();
        fs::set_permissions(b.path().join("bin"), fs::Permissions::from_mode(0o775)).unwrap();
        let la = build_layer(&mappings(a.path()), 0).unwrap();
        let lb = build_layer(&mappings(b.path()), 0).unwrap();
        assert_eq!(la.digest, lb.digest);
        assert_eq!(la.diff_id, lb.diff_id);
        assert_eq!(la.blob, lb.blob);
        assert_eq!(la.digest, Digest::sha256(&la.blob));
        let other = build_layer(&mappings(a.path()), 1).unwrap();
        assert_ne!(other.digest, la.digest, "mtime is part of the layer");
    }

    #[test]
    fn entries_are_sorted_normalised_and_owned() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let layer = build_layer(&mappings(a.path()), 42).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&layer.blob[..]).read_to_end(&mut raw).unwrap();
        assert_eq!(Digest::sha256(&raw), layer.diff_id);
        let mut archive = tar::Archive::new(&raw[..]);
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            assert_eq!(h.mtime().unwrap(), 42);
            assert_eq!(h.username().unwrap(), Some(""));
            assert_eq!(h.groupname().unwrap(), Some(""));
            if name == "owned" {
                assert_eq!((h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap()), (999, 998, 0o600));
            } else {
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            }
            if name == "usr/local/bin/run" {
                assert_eq!(h.mode().unwrap(), 0o755);
            }
            if name == "srv/data/link" {
                assert_eq!(h.link_name().unwrap().unwrap().to_string_lossy(), "a.txt");
            }
            names.push(name);
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.contains(&"usr/".to_string()) && names.contains(&"srv/data/sub/c".to_string()));
    }

    #[test]
    fn gzip_backend_and_level_are_pinned() {
        // A golden digest: if flate2's backend or level changes, every image digest changes, and
        // this test says so.
        let layer = build_layer(&[FileMapping::contents(vec![b'x'; 10_000], "/x")], 0).unwrap();
        // Recorded with flate2 1.1 + miniz_oxide 0.9 at level 6.
        assert_eq!(layer.digest.to_string(), "sha256:85cb9517313793b572a632e786de4662b3a773d5559c93ad8dd2200124ef5d89");
    }

    #[test]
    fn relative_target_is_invalid() {
        let err = build_layer(&[FileMapping::contents("x", "etc/x")], 0).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }
}
