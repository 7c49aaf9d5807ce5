//! Registry authentication: parsing `WWW-Authenticate` challenges, fetching bearer tokens from the
//! realm (basic credentials, or an OAuth2 refresh token for identity tokens), and caching tokens per
//! scope set until shortly before they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::credentials::Credentials;
use crate::secret::Secret;

/// What the registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP basic auth.
    Basic,
    /// Bearer tokens from `realm` for `service`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service name to ask tokens for.
        service: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value (`Bearer realm="..",service="..",scope=".."`).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    Some(Challenge::Bearer { realm: params.get("realm")?.clone(), service: params.get("service").cloned() })
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.insert(key, value);
        rest = next.trim_start_matches([',', ' ']);
    }
    out
}

/// The scope string for a repository (`repository:app:pull,push`).
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// Cached tokens, keyed by the sorted scopes they were issued for.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<String, (Secret, Instant)>,
}

impl TokenCache {
    /// The cache key for a set of scopes.
    pub fn key(scopes: &[String]) -> String {
        let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
        s.sort_unstable();
        s.dedup();
        s.join(" ")
    }
    /// A token still valid for `key`.
    pub fn get(&self, key: &str) -> Option<Secret> {
        self.tokens.get(key).filter(|(_, until)| Instant::now() < *until).map(|(t, _)| t.clone())
    }
    /// Remember a token for `expires_in` seconds (minus a safety margin).
    pub fn put(&mut self, key: String, token: Secret, expires_in: u64) {
        let ttl = Duration::from_secs(expires_in.max(60)).saturating_sub(Duration::from_secs(10));
        self.tokens.insert(key, (token, Instant::now() + ttl));
    }
    /// Forget a token (the registry refused it).
    pub fn forget(&mut self, key: &str) {
        self.tokens.remove(key);
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Why a token request failed (no secrets inside).
#[derive(Debug)]
pub enum TokenError {
    /// The token server refused the credentials (HTTP status).
    Refused(u16),
    /// Transport or format failure (retryable when `true`).
    Failed(String, bool),
}

/// Ask `realm` for a token covering `scopes`; returns the token and its lifetime in seconds.
pub async fn fetch_token(
    client: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credentials: &Credentials,
) -> Result<(Secret, u64), TokenError> {
    let request = match credentials {
        Credentials::IdentityToken(refresh) => {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh.expose().to_string()),
                ("client_id", "slipway".to_string()),
            ];
            if let Some(s) = service {
                form.push(("service", s.to_string()));
            }
            if !scopes.is_empty() {
                form.push(("scope", scopes.join(" ")));
            }
            client.post(realm).form(&form)
        }
        _ => {
            let mut query: Vec<(&str, &str)> = Vec::new();
            if let Some(s) = service {
                query.push(("service", s));
            }
            for s in scopes {
                query.push(("scope", s));
            }
            let mut r = client.get(realm).query(&query);
            if let Credentials::Basic { username, password } = credentials {
                r = r.basic_auth(username, Some(password.expose()));
            }
            r
        }
    };
    let resp = request.send().await.map_err(|e| TokenError::Failed(e.without_url().to_string(), true))?;
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        return Err(TokenError::Refused(status));
    }
    if !resp.status().is_success() {
        return Err(TokenError::Failed(format!("token server answered {status}"), status >= 500 || status == 429));
    }
    let body: TokenResponse = resp.json().await.map_err(|e| TokenError::Failed(e.without_url().to_string(), false))?;
    let token = body
        .token
        .or(body.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Failed("token server sent no token".into(), false))?;
    Ok((Secret::new(token), body.expires_in.unwrap_or(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer { realm: "https://auth.example/token".into(), service: Some("registry.example".into()) }
        );
        assert_eq!(parse_challenge(r#"Basic realm="x""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(TokenCache::key(&["b".into(), "a".into(), "a".into()]), "a b");
    }
}
