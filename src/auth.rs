//! Who is calling: identity from a JWT, verified here whatever verified it before (a gateway
//! forwards the client's `Authorization` header; a network position proves nothing).
//!
//! Keys come from a JWKS file (the issuer's published keys, by `kid`) or, for development, an
//! HS256 secret. A token is accepted when its signature verifies with a key of an allowed
//! algorithm, its `iss` is one of `issuers`, its `aud` one of `audiences` (when any are set), and
//! it has not expired (with `leeway_secs`). Which claims name the subject, the roles and the
//! enterprises a person works for is configured:
//!
//! ```toml
//! [auth]
//! jwks_file = "/etc/orderhub/jwks.json"
//! issuers = ["https://login.example"]
//! audiences = ["orderhub"]
//! subject_claim = "sub"
//! roles_claim = "scope"                 # "customer trader_staff" or ["customer", ...]
//! enterprises_claim = "orderhub/enterprises"
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::config::SecretString;

/// The issuer of development tokens (`orderhub token`).
pub const DEV_ISSUER: &str = "orderhub-dev";

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Signs and verifies development tokens (HS256, issuer `orderhub-dev`). Never in production.
    pub hs256_secret: Option<SecretString>,
    /// The issuers' public keys, a JWKS document.
    pub jwks_file: Option<PathBuf>,
    /// Or where the issuer publishes them: fetched when first needed, again every
    /// `jwks_refresh_secs`, and when a token names a key not held (at most once every
    /// `jwks_refetch_secs`, so that made-up key ids cannot make us hammer the issuer).
    pub jwks_url: Option<String>,
    pub jwks_refresh_secs: u64,
    pub jwks_refetch_secs: u64,
    pub issuers: Vec<String>,
    /// Accepted `aud` values; none: `aud` is not checked.
    pub audiences: Vec<String>,
    /// Signature algorithms accepted with JWKS keys.
    pub algorithms: Vec<String>,
    pub leeway_secs: u64,
    pub subject_claim: String,
    pub roles_claim: String,
    pub enterprises_claim: String,
    /// Platforms calling the DFC API with access tokens of the issuer: OAuth client id (`azp` or
    /// `client_id` of the token) to platform id.
    pub dfc_clients: std::collections::BTreeMap<String, String>,
    /// Whether callers without a token may see sales sessions, their catalogue and cart prices.
    pub anonymous_browsing: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hs256_secret: None,
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_secs: 3_600,
            jwks_refetch_secs: 30,
            issuers: Vec::new(),
            audiences: Vec::new(),
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            leeway_secs: 30,
            subject_claim: "sub".into(),
            roles_claim: "scope".into(),
            enterprises_claim: "orderhub/enterprises".into(),
            dfc_clients: std::collections::BTreeMap::new(),
            anonymous_browsing: true,
        }
    }
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub roles: BTreeSet<String>,
    pub enterprises: BTreeSet<String>,
    /// The OAuth client the token was issued to (`azp`, else `client_id`).
    pub client: Option<String>,
    /// The token's OAuth scopes (`scope`, space-separated, or `scp`).
    pub scopes: BTreeSet<String>,
    /// When the token stops verifying (Unix seconds: its `exp` plus the leeway): a subscription
    /// opened with it ends then.
    pub expires_at: Option<i64>,
}

/// Why a token is refused. Clients see only the code; the reason is logged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("the token has expired")]
    Expired,
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("no trusted key verifies the token")]
    BadSignature,
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

#[derive(Clone)]
struct TrustedKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// Keys by `kid`; keys without one under "".
type Keys = HashMap<String, Vec<TrustedKey>>;

/// The keys fetched from `jwks_url`, and when.
#[derive(Default)]
struct Fetched {
    keys: Keys,
    at: Option<std::time::Instant>,
}

/// Verifies tokens with the configured keys.
pub struct Verifier {
    config: AuthConfig,
    secret: Option<DecodingKey>,
    keys: Keys,
    /// `config.algorithms`, parsed.
    allowed: Vec<Algorithm>,
    fetched: tokio::sync::RwLock<Fetched>,
    /// One fetch at a time; callers that need one while it runs wait for it and use its keys.
    fetching: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

fn keys_of(set: &JwkSet, source: &str) -> anyhow::Result<Keys> {
    let mut keys = Keys::new();
    for jwk in &set.keys {
        let key = DecodingKey::from_jwk(jwk).map_err(|e| anyhow::anyhow!("a key of {source}: {e}"))?;
        let algorithm = match jwk.common.key_algorithm {
            Some(alg) => alg.to_string().parse::<Algorithm>().map_err(|e| anyhow::anyhow!("key algorithm: {e}"))?,
            None => match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => {
                    anyhow::bail!("a JWKS holds public keys; a shared secret does not belong there")
                }
            },
        };
        keys.entry(jwk.common.key_id.clone().unwrap_or_default()).or_default().push(TrustedKey { key, algorithm });
    }
    Ok(keys)
}

