//! The build context sent to the engine: a directory walked in sorted order, filtered by its
//! `.dockerignore` exactly as the Docker CLI does (see [`super::ignore`]), as a tar archive.
//! The Dockerfile and `.dockerignore` are always sent; files keep their modes and mtimes,
//! owners are 0:0 as with the Docker CLI.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::ignore::IgnoreRules;
use super::BuildError;

/// A build context ready to send.
#[derive(Debug, Clone)]
pub struct BuildContext {
    entries: Vec<String>,
    tar: Vec<u8>,
    dockerfile: String,
}

impl BuildContext {
    /// Walk `dir`, honouring `dir/.dockerignore`. `dockerfile` is the Dockerfile path (relative
    /// to the current directory or absolute); when it lies outside the context it is added as
    /// `.slipway.Dockerfile`.
    pub fn from_dir(dir: &Path, dockerfile: Option<&Path>) -> Result<Self, BuildError> {
        let meta = fs::metadata(dir).map_err(|e| BuildError::io("reading build context", dir, e))?;
        if !meta.is_dir() {
            return Err(BuildError::Invalid(format!("build context {} is not a directory", dir.display())));
        }
        let (dockerfile_name, outside) = dockerfile_name(dir, dockerfile)?;
        let ignore_path = dir.join(".dockerignore");
        let mut rules = match fs::read_to_string(&ignore_path) {
            Ok(text) => IgnoreRules::parse(&text, &ignore_path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => IgnoreRules::empty(),
            Err(e) => return Err(BuildError::io("reading", ignore_path, e)),
        };
        if outside.is_none() {
            rules.always_include(&dockerfile_name)?;
        }
        rules.always_include(".dockerignore")?;

        let mut entries = Vec::new();
        walk(dir, "", &rules, &mut entries)?;
        let mut builder = tar::Builder::new(Vec::new());
        for rel in &entries {
            append(&mut builder, &dir.join(rel), rel)?;
        }
        if let Some(path) = &outside {
            append(&mut builder, path, &dockerfile_name)?;
            entries.push(dockerfile_name.clone());
        }
        let tar = builder.into_inner().map_err(|e| BuildError::io("writing context tar for", dir, e))?;
        Ok(Self { entries, tar, dockerfile: dockerfile_name })
    }

    /// The paths sent, relative to the context root, in the order sent.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The Dockerfile's name inside the context.
    pub fn dockerfile(&self) -> &str {
        &self.dockerfile
    }

    /// The tar archive.
    pub fn tar(&self) -> &[u8] {
        &self.tar
    }

    /// The tar archive, by value.
    pub fn into_tar(self) -> Vec<u8> {
        self.tar
    }
}

/// The Dockerfile's name in the context and, when it lies outside, its real path.
fn dockerfile_name(dir: &Path, dockerfile: Option<&Path>) -> Result<(String, Option<PathBuf>), BuildError> {
    let Some(path) = dockerfile else {
        return Ok(("Dockerfile".into(), None));
    };
    let abs_dir = fs::canonicalize(dir).map_err(|e| BuildError::io("resolving", dir, e))?;
    let abs_file = fs::canonicalize(path).map_err(|e| BuildError::io("reading Dockerfile", path, e))?;
    match abs_file.strip_prefix(&abs_dir) {
        Ok(rel) => Ok((rel.to_string_lossy().replace('\\', "/"), None)),
        Err(_) => Ok((".slipway.Dockerfile".into(), Some(abs_file))),
    }
}

/// Docker's walk: lexical order; an excluded directory is skipped unless an exception pattern
/// names something below it; an excluded entry itself is never sent.
fn walk(root: &Path, prefix: &str, rules: &IgnoreRules, out: &mut Vec<String>) -> Result<(), BuildError> {
    let dir = root.join(prefix);
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| BuildError::io("walking", &dir, e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| BuildError::io("walking", &dir, e))?;
    names.sort();
    for name in names {
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let path = root.join(&rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io("reading", &path, e))?;
        let excluded = rules.is_excluded(&rel);
        if excluded {
            if meta.is_dir() && rules.has_exceptions() && rules.must_descend(&rel) {
                walk(root, &rel, rules, out)?;
            }
            continue;
        }
        out.push(rel.clone());
        if meta.is_dir() {
            walk(root, &rel, rules, out)?;
        }
    }
    Ok(())
}

/// Append one file, directory or symlink with its mode and mtime, owned by 0:0.
fn append(builder: &mut tar::Builder<Vec<u8>>, path: &Path, name: &str) -> Result<(), BuildError> {
    let meta = fs::symlink_metadata(path).map_err(|e| BuildError::io("reading", path, e))?;
    let mut header = tar::Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(meta.mtime().max(0) as u64);
    let io_err = |e| BuildError::io("adding to context", path, e);
    if meta.is_dir() {
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        builder.append_data(&mut header, format!("{name}/"), std::io::empty()).map_err(io_err)
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(io_err)?;
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder.append_link(&mut header, name, target).map_err(io_err)
    } else if meta.is_file() {
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        let file = fs::File::open(path).map_err(io_err)?;
        builder.append_data(&mut header, name, file).map_err(io_err)
    } else {
        // Sockets, FIFOs and devices are not sent (the Docker CLI refuses most of them too).
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, rel).unwrap();
    }

    #[test]
    fn walks_sorted_and_honours_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        for f in ["Dockerfile", "b.txt", "a.txt", "node_modules/x/y.js", "docs/keep.md", "docs/drop.md", "s/t.log"] {
            touch(d.path(), f);
        }
        fs::write(
            d.path().join(".dockerignore"),
            "node_modules\ndocs\n!docs/keep.md\n**/*.log\nDockerfile\n.dockerignore\n",
        )
        .unwrap();
        let ctx = BuildContext::from_dir(d.path(), None).unwrap();
        assert_eq!(ctx.entries(), [".dockerignore", "Dockerfile", "a.txt", "b.txt", "docs/keep.md", "s"]);
        let mut archive = tar::Archive::new(ctx.tar());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, [".dockerignore", "Dockerfile", "a.txt", "b.txt", "docs/keep.md", "s/"]);
    }

    #[test]
    fn dockerfile_outside_the_context_is_added() {
        let d = tempfile::tempdir().unwrap();
        let ctx_dir = d.path().join("ctx");
        touch(&ctx_dir, "app.txt");
        touch(d.path(), "build.Dockerfile");
        let ctx = BuildContext::from_dir(&ctx_dir, Some(&d.path().join("build.Dockerfile"))).unwrap();
        assert_eq!(ctx.dockerfile(), ".slipway.Dockerfile");
        assert_eq!(ctx.entries(), ["app.txt", ".slipway.Dockerfile"]);
    }

    #[test]
    fn not_a_directory_is_invalid_input() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "f");
        let err = BuildContext::from_dir(&d.path().join("f"), None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }
}
