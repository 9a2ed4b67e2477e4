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
        let root = info.path_node.parent.is_none() && !info.is_for_introspection;
        let spans = ctx.data_opt::<Spans>().filter(|spans| root && spans.enabled());
        let span = spans.and_then(|_| crate::trace_context::current()).map(|trace| trace.child());
        let (Some(spans), Some(span)) = (spans, span) else { return next.run(ctx, info).await };
        let name = format!("{}.{}", info.parent_type, info.name);
        let started = std::time::SystemTime::now();
        let outcome = span.scope(next.run(ctx, info)).await;
        let error = outcome.as_ref().err().map(|e| match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(Value::String(code)) => code.clone(),
            _ => "ERROR".to_owned(),
        });
        let attributes = vec![opentelemetry::KeyValue::new("graphql.field.name", name.clone())];
        spans.record(
            &span,
            Finished { name, kind: opentelemetry::trace::SpanKind::Internal, started, attributes, error },
        );
        outcome
    }
}
