//! W3C Trace Context (`traceparent`): the trace a request belongs to, taken from the caller (a
//! gateway) or begun here, carried through the work the request does (its sends to producers
//! included, even those that go on in tasks of their own) and sent on to every peer called, each
//! call as a child span of the request. Log lines of a request carry its `trace_id`.

use std::fmt::Write;

tokio::task_local! {
    static CURRENT: TraceContext;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    /// The span this one is a child of (the caller's, for a request), if any.
    parent: Option<[u8; 8]>,
    flags: u8,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// `text` as bytes, if it is exactly that many lowercase hex digits, not all zero.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut bytes = [0u8; N];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    bytes.iter().any(|b| *b != 0).then_some(bytes)
}

fn random_span_id() -> [u8; 8] {
    let mut id = [0u8; 8];
    id.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    id
}

impl TraceContext {
    /// A trace begun here (sampled).
    pub fn fresh() -> TraceContext {
        TraceContext { trace_id: *uuid::Uuid::new_v4().as_bytes(), span_id: random_span_id(), parent: None, flags: 1 }
    }

    /// The caller's `traceparent`, if it is one (version 00, or a later version read as 00 would
    /// be, as the specification asks).
    pub fn parse(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let version = parts.next()?;
        let (trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?);
        let version = u8::from_str_radix(version, 16).ok().filter(|_| version.len() == 2)?;
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok().filter(|_| flags.len() == 2)?;
        Some(TraceContext { trace_id: unhex::<16>(trace)?, span_id: unhex::<8>(span)?, parent: None, flags })
    }

    /// A span of the same trace, under this one.
    pub fn child(&self) -> TraceContext {
        TraceContext { span_id: random_span_id(), parent: Some(self.span_id), ..*self }
    }

    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// As a `traceparent` header.
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    pub fn span_id_bytes(&self) -> [u8; 8] {
        self.span_id
    }

    pub fn parent_span_id(&self) -> Option<[u8; 8]> {
        self.parent
    }

    /// Whether the caller records this trace (W3C's `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    pub fn header(&self) -> String {
        format!("00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), self.flags)
    }

    /// Runs `work` in this trace.
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }
}

/// The trace of the work running now, if it runs in one.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|trace| *trace).ok()
}

/// `work`, carried into the trace current where this is called (if any): for tasks spawned on
/// a request's behalf, which would otherwise run outside it.
pub fn within_current<F: std::future::Future>(work: F) -> impl std::future::Future<Output = F::Output> {
    let trace = current();
    async move {
        match trace {
            Some(trace) => trace.scope(work).await,
            None => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_read_and_written_as_the_specification_says() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::parse(header).expect("valid");
        assert_eq!(trace.header(), header);
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = trace.child();
        assert_eq!(child.trace_id(), trace.trace_id());
        assert_ne!(child.header(), trace.header());
        // A later version may carry more fields; version ff is invalid; ids of zeros, upper case
        // or of the wrong length are refused.
        assert!(TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        for bad in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        assert_eq!(TraceContext::fresh().header().len(), 55);
    }
}
