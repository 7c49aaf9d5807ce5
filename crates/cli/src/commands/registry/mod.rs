//! Registry subcommands: `login`, `digest`, `ls`, `inspect`, `copy`, `push`, `load`, `rm`, `prune`.
//! Shared here: the connection flags and the progress renderer.

pub mod copy;
pub mod digest;
pub mod inspect;
pub mod load;
pub mod login;
pub mod ls;
pub mod prune;
pub mod push;
pub mod rm;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use slipway::registry::{Credentials, DistributionOptions, Location, RegistryError, RegistryEvent};
use slipway::Event;

/// Flags for reaching a registry.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// Speak plain HTTP to this registry host (repeatable); loopback hosts always do.
    #[arg(long = "insecure", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Trust the CA certificates in this PEM file.
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// User name for the registry (else Docker's config.json is used).
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Read the password from stdin (with --username).
    #[arg(long)]
    pub password_stdin: bool,
}

/// Read one secret line from stdin (trailing newline removed).
pub fn read_stdin_secret() -> Result<String, RegistryError> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| RegistryError::io("stdin", "read password", e))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

impl ConnectArgs {
    /// The client options these flags describe.
    pub fn options(&self) -> Result<DistributionOptions, RegistryError> {
        let mut o = DistributionOptions::default();
        for h in &self.insecure {
            o = o.insecure(h);
        }
        if let Some(ca) = &self.ca {
            o = o.ca_file(ca);
        }
        match (&self.username, self.password_stdin) {
            (Some(u), true) => o = o.credentials(Credentials::basic(u.clone(), read_stdin_secret()?)),
            (None, true) => return Err(RegistryError::invalid("--password-stdin", "needs --username")),
            (Some(_), false) => return Err(RegistryError::invalid("--username", "needs --password-stdin")),
            (None, false) => {}
        }
        Ok(o)
    }
}

/// Parse an image argument (`REF` or `oci:DIR[:TAG]`).
pub fn location(s: &str) -> Result<Location, RegistryError> {
    Location::parse(s)
}

/// Print transfer progress on stderr when it is a terminal.
pub fn progress_observer() -> impl Fn(&Event) + Send + Sync {
    let tty = std::io::stderr().is_terminal();
    move |e: &Event| {
        if !tty {
            return;
        }
        if let Event::Registry(e) = e {
            let line = match e {
                RegistryEvent::BlobExists { digest, .. } => format!("exists   {digest}"),
                RegistryEvent::BlobMounted { digest, from } => format!("mounted  {digest} from {from}"),
                RegistryEvent::BlobCopied { digest, size } => format!("copied   {digest} ({size} bytes)"),
                RegistryEvent::ManifestPut { reference, .. } => format!("manifest {reference}"),
                _ => return,
            };
            eprintln!("{line}");
        }
    }
}

/// Report a registry error and return its exit code.
pub fn fail(e: RegistryError) -> u8 {
    crate::output::report_error(&slipway::Error::from(e))
}