impl Verifier {
    pub fn new(config: &AuthConfig) -> anyhow::Result<Verifier> {
        let keys = match &config.jwks_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading the JWKS file {}: {e}", path.display()))?;
                let set: JwkSet =
                    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("JWKS file {}: {e}", path.display()))?;
                keys_of(&set, &path.display().to_string())?
            }
            None => Keys::new(),
        };
        let allowed = config
            .algorithms
            .iter()
            .map(|name| name.parse().map_err(|_| anyhow::anyhow!("auth.algorithms: unknown algorithm `{name}`")))
            .collect::<anyhow::Result<Vec<Algorithm>>>()?;
        let secret = config.hs256_secret.as_ref().map(|s| DecodingKey::from_secret(s.expose().as_bytes()));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| anyhow::anyhow!("an HTTP client for the JWKS: {e}"))?;
        Ok(Verifier {
            config: config.clone(),
            secret,
            keys,
            allowed,
            fetched: tokio::sync::RwLock::new(Fetched::default()),
            fetching: tokio::sync::Mutex::new(()),
            http,
        })
    }

    /// The key for `kid` and `alg`, from the file, else from the issuer's URL (fetched when
    /// first needed, when stale, or once per `jwks_refetch_secs` for a key not held).
    async fn key_for(&self, kid: &str, alg: Algorithm) -> Option<TrustedKey> {
        let pick = |keys: &Keys| {
            keys.get(kid)?.iter().find(|k| k.algorithm == alg && self.allowed.contains(&k.algorithm)).cloned()
        };
        if let Some(key) = pick(&self.keys) {
            return Some(key);
        }
        let url = self.config.jwks_url.as_deref()?;
        let fresh_for = |fetched: &Fetched, secs: u64| {
            fetched.at.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(secs))
        };
        // What the URL gave, when no fetch is due: a fresh set, or a key unknown to a set
        // fetched less than `jwks_refetch_secs` ago.
        let held = |fetched: &Fetched| {
            if fresh_for(fetched, self.config.jwks_refresh_secs)
                && let Some(key) = pick(&fetched.keys)
            {
                return Some(Some(key));
            }
            fresh_for(fetched, self.config.jwks_refetch_secs).then(|| pick(&fetched.keys))
        };
        if let Some(answer) = held(&*self.fetched.read().await) {
            return answer;
        }
        let _one_fetch = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(answer) = held(&*self.fetched.read().await) {
            return answer;
        }
        let keys = match self.fetch(url).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "the issuer's keys could not be fetched");
                // Keep the keys held, and count the attempt so that failures are not retried
                // on every request either.
                self.fetched.write().await.at = Some(std::time::Instant::now());
                return pick(&self.fetched.read().await.keys);
            }
        };
        let mut fetched = self.fetched.write().await;
        *fetched = Fetched { keys, at: Some(std::time::Instant::now()) };
        pick(&fetched.keys)
    }

    async fn fetch(&self, url: &str) -> anyhow::Result<Keys> {
        let response = self.http.get(url).header("accept", "application/json").send().await?;
        if !response.status().is_success() {
            anyhow::bail!("the JWKS URL answered {}", response.status());
        }
        let set: JwkSet = serde_json::from_slice(&response.bytes().await?)?;
        keys_of(&set, url)
    }

    /// The DFC platform an OAuth client calls as, if it is one.
    pub fn dfc_platform(&self, client: &str) -> Option<&str> {
        self.config.dfc_clients.get(client).map(String::as_str)
    }

    /// The identity a bearer token proves.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        // Which key may verify is decided by our configuration, never by the token's header
        // alone: an HS256 token is checked with the development secret only, and a JWKS key
        // only with its own algorithm, from the allowed ones.
        let (key, algorithm) = if header.alg == Algorithm::HS256 {
            (self.secret.clone().ok_or(AuthError::BadSignature)?, Algorithm::HS256)
        } else {
            let trusted =
                self.key_for(header.kid.as_deref().unwrap_or(""), header.alg).await.ok_or(AuthError::BadSignature)?;
            (trusted.key, trusted.algorithm)
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.config.leeway_secs;
        validation.set_required_spec_claims(&["exp", "iss"]);
        if algorithm == Algorithm::HS256 {
            validation.set_issuer(&[DEV_ISSUER]);
        } else {
            validation.set_issuer(&self.config.issuers);
        }
        if self.config.audiences.is_empty() || algorithm == Algorithm::HS256 {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.config.audiences);
        }
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidIssuer => AuthError::UnknownIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
                other => AuthError::Invalid(format!("{other:?}")),
            }
        })?;
        self.identity(claims.claims)
    }

    fn identity(&self, claims: Value) -> Result<Identity, AuthError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text(&self.config.subject_claim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::MissingClaim(self.config.subject_claim.clone()))?;
        Ok(Identity {
            issuer: text("iss").unwrap_or_default(),
            subject,
            roles: words(claims.get(&self.config.roles_claim)),
            enterprises: words(claims.get(&self.config.enterprises_claim)),
            client: text("azp").or_else(|| text("client_id")),
            scopes: words(claims.get("scope").or_else(|| claims.get("scp"))),
            expires_at: claims
                .get("exp")
                .and_then(Value::as_i64)
                .map(|exp| exp.saturating_add(i64::try_from(self.config.leeway_secs).unwrap_or(0))),
        })
    }
}

