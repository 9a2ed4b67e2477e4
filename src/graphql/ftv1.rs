//! Federated tracing (ftv1): when a gateway sends `apollo-federation-include-trace: ftv1`, the
//! answer carries `extensions.ftv1`, a base64 protobuf `Trace` as Apollo's `reports.proto`
//! defines it: the operation's start, end and duration, and a tree of the fields resolved (each
//! with its response name or list index, type, parent type, start and end in nanoseconds since
//! the operation started) with the errors at the fields they belong to. Apollo Router and Gateway
//! merge it into their own trace of the operation (field timings per subgraph).
//!
//! The errors are those of the response, already coded and worded for clients (see
//! `limits::CodedRequestErrors`): a trace says nothing the response does not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Response, ServerResult, Value};
use base64::Engine;

use super::propagation::{Segment, path_of, segments};

/// Request data: the gateway asked for a federated trace.
#[derive(Clone, Copy, Debug)]
pub struct TraceRequested;

/// The header a gateway asks with, and the one value it sends.
pub const HEADER: &str = "apollo-federation-include-trace";
pub const FTV1: &str = "ftv1";

/// The messages of Apollo's `reports.proto` that a subgraph trace uses, with their field numbers.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Trace {
        #[prost(message, optional, tag = "3")]
        pub end_time: Option<Timestamp>,
        #[prost(message, optional, tag = "4")]
        pub start_time: Option<Timestamp>,
        #[prost(uint64, tag = "11")]
        pub duration_ns: u64,
        #[prost(message, optional, tag = "14")]
        pub root: Option<Node>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Id {
        #[prost(string, tag = "1")]
        ResponseName(String),
        #[prost(uint32, tag = "2")]
        Index(u32),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Node {
        #[prost(oneof = "Id", tags = "1, 2")]
        pub id: Option<Id>,
        #[prost(string, tag = "3")]
        pub r#type: String,
        #[prost(uint64, tag = "8")]
        pub start_time: u64,
        #[prost(uint64, tag = "9")]
        pub end_time: u64,
        #[prost(message, repeated, tag = "11")]
        pub error: Vec<Error>,
        #[prost(message, repeated, tag = "12")]
        pub child: Vec<Node>,
        #[prost(string, tag = "13")]
        pub parent_type: String,
        #[prost(string, tag = "14")]
        pub original_field_name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Error {
        #[prost(string, tag = "1")]
        pub message: String,
        #[prost(message, repeated, tag = "2")]
        pub location: Vec<Location>,
        #[prost(string, tag = "4")]
        pub json: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint32, tag = "1")]
        pub line: u32,
        #[prost(uint32, tag = "2")]
        pub column: u32,
    }
}

pub struct FederatedTracing;

impl ExtensionFactory for FederatedTracing {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Tracing::default())
    }
}

/// A field as it resolved.
struct Resolved {
    path: Vec<Segment>,
    field_name: String,
    return_type: String,
    parent_type: String,
    start_ns: u64,
    end_ns: u64,
}

#[derive(Default)]
struct Tracing {
    /// When the request started, set only if it wants a trace: nothing is recorded otherwise.
    started: OnceLock<(Instant, SystemTime)>,
    resolved: Mutex<Vec<Resolved>>,
}

