//! The compose loading flags shared by `config` and `render` (`-f` repeated, `--env-file`,
//! `-p`, `--profile`), in one place so both commands load a stack the same way.

use std::path::PathBuf;

use slipway::compose::LoadOptions;

/// How to load the compose stack.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LoadArgs {
    /// Compose files, merged in order (default: compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Variables for interpolation (default: .env next to the first file); the process environment wins.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// Enable services of this profile (repeatable; default: COMPOSE_PROFILES).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Project name (default: `name:`, COMPOSE_PROJECT_NAME, or the first file's folder).
    #[arg(short = 'p', long = "project-name")]
    pub project: Option<String>,
}

impl LoadArgs {
    /// The core's load options for these flags.
    pub fn options(&self) -> LoadOptions {
        let mut opts = LoadOptions::new(self.files.clone()).profiles(self.profiles.clone());
        if let Some(f) = &self.env_file {
            opts = opts.env_file(f.clone());
        }
        if let Some(p) = &self.project {
            opts = opts.project(p.clone());
        }
        opts
    }
}
