//! A `docker-credential-<name>` program for tests: it answers `get` with fixed credentials and
//! appends every call (`<verb> <input>`) to a log, so a test can check who asked for what.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A credential helper written into a directory meant for `PATH`.
pub struct CredentialHelper {
    /// The helper's name as `config.json` spells it (`credHelpers` / `credsStore` values).
    pub name: String,
    /// The program (`<dir>/docker-credential-<name>`).
    pub program: PathBuf,
    /// The log of calls, one `<verb> <input>` per line.
    pub calls: PathBuf,
}

impl CredentialHelper {
    /// Write `docker-credential-<name>` into `dir`, answering `get` with `username`/`secret`.
    pub fn write(dir: &Path, name: &str, username: &str, secret: &str) -> anyhow::Result<Self> {
        let calls = dir.join(format!("{name}-calls.log"));
        let script = format!(
            "#!/bin/sh\nread input\necho \"$1 $input\" >> {calls}\nif [ \"$1\" = get ]; then printf '{{\"ServerURL\":\"%s\",\"Username\":\"{username}\",\"Secret\":\"{secret}\"}}' \"$input\"; fi\n",
            calls = calls.display(),
        );
        let program = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&program, script).with_context(|| format!("cannot write {}", program.display()))?;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { name: name.to_string(), program, calls })
    }

    /// The calls made so far, one `<verb> <input>` per line (empty when none).
    pub fn calls(&self) -> String {
        std::fs::read_to_string(&self.calls).unwrap_or_default()
    }
}
