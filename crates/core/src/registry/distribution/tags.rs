//! Tag listing with `Link` pagination.

use super::{error_from, Distribution};
use crate::registry::RegistryError;
use crate::registry::Site;

#[derive(serde::Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The `next` URL of a `Link` header (`</v2/x/tags/list?last=a&n=100>; rel="next"`).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

/// All tags of `repository`, sorted.
pub async fn list(d: &Distribution, repository: &str) -> Result<Vec<String>, RegistryError> {
    let op = d.op(repository, "list tags", "pull");
    let mut url = d.transport.url(&format!("/v2/{repository}/tags/list?n=100"));
    let mut tags = Vec::new();
    for _ in 0..10_000 {
        let resp = d.transport.send(&op, |c| c.get(&url)).await?;
        if !resp.status().is_success() {
            return Err(error_from(&d.transport, &op, resp, "tag list").await);
        }
        let next = resp.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
        let page: TagList = resp.json().await.map_err(|e| RegistryError::Http {
            at: Site::boxed(d.transport.host.clone(), repository.to_string(), op.operation.to_string()),
            status: 200,
            message: format!("bad tag list: {}", e.without_url()),
        })?;
        tags.extend(page.tags.unwrap_or_default());
        match next {
            Some(n) => url = d.transport.resolve_location(&n),
            None => break,
        }
    }
    tags.sort();
    tags.dedup();
    Ok(tags)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_link_headers() {
        assert_eq!(
            super::next_link(r#"</v2/app/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/app/tags/list?last=b&n=2")
        );
        assert_eq!(super::next_link(r#"<https://x/y>; rel="prev""#), None);
    }
}
