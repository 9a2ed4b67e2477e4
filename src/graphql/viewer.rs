//! Who the caller is, as their token proves it.

use async_graphql::{Context, Object, SimpleObject};

use crate::auth::Identity;

#[derive(Default)]
pub struct ViewerQuery;

/// The verified caller: the token's issuer and subject, its roles and the enterprises the person
/// works for.
#[derive(SimpleObject)]
pub struct Viewer {
    issuer: String,
    subject: String,
    roles: Vec<String>,
    enterprises: Vec<String>,
}

#[Object]
impl ViewerQuery {
    /// The caller, or null for an anonymous request (a token that does not verify is refused
    /// with `UNAUTHENTICATED` before anything runs).
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        ctx.data_opt::<Identity>().map(|identity| Viewer {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            roles: identity.roles.iter().cloned().collect(),
            enterprises: identity.enterprises.iter().cloned().collect(),
        })
    }
}
