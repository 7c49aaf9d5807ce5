//! Opening an image location given as text (`oci:DIR[:TAG]` or a registry reference) as a
//! [`Registry`] plus the reference to use with it, for bases and outputs of `OciBuild`: a
//! [`Layout`](crate::registry::Layout) or a [`Distribution`](crate::registry::Distribution) client,
//! through the registry room's `ops::open`.

use std::sync::Arc;

use crate::build::BuildError;
use crate::registry::{ops, DistributionOptions, Location, Registry};
use crate::ImageRef;

/// Open `location` with default registry options (credentials from Docker's `config.json`).
pub async fn open_location(location: &str, create: bool) -> Result<(Arc<dyn Registry>, ImageRef), BuildError> {
    open_location_with(location, &DistributionOptions::default(), create).await
}

/// Open `location` for reading (`create == false`) or writing (`create == true`: a missing
/// layout directory is created), with these registry options.
pub async fn open_location_with(
    location: &str,
    options: &DistributionOptions,
    create: bool,
) -> Result<(Arc<dyn Registry>, ImageRef), BuildError> {
    let loc = Location::parse(location).map_err(|e| BuildError::Invalid(format!("{location}: {e}")))?;
    let opened = ops::open(&loc, options, create)
        .await
        .map_err(|source| BuildError::registry(format!("opening {loc}"), source))?;
    Ok((Arc::from(opened.registry), opened.reference))
}
