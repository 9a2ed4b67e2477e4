//! Bearer tokens of calling platforms. Each token belongs to exactly one platform, which sees and
//! changes only its own orders. Tokens are compared by digest so a lookup's timing tells nothing
//! about how much of a guess was right.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::config::ClientConfig;
use crate::http::AppState;

#[derive(Debug, Default)]
pub struct Clients {
    by_digest: HashMap<[u8; 32], String>,
}

impl Clients {
    pub fn new(clients: &[ClientConfig]) -> Clients {
        Clients { by_digest: clients.iter().map(|c| (digest(c.token.expose()), c.platform.clone())).collect() }
    }

    pub fn platform_for(&self, token: &str) -> Option<&str> {
        self.by_digest.get(&digest(token)).map(String::as_str)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The platform that sent the request, from its `Authorization: Bearer` header: one of the
/// configured static tokens (every right), or an OIDC access token of the configured issuer whose
/// client (`azp` / `client_id`) is a configured platform, and whose scopes allow the request:
/// `ReadProducts` to read catalogues, `ReadOrders` to read orders, `WriteOrders` to place or change
/// them.
#[derive(Debug, Clone)]
pub struct CallingPlatform(pub String);

/// The scope a request needs.
fn needed_scope(parts: &Parts) -> &'static str {
    let path = parts.uri.path();
    let orders = path.contains("/orders") || path.contains("/Orders");
    match (orders, parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD) {
        (true, true) => "ReadOrders",
        (true, false) => "WriteOrders",
        (false, _) => "ReadProducts",
    }
}

impl FromRequestParts<AppState> for CallingPlatform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = crate::auth::bearer_token(&parts.headers).ok().flatten().ok_or(ApiError::Unauthorized)?;
        let platform = match state.clients.platform_for(token) {
            Some(platform) => platform.to_owned(),
            None => {
                let identity = state.verifier.verify(token).await.map_err(|reason| {
                    tracing::info!(reason = %reason, "a DFC access token was refused");
                    ApiError::Unauthorized
                })?;
                let Some(platform) = identity.client.as_deref().and_then(|c| state.verifier.dfc_platform(c)) else {
                    tracing::info!(client = ?identity.client, "an access token of a client that is no platform");
                    return Err(ApiError::Forbidden("this client is not a platform allowed to call this API".into()));
                };
                let scope = needed_scope(parts);
                if !identity.scopes.contains(scope) {
                    return Err(ApiError::Forbidden(format!("the token lacks the `{scope}` scope")));
                }
                platform.to_owned()
            }
        };
        tracing::Span::current().record("platform", platform.as_str());
        Ok(CallingPlatform(platform))
    }
}