/// A claim holding names: a space-separated string (as OAuth `scope`) or an array of strings.
fn words(claim: Option<&Value>) -> BTreeSet<String> {
    match claim {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    }
}

/// The token of an `Authorization: Bearer` header: none without the header, an error when the
/// header holds something else.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(Some)
        .ok_or(AuthError::Malformed)
}

/// A development token signed with the HS256 secret (`orderhub token`).
pub fn dev_token(
    secret: &SecretString,
    config: &AuthConfig,
    subject: &str,
    roles: &[String],
    enterprises: &[String],
    ttl_secs: u64,
) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), DEV_ISSUER.into());
    claims.insert(config.subject_claim.clone(), subject.into());
    claims.insert(config.roles_claim.clone(), roles.join(" ").into());
    claims.insert(config.enterprises_claim.clone(), enterprises.to_vec().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + ttl_secs).into());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.expose().as_bytes()))
        .map_err(|e| anyhow::anyhow!("signing a token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            hs256_secret: Some(SecretString::new("a development secret of some length")),
            ..AuthConfig::default()
        }
    }

    fn token(config: &AuthConfig, claims: Value) -> String {
        let secret = config.hs256_secret.as_ref().expect("secret").expose().as_bytes().to_vec();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&secret))
            .expect("token")
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[tokio::test]
    async fn a_development_token_proves_its_subject_roles_and_enterprises() {
        let config = config();
        let verifier = Verifier::new(&config).expect("verifier");
        let minted = dev_token(
            config.hs256_secret.as_ref().expect("secret"),
            &config,
            "ada",
            &["customer".into(), "trader_staff".into()],
            &["hub".into()],
            60,
        )
        .expect("token");
        let identity = verifier.verify(&minted).await.expect("verified");
        assert_eq!(identity.subject, "ada");
        assert_eq!(identity.roles, BTreeSet::from(["customer".to_owned(), "trader_staff".to_owned()]));
        assert_eq!(identity.enterprises, BTreeSet::from(["hub".to_owned()]));
    }

    #[tokio::test]
    async fn expired_foreign_forged_or_incomplete_tokens_are_refused() {
        let config = config();
        let verifier = Verifier::new(&config).expect("verifier");
        let claims = |exp: u64, iss: &str| serde_json::json!({"sub": "ada", "iss": iss, "exp": exp});
        let check = |token: String| {
            let verifier = &verifier;
            async move { verifier.verify(&token).await }
        };
        assert_eq!(check(token(&config, claims(now() - 120, DEV_ISSUER))).await, Err(AuthError::Expired));
        assert!(check(token(&config, claims(now() - 10, DEV_ISSUER))).await.is_ok(), "within the leeway");
        assert_eq!(check(token(&config, claims(now() + 60, "elsewhere"))).await, Err(AuthError::UnknownIssuer));
        let other = AuthConfig { hs256_secret: Some(SecretString::new("another secret entirely")), ..config.clone() };
        assert_eq!(check(token(&other, claims(now() + 60, DEV_ISSUER))).await, Err(AuthError::BadSignature));
        let no_subject = serde_json::json!({"iss": DEV_ISSUER, "exp": now() + 60});
        assert_eq!(check(token(&config, no_subject)).await, Err(AuthError::MissingClaim("sub".into())));
        let no_expiry = serde_json::json!({"sub": "ada", "iss": DEV_ISSUER});
        assert_eq!(check(token(&config, no_expiry)).await, Err(AuthError::MissingClaim("exp".into())));
        assert_eq!(check("not a token".into()).await, Err(AuthError::Malformed));
        // Without the development secret, HS256 tokens prove nothing (no algorithm confusion).
        let production = Verifier::new(&AuthConfig::default()).expect("verifier");
        let forged = token(&config, claims(now() + 60, DEV_ISSUER));
        assert_eq!(production.verify(&forged).await, Err(AuthError::BadSignature));
    }

    #[test]
    fn roles_may_be_a_scope_string_or_a_list() {
        assert_eq!(words(Some(&serde_json::json!("a b  c"))).len(), 3);
        assert_eq!(words(Some(&serde_json::json!(["a", "b", 3]))).len(), 2);
        assert!(words(None).is_empty());
    }
}
