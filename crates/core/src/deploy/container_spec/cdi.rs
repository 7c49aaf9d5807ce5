//! CDI device names (`vendor.com/class=name`, the Container Device Interface's fully qualified
//! names) as Compose tells them apart from device paths in `devices:`: an entry whose source and
//! target are the same qualified name is not a device mapping but part of one `cdi` device
//! request (compose's `getDeployResources`). The name rules are the CDI parser's
//! (`tags.cncf.io/container-device-interface/pkg/parser`).

use bollard::models::DeviceRequest;

use crate::stack::DeviceSpec;

/// The CDI parser's shape of a name: `first` holds for its first character (the only check of a
/// one-character name), a letter or digit ends it, and letters, digits or `between` fill it.
fn shaped(s: &str, first: fn(&u8) -> bool, between: &[u8]) -> bool {
    match s.as_bytes() {
        [] => false,
        [only] => first(only),
        [head, middle @ .., last] => {
            first(head)
                && last.is_ascii_alphanumeric()
                && middle.iter().all(|c| c.is_ascii_alphanumeric() || between.contains(c))
        }
    }
}

/// `vendor` or `class`: a letter first, a letter or digit last, letters, digits, `_`, `-`, `.`
/// between.
fn vendor_or_class(s: &str) -> bool {
    shaped(s, u8::is_ascii_alphabetic, b"_-.")
}

/// A device name: a letter or digit at both ends, letters, digits, `_`, `-`, `.`, `:` between.
fn device_name(s: &str) -> bool {
    shaped(s, u8::is_ascii_alphanumeric, b"_-.:")
}

/// Whether `device` is a fully qualified CDI name (`vendor/class=name`).
pub fn is_qualified_name(device: &str) -> bool {
    if device.starts_with('/') {
        return false;
    }
    let Some((qualifier, name)) = device.split_once('=') else { return false };
    let Some((vendor, class)) = qualifier.split_once('/') else { return false };
    vendor_or_class(vendor) && vendor_or_class(class) && device_name(name)
}

/// Whether a `devices:` entry names a CDI device rather than a device path.
pub fn is_cdi_device(d: &DeviceSpec) -> bool {
    d.source == d.target && is_qualified_name(&d.source)
}

/// The one `cdi` device request of the CDI names among `devices`, as Compose builds it.
pub fn cdi_request(devices: &[DeviceSpec]) -> Option<DeviceRequest> {
    let names: Vec<String> = devices.iter().filter(|d| is_cdi_device(d)).map(|d| d.source.clone()).collect();
    (!names.is_empty()).then(|| DeviceRequest {
        driver: Some("cdi".into()),
        count: Some(0),
        device_ids: Some(names),
        capabilities: None,
        options: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_follow_the_cdi_parser() {
        for ok in ["nvidia.com/gpu=all", "vendor.com/class=dev0", "a/b=c", "example.org/fpga=card:1.2", "v-1/c_2=x"] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in [
            "/dev/ttyUSB0",
            "nvidia.com/gpu",
            "gpu=all",
            "/nvidia.com/gpu=all",
            "1vendor/class=x",
            "vendor/class-=x",
            "vendor/class=",
            "vendor/class=-x",
            "vendor/cl ass=x",
            "=x",
        ] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
    }

    #[test]
    fn cdi_names_become_one_request_and_paths_stay_mappings() {
        let d = |s: &str, t: &str| DeviceSpec { source: s.into(), target: t.into(), permissions: "rwm".into() };
        let devices = vec![
            d("/dev/fuse", "/dev/fuse"),
            d("nvidia.com/gpu=0", "nvidia.com/gpu=0"),
            d("vendor.com/fpga=a", "vendor.com/fpga=a"),
        ];
        let r = cdi_request(&devices).expect("a request");
        assert_eq!(r.driver.as_deref(), Some("cdi"));
        assert_eq!(r.device_ids, Some(vec!["nvidia.com/gpu=0".to_string(), "vendor.com/fpga=a".to_string()]));
        assert!(!is_cdi_device(&devices[0]));
        // A qualified name mapped to another path is a device mapping, as in Compose.
        assert!(!is_cdi_device(&d("nvidia.com/gpu=0", "/dev/gpu")));
        assert!(cdi_request(&devices[..1]).is_none());
    }
}
