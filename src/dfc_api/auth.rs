//! Bearer tokens of calling platforms. Each token belongs to exactly one platform, which sees and
//! changes only its own orders. Tokens are compared by digest so a lookup's timing tells nothing
//! about how much of a guess was right.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::header;
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

/// The platform that sent the request, from its `Authorization: Bearer` header.
#[derive(Debug, Clone)]
pub struct CallingPlatform(pub String);

impl FromRequestParts<AppState> for CallingPlatform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        let platform = state.clients.platform_for(token).ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("platform", platform);
        Ok(CallingPlatform(platform.to_owned()))
    }
}
