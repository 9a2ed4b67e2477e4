//! What a request may cost, and the codes its refusals carry: a request refused for its depth,
//! its complexity, its syntax or its validity says so in `extensions.code`, as gateways and
//! clients expect (Apollo's codes), instead of a bare message.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};

/// Deepest and most complex query we answer: enough for every screen and for the introspection
/// query GraphiQL and gateways send (its type references nest ten levels), too little for abuse.
pub const MAX_DEPTH: usize = 20;
pub const MAX_COMPLEXITY: usize = 5_000;

/// A catalogue asks every producer of a session: it costs as much as 400 fields, so a request
/// holds a dozen at most (and asks each producer once, whatever it holds).
pub const CATALOGUE_COST: usize = 400;

/// A page of `first` items costs `first` items (at most 100, as pages are).
pub fn page_cost(first: i32, item: usize) -> usize {
    usize::try_from(first.clamp(1, 100)).unwrap_or(100).saturating_mul(item)
}

const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
const TOO_DEEP: &str = "QUERY_TOO_DEEP";
const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
const INTROSPECTION_OFF: &str = "INTROSPECTION_DISABLED";

/// Automatic persisted queries: a hash this replica does not hold (the client sends the query
/// with it again), and a hash that is not the query's.
const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
const PERSISTED_QUERY_INVALID: &str = "PERSISTED_QUERY_INVALID";
pub const MUTATION_OVER_GET: &str = "MUTATION_OVER_GET";
pub const SUBSCRIPTION_NEEDS_STREAM: &str = "SUBSCRIPTION_NEEDS_STREAM";

/// How many persisted queries a replica keeps (the least recently used goes first).
pub const PERSISTED_QUERIES: usize = 512;

/// The codes this extension gives the errors that stop a request before it runs.
pub const REQUEST_ERRORS: [&str; 9] = [
    PARSE_FAILED,
    VALIDATION_FAILED,
    TOO_DEEP,
    TOO_COMPLEX,
    INTROSPECTION_OFF,
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_INVALID,
    MUTATION_OVER_GET,
    SUBSCRIPTION_NEEDS_STREAM,
];

/// Marks a request that came as a GET, with the operation it names: it may run a query, never a
/// mutation (a persisted query's document is only known once its hash is looked up).
pub struct OverGet(pub Option<String>);

/// The types of the operations `document` may run for `operation_name` (with no name: of all
/// of them; a name it lacks: none).
fn candidate_types(document: &ExecutableDocument, operation_name: Option<&str>) -> Vec<OperationType> {
    match &document.operations {
        DocumentOperations::Single(operation) => vec![operation.node.ty],
        DocumentOperations::Multiple(operations) => match operation_name {
            Some(name) => operations.get(name).map(|op| op.node.ty).into_iter().collect(),
            None => operations.values().map(|op| op.node.ty).collect(),
        },
    }
}

/// Whether `document` runs a mutation for `operation_name` (with no name: if any operation is one).
pub fn runs_mutation(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    candidate_types(document, operation_name).contains(&OperationType::Mutation)
}

/// Whether the operation the request would run is certainly a subscription (every operation
/// of the document is, when it does not name one).
pub fn runs_only_subscriptions(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let types = candidate_types(document, operation_name);
    !types.is_empty() && types.iter().all(|ty| *ty == OperationType::Subscription)
}

/// A subscription sent as a plain request: async-graphql refuses it with this message and no
/// code; the client is told where subscriptions are served.
pub fn subscription_needs_stream(error: &mut ServerError) {
    if error.message == "Subscriptions are not supported on this transport." {
        error.message = "a subscription is served as an event stream (Accept: text/event-stream) or over a \
                         WebSocket (graphql-transport-ws)"
            .to_owned();
        error.extensions.get_or_insert_with(Default::default).set("code", SUBSCRIPTION_NEEDS_STREAM);
    }
}

fn coded(mut error: ServerError, code: &str) -> ServerError {
    if super::error_code(&error).is_none() {
        error.extensions.get_or_insert_with(Default::default).set("code", code);
    }
    error
}

/// Gives request errors their codes, and refuses introspection when it is off (async-graphql
/// would answer `__schema: null` and no error).
pub struct CodedRequestErrors {
    pub introspection: bool,
}

impl ExtensionFactory for CodedRequestErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CodedRequestErrors { introspection: self.introspection })
    }
}

/// Whether a document asks `__schema` or `__type` at the top of an operation or a fragment.
fn introspects(document: &ExecutableDocument) -> bool {
    fn asks(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
            Selection::InlineFragment(fragment) => asks(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document.operations.iter().any(|(_, op)| asks(&op.node.selection_set.node))
        || document.fragments.values().any(|fragment| asks(&fragment.node.selection_set.node))
}

#[async_graphql::async_trait::async_trait]
impl Extension for CodedRequestErrors {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request).await.map_err(|error| {
            // async-graphql's persisted queries word their refusals so; Apollo's clients look for
            // this message and code to send the query again.
            match error.message.as_str() {
                "PersistedQueryNotFound" => coded(error, PERSISTED_QUERY_NOT_FOUND),
                message if message.contains("PersistedQuery") || message.contains("sha does not match") => {
                    coded(error, PERSISTED_QUERY_INVALID)
                }
                _ => error,
            }
        })
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|error| {
            // The parser refuses the deepest queries itself, before validation could.
            let code = if error.message.starts_with("The recursion depth of the query cannot be greater than") {
                TOO_DEEP
            } else {
                PARSE_FAILED
            };
            coded(error, code)
        })?;
        if let Some(OverGet(operation)) = ctx.data_opt::<OverGet>()
            && runs_mutation(&document, operation.as_deref())
        {
            return Err(coded(
                ServerError::new("mutations are sent with POST, never with GET", None),
                MUTATION_OVER_GET,
            ));
        }
        if !self.introspection && introspects(&document) {
            return Err(coded(ServerError::new("introspection is off on this server", None), INTROSPECTION_OFF));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| {
                    // async-graphql words these two refusals so; a test pins the wording.
                    let code = match error.message.as_str() {
                        "Query is too complex." => TOO_COMPLEX,
                        "Query is nested too deep." => TOO_DEEP,
                        _ => VALIDATION_FAILED,
                    };
                    coded(error, code)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).expect("parses")
    }

    #[test]
    fn what_an_operation_would_run_is_read_from_its_document() {
        let both = document("subscription Follow { a } mutation Pay { b }");
        assert!(runs_only_subscriptions(&document("subscription { a }"), None));
        assert!(!runs_only_subscriptions(&document("{ a }"), None));
        assert!(runs_only_subscriptions(&both, Some("Follow")));
        assert!(!runs_only_subscriptions(&both, None), "not certainly a subscription");
        assert!(!runs_only_subscriptions(&both, Some("Missing")));
        assert!(runs_mutation(&both, None), "may run a mutation");
        assert!(!runs_mutation(&both, Some("Follow")));
        assert!(runs_mutation(&document("mutation { b }"), None));
    }
}