impl Tracing {
    fn since_start(&self) -> u64 {
        self.started.get().map_or(0, |(at, _)| u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Resolved>> {
        self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Tracing {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let Some(&started) = self.started.get() else { return response };
        let duration_ns = self.since_start();
        let resolved = std::mem::take(&mut *self.lock());
        let trace = proto::Trace {
            start_time: Some(timestamp(started.1)),
            end_time: Some(timestamp(SystemTime::now())),
            duration_ns,
            root: Some(tree(resolved, &response.errors)),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(prost::Message::encode_to_vec(&trace));
        response.extensions.insert(FTV1.to_owned(), Value::String(encoded));
        response
    }

    /// The request's own data is only readable here (the hooks after it see it attached).
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        if request.data.contains_key(&std::any::TypeId::of::<TraceRequested>()) {
            self.started.get_or_init(|| (Instant::now(), SystemTime::now()));
        }
        next.run(ctx, request).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if self.started.get().is_none() || info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let path = path_of(info.path_node);
        let field_name = info.name.to_owned();
        let return_type = info.return_type.to_owned();
        let parent_type = info.parent_type.to_owned();
        let start_ns = self.since_start();
        let outcome = next.run(ctx, info).await;
        let end_ns = self.since_start();
        self.lock().push(Resolved { path, field_name, return_type, parent_type, start_ns, end_ns });
        outcome
    }
}

fn timestamp(at: SystemTime) -> proto::Timestamp {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    proto::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// The trace's tree: a node per field resolved and per list item under it, each error at the
/// node of its path (the root for an error without one).
fn tree(resolved: Vec<Resolved>, errors: &[async_graphql::ServerError]) -> proto::Node {
    let mut arena = Arena::default();
    for field in resolved {
        let at = arena.node(&field.path);
        let node = &mut arena.nodes[at].node;
        if let Some(Segment::Field(response_name)) = field.path.last()
            && *response_name != field.field_name
        {
            node.original_field_name = field.field_name;
        }
        node.r#type = field.return_type;
        node.parent_type = field.parent_type;
        node.start_time = field.start_ns;
        node.end_time = field.end_ns;
    }
    for error in errors {
        let at = arena.node(&segments(&error.path));
        arena.nodes[at].node.error.push(proto::Error {
            message: error.message.clone(),
            location: error
                .locations
                .iter()
                .map(|l| proto::Location {
                    line: u32::try_from(l.line).unwrap_or(0),
                    column: u32::try_from(l.column).unwrap_or(0),
                })
                .collect(),
            json: serde_json::to_string(error).unwrap_or_default(),
        });
    }
    arena.into_root()
}

struct Placed {
    node: proto::Node,
    children: Vec<usize>,
}

/// Nodes by path, children by place: built in any order (fields resolve concurrently), then
/// nested once.
struct Arena {
    nodes: Vec<Placed>,
    by_path: HashMap<Vec<Segment>, usize>,
}

impl Default for Arena {
    fn default() -> Arena {
        let root = Placed { node: proto::Node::default(), children: Vec::new() };
        Arena { nodes: vec![root], by_path: HashMap::from([(Vec::new(), 0)]) }
    }
}

impl Arena {
    /// The node at `path`, made (with its missing parents) if need be.
    fn node(&mut self, path: &[Segment]) -> usize {
        if let Some(&at) = self.by_path.get(path) {
            return at;
        }
        let Some((last, parent_path)) = path.split_last() else { return 0 };
        let parent = self.node(parent_path);
        let id = match last {
            Segment::Field(name) => proto::Id::ResponseName(name.clone()),
            Segment::Index(i) => proto::Id::Index(u32::try_from(*i).unwrap_or(u32::MAX)),
        };
        let at = self.nodes.len();
        self.nodes.push(Placed { node: proto::Node { id: Some(id), ..proto::Node::default() }, children: Vec::new() });
        self.nodes[parent].children.push(at);
        self.by_path.insert(path.to_vec(), at);
        at
    }

    fn into_root(mut self) -> proto::Node {
        // Children come after their parents in the arena: nest from the last node back. List
        // items go by index, fields in the order they started.
        for at in (0..self.nodes.len()).rev() {
            let mut children = std::mem::take(&mut self.nodes[at].children);
            children.sort_by_key(|&c| match self.nodes[c].node.id {
                Some(proto::Id::Index(i)) => (u64::from(i), c),
                _ => (self.nodes[c].node.start_time, c),
            });
            let nested: Vec<proto::Node> =
                children.into_iter().map(|c| std::mem::take(&mut self.nodes[c].node)).collect();
            self.nodes[at].node.child = nested;
        }
        std::mem::take(&mut self.nodes[0].node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::PathSegment;
    use prost::Message;

    fn resolved(path: &[Segment], name: &str, start: u64, end: u64) -> Resolved {
        Resolved {
            path: path.to_vec(),
            field_name: name.into(),
            return_type: "String".into(),
            parent_type: "Order".into(),
            start_ns: start,
            end_ns: end,
        }
    }

    #[test]
    fn fields_nest_under_their_list_items_and_errors_sit_where_they_happened() {
        let f = |s: &str| Segment::Field(s.into());
        let fields = vec![
            // Out of order, as concurrent fields finish.
            resolved(&[f("orders"), Segment::Index(1), f("id")], "id", 30, 31),
            resolved(&[f("orders")], "orders", 10, 40),
            resolved(&[f("orders"), Segment::Index(0), f("total")], "amount", 20, 25),
        ];
        let error = async_graphql::ServerError {
            path: vec![PathSegment::Field("orders".into()), PathSegment::Index(1), PathSegment::Field("id".into())],
            ..async_graphql::ServerError::new("refused", None)
        };
        let root = tree(fields, &[error]);
        let encoded = root.encode_to_vec();
        let root = proto::Node::decode(encoded.as_slice()).expect("decodes");
        let orders = &root.child[0];
        assert_eq!(orders.id, Some(proto::Id::ResponseName("orders".into())));
        assert_eq!((orders.start_time, orders.end_time), (10, 40));
        let items: Vec<_> = orders.child.iter().map(|c| c.id.clone()).collect();
        assert_eq!(items, [Some(proto::Id::Index(0)), Some(proto::Id::Index(1))]);
        let total = &orders.child[0].child[0];
        assert_eq!(total.original_field_name, "amount", "an alias keeps the field's own name");
        let id = &orders.child[1].child[0];
        assert_eq!(id.error[0].message, "refused");
        assert!(root.error.is_empty());
    }
}
