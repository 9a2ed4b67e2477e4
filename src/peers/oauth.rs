//! Access tokens for a peer from its OAuth server: fetched when first needed, reused until a
//! minute before they expire, renewed once when the peer answers 401 (Open Food Network's
//! backorders stopped for weeks on expired tokens).

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::PeerError;
use crate::config::{PeerOAuth, SecretString};

/// Renew this long before a token expires, so that no call carries one about to lapse.
const RENEW_AHEAD: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

struct Held {
    token: SecretString,
    renew_at: Instant,
}

struct State {
    held: Option<Held>,
    refresh_token: Option<SecretString>,
}

/// One peer's token source. Callers that need a token while one is being fetched wait for that
/// fetch and use its token (a lock, never a skip).
pub struct OAuthTokens {
    config: PeerOAuth,
    state: tokio::sync::Mutex<State>,
}

impl OAuthTokens {
    pub fn new(config: PeerOAuth) -> OAuthTokens {
        let refresh_token = config.refresh_token.clone();
        OAuthTokens { config, state: tokio::sync::Mutex::new(State { held: None, refresh_token }) }
    }

    /// A token valid for a while yet.
    pub async fn bearer(&self, http: &reqwest::Client, deadline: Duration) -> Result<SecretString, PeerError> {
        let mut state = self.state.lock().await;
        if let Some(held) = &state.held
            && Instant::now() < held.renew_at
        {
            return Ok(held.token.clone());
        }
        self.fetch(&mut state, http, deadline).await
    }

    /// A new token after the peer refused `refused`: unless another caller renewed it meanwhile.
    pub async fn renew(
        &self,
        refused: &SecretString,
        http: &reqwest::Client,
        deadline: Duration,
    ) -> Result<SecretString, PeerError> {
        let mut state = self.state.lock().await;
        if let Some(held) = &state.held
            && held.token != *refused
        {
            return Ok(held.token.clone());
        }
        state.held = None;
        self.fetch(&mut state, http, deadline).await
    }

    async fn fetch(
        &self,
        state: &mut State,
        http: &reqwest::Client,
        deadline: Duration,
    ) -> Result<SecretString, PeerError> {
        // Built before any await: the serializer is not Send.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            match &state.refresh_token {
                Some(refresh) => {
                    form.append_pair("grant_type", "refresh_token").append_pair("refresh_token", refresh.expose())
                }
                None => form.append_pair("grant_type", "client_credentials"),
            };
            form.append_pair("client_id", &self.config.client_id);
            if let Some(secret) = &self.config.client_secret {
                form.append_pair("client_secret", secret.expose());
            }
            if let Some(scope) = &self.config.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let exchange = async {
            let response = http
                .post(&self.config.token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(form)
                .timeout(deadline)
                .send()
                .await
                .map_err(|e| PeerError::Unreachable(format!("token endpoint: {}", super::without_url(&e))))?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|e| PeerError::Broken(format!("token endpoint: {}", super::without_url(&e))))?;
            Ok::<_, PeerError>((status, body))
        };
        let (status, body) =
            tokio::time::timeout(deadline, exchange).await.map_err(|_| PeerError::Timeout(deadline))??;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), client = %self.config.client_id, "the token endpoint refused");
            return Err(PeerError::Rejected {
                status: status.as_u16(),
                code: Some("PEER_AUTH_FAILED".into()),
                message: format!("the token endpoint refused our credentials ({status})"),
                shortages: Vec::new(),
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| PeerError::BadPayload(format!("token endpoint answer: {e}")))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3_600));
        let token = SecretString::new(answer.access_token);
        if let Some(rotated) = answer.refresh_token {
            state.refresh_token = Some(SecretString::new(rotated));
        }
        state.held =
            Some(Held { token: token.clone(), renew_at: Instant::now() + lifetime.saturating_sub(RENEW_AHEAD) });
        Ok(token)
    }
}
