//! Packing programs of this machine into layers: each program plus the shared libraries it
//! links (the `ldd` closure, including the dynamic loader), at the same paths as on the host,
//! plus given data files. Lets tests run PostgreSQL, Redis or Traefik from this machine's own
//! binaries in containers, without pulling any image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::oci::{FileMapping, LayerSpec};
use super::BuildError;

/// The shared libraries `program` needs, as absolute host paths, sorted (via `ldd`; statically
/// linked programs need none).
pub fn ldd_closure(program: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let pack_err = |reason: String| BuildError::Pack { program: program.to_path_buf(), reason };
    if !program.is_file() {
        return Err(pack_err("no such file".into()));
    }
    let out = Command::new("ldd").arg(program).output().map_err(|e| pack_err(format!("running ldd: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // `ldd` exits 1 with "not a dynamic executable" for static programs.
        if stdout.contains("not a dynamic executable") || stderr.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        return Err(pack_err(format!("ldd failed: {}", stderr.trim())));
    }
    parse_ldd(&stdout).map_err(pack_err)
}

/// Parse `ldd` output: `name => /path (addr)`, `/path (addr)`; `not found` is an error.
fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("=> not found") {
            return Err(format!("missing shared library: {line}"));
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.insert(PathBuf::from(path));
        }
    }
    Ok(libs.into_iter().collect())
}

/// What to pack: programs (with their library closure) and data paths, all at their host paths
/// unless mapped explicitly.
#[derive(Debug, Clone, Default)]
pub struct Pack {
    programs: Vec<PathBuf>,
    data: Vec<FileMapping>,
}

impl Pack {
    /// An empty pack.
    pub fn new() -> Self {
        Self::default()
    }
    /// A program, packed at its host path with its shared libraries.
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.programs.push(path.into());
        self
    }
    /// Data (a file or directory) at its host path; shared objects (`*.so`) found in it get
    /// their library closure packed too.
    pub fn data(mut self, path: impl Into<PathBuf>) -> Self {
        let p: PathBuf = path.into();
        let target = p.to_string_lossy().into_owned();
        self.data.push(FileMapping::path(p, target));
        self
    }
    /// Any other mapping (literal files, different target paths, owners).
    pub fn mapping(mut self, mapping: FileMapping) -> Self {
        self.data.push(mapping);
        self
    }

    /// The mappings of one layer holding everything: programs, data, and every library needed
    /// by the programs and by shared objects inside data directories.
    pub fn mappings(&self) -> Result<Vec<FileMapping>, BuildError> {
        let mut libs = BTreeSet::new();
        let mut out = Vec::new();
        for p in &self.programs {
            libs.extend(ldd_closure(p)?);
            out.push(FileMapping::path(p.clone(), p.to_string_lossy().into_owned()));
        }
        for m in &self.data {
            if let super::oci::Source::Path(src) = &m.source {
                for so in shared_objects(src) {
                    libs.extend(ldd_closure(&so)?);
                }
            }
            out.push(m.clone());
        }
        for lib in libs {
            // Symlinked libraries are copied with their content to the path the loader asks for.
            out.push(FileMapping::path(lib.clone(), lib.to_string_lossy().into_owned()));
        }
        Ok(out)
    }

    /// The whole pack as one layer.
    pub fn layer(&self) -> Result<LayerSpec, BuildError> {
        let names: Vec<String> = self.programs.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        Ok(LayerSpec::new(self.mappings()?).comment(format!("packed {}", names.join(", "))))
    }
}

/// `*.so` files below `path` (or `path` itself), sorted.
fn shared_objects(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let is_so = |p: &Path| p.extension().is_some_and(|e| e == "so") || p.to_string_lossy().contains(".so.");
    if path.is_file() {
        if is_so(path) {
            out.push(path.to_path_buf());
        }
        return out;
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && is_so(&p) => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// A minimal `/etc/passwd` and `/etc/group` with root, `nobody` and one service user, for
/// programs that refuse to run as root (PostgreSQL).
pub fn minimal_users(user: &str, uid: u32, gid: u32) -> Vec<FileMapping> {
    let passwd = format!(
        "root:x:0:0:root:/root:/bin/sh\n{user}:x:{uid}:{gid}:{user}:/var/lib/{user}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    );
    let group = format!("root:x:0:\n{user}:x:{gid}:\nnogroup:x:65534:\n");
    vec![FileMapping::contents(passwd, "/etc/passwd"), FileMapping::contents(group, "/etc/group")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n";
        let libs = parse_ldd(text).unwrap();
        assert_eq!(
            libs,
            [PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"), PathBuf::from("/lib64/ld-linux-x86-64.so.2")]
        );
        assert!(parse_ldd("\tlibfoo.so => not found\n").is_err());
    }

    #[test]
    fn closure_of_a_real_program_includes_libc_and_loader() {
        let libs = ldd_closure(Path::new("/bin/ls")).unwrap();
        assert!(libs.iter().any(|l| l.to_string_lossy().contains("libc.so")));
        assert!(libs.iter().any(|l| l.to_string_lossy().contains("ld-linux")));
    }

    #[test]
    fn missing_program_is_reported() {
        let err = ldd_closure(Path::new("/nonexistent/prog")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/prog"));
    }
}
