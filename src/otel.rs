//! OpenTelemetry spans, exported over OTLP (HTTP, protobuf) when `otlp_endpoint` is set: one per
//! request (SERVER), per GraphQL operation, per SQL statement and per outbound DFC call (CLIENT),
//! in the W3C trace each request runs in (see [`crate::trace_context`]). The span ids are those
//! of the trace context, so the `traceparent` a producer receives names the very span exported
//! for the call, and the producer's spans nest under it.
//!
//! Spans are recorded once the work is done (start and end known), handed to the SDK's batch
//! processor (a thread of its own) and sent in batches: nothing on a request's path waits for the
//! collector, and a collector that is down only loses spans. Attributes never carry personal
//! data: methods, paths without query strings, SQL with placeholders, peer ids, status codes.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, SdkTracer, SdkTracerProvider};

use crate::trace_context::TraceContext;

thread_local! {
    /// The ids the next span built on this thread takes (set just before it is built).
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Gives the SDK the ids of our trace context (it has no other way to be told a span's id).
#[derive(Debug)]
struct TraceContextIds;

impl IdGenerator for TraceContextIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_IDS.with(Cell::get).map_or_else(|| TraceId::from_bytes(*uuid::Uuid::new_v4().as_bytes()), |ids| ids.0)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_IDS.with(Cell::get).map_or_else(
            || SpanId::from_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or([1; 8])),
            |ids| ids.1,
        )
    }
}

struct Exporting {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        // Sends what is left in the batch before the process (or the test's app) goes.
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

/// Where spans go: nowhere (the default), or to an OTLP collector.
#[derive(Clone, Default)]
pub struct Spans(Option<Arc<Exporting>>);

/// A finished piece of work to record as a span.
pub struct Finished {
    pub name: String,
    pub kind: SpanKind,
    pub attributes: Vec<KeyValue>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl Spans {
    /// Spans sent in batches to `endpoint` (e.g. `http://collector:4318/v1/traces`), each call
    /// within `timeout`.
    pub fn otlp(endpoint: &str, timeout: Duration) -> anyhow::Result<Spans> {
        use opentelemetry_otlp::WithExportConfig;
        let endpoint = endpoint.to_owned();
        // The blocking HTTP client must be made (and dropped) outside the async runtime: on a
        // thread of its own, as the batch processor's thread then uses it.
        let built = std::thread::spawn(move || {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint)
                .with_timeout(timeout)
                .build()?;
            let provider = SdkTracerProvider::builder()
                .with_id_generator(TraceContextIds)
                .with_resource(opentelemetry_sdk::Resource::builder().with_service_name("orderhub").build())
                .with_batch_exporter(exporter)
                .build();
            anyhow::Ok(provider)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("setting the OTLP exporter up panicked"))??;
        let tracer = opentelemetry::trace::TracerProvider::tracer(&built, "orderhub");
        Ok(Spans(Some(Arc::new(Exporting { provider: built, tracer }))))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// A new span under the one the current task runs in, when spans are exported.
    pub fn child_of_current(&self) -> Option<TraceContext> {
        self.0.as_ref()?;
        crate::trace_context::current().map(|trace| trace.child())
    }

    /// Runs `work` as the span `at` (the spans it starts nest under it), then records it as
    /// `describe` says from its outcome.
    pub async fn traced<F: std::future::Future>(
        &self,
        at: TraceContext,
        work: F,
        describe: impl FnOnce(&F::Output) -> Finished,
    ) -> F::Output {
        let started = SystemTime::now();
        let outcome = at.scope(work).await;
        self.record(&at, started, describe(&outcome));
        outcome
    }

    /// Records `work`, done as the span `at` (its trace, its id, its parent) from `started` to now.
    pub fn record(&self, at: &TraceContext, started: SystemTime, work: Finished) {
        let Some(exporting) = &self.0 else { return };
        let parent = match at.parent_span_id() {
            Some(parent) => {
                let flags = if at.sampled() { TraceFlags::SAMPLED } else { TraceFlags::default() };
                let parent = SpanContext::new(
                    TraceId::from_bytes(at.trace_id_bytes()),
                    SpanId::from_bytes(parent),
                    flags,
                    true,
                    TraceState::default(),
                );
                Context::new().with_remote_span_context(parent)
            }
            None => Context::new(),
        };
        let builder = exporting
            .tracer
            .span_builder(work.name)
            .with_kind(work.kind)
            .with_start_time(started)
            .with_attributes(work.attributes);
        NEXT_IDS.with(|ids| {
            ids.set(Some((TraceId::from_bytes(at.trace_id_bytes()), SpanId::from_bytes(at.span_id_bytes()))))
        });
        let mut span = builder.start_with_context(&exporting.tracer, &parent);
        NEXT_IDS.with(|ids| ids.set(None));
        use opentelemetry::trace::Span;
        if let Some(error) = work.error {
            span.set_status(Status::error(error));
        }
        span.end();
    }
}
