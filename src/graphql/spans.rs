//! OpenTelemetry spans for the fields that do the I/O: each root field (a query, a mutation,
//! `_entities`) is a span of the operation's, and what it runs (statements, producer calls)
//! nests under it. Nothing is recorded unless spans are exported (see [`crate::otel`]).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{ServerResult, Value};

use crate::otel::{Finished, Spans};

pub struct RootFieldSpans;

impl ExtensionFactory for RootFieldSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RootFieldSpans)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RootFieldSpans {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let spans = ctx.data_opt::<Spans>();
        let root = info.path_node.parent.is_none() && !info.is_for_introspection;
        let span = spans.filter(|_| root).and_then(Spans::child_of_current);
        let (Some(spans), Some(span)) = (spans, span) else { return next.run(ctx, info).await };
        let name = format!("{}.{}", info.parent_type, info.name);
        let describe = |outcome: &ServerResult<Option<Value>>| Finished {
            name: name.clone(),
            kind: opentelemetry::trace::SpanKind::Internal,
            attributes: vec![opentelemetry::KeyValue::new("graphql.field.name", name.clone())],
            error: outcome.as_ref().err().map(|e| super::error_code(e).unwrap_or("ERROR").to_owned()),
        };
        spans.traced(span, next.run(ctx, info), describe).await
    }
}
