//! Field errors as the GraphQL spec propagates them: a failed field is null in its place, and a
//! null where the type forbids one makes its parent null, up to the nearest nullable field or
//! list item (or `data` itself).
//!
//! async-graphql 7 drops a failed field from its object instead (and an object whose every field
//! failed becomes null even where it is nullable), so clients and gateways would see a response
//! that does not match the query. This extension wraps every field and list item: a failure
//! becomes a null with its error kept, and the places whose non-null value failed are remembered
//! so that the enclosing field or item becomes null in turn when it returns.
//!
//! It also puts each object's fields back in the order the query asked for them: async-graphql
//! inserts them as they complete.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{
    Name, PathSegment, Positioned, QueryPathSegment, Response, ServerError, ServerResult, Value, Variables,
};
use std::collections::HashMap;

pub struct ErrorPropagation;

impl ExtensionFactory for ErrorPropagation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Propagating::default())
    }
}

/// One request's failures: the errors of fields turned null, and the places (response paths)
/// that hold a null their type forbids.
#[derive(Default)]
struct Propagating {
    errors: Mutex<Vec<ServerError>>,
    invalid: Mutex<HashSet<Vec<Segment>>>,
    /// The document's fragments and each operation's root selection, for the order of fields.
    document: Mutex<Option<ExecutableDocument>>,
}

/// The response keys `selection` asks for, in order (a key asked twice counts where it first is).
fn keys_of<'d>(
    selection: &'d SelectionSet,
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
    depth: usize,
    keys: &mut Vec<&'d str>,
) {
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => keys.push(field.node.response_key().node.as_str()),
            Selection::InlineFragment(fragment) => keys_of(&fragment.node.selection_set.node, fragments, depth, keys),
            // Validation refuses cycles; the depth bounds the walk whatever comes.
            Selection::FragmentSpread(spread) if depth < 32 => {
                if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                    keys_of(&fragment.node.selection_set.node, fragments, depth + 1, keys);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// `value`'s fields in the order of `selection`, if it is an object out of that order.
fn reorder(value: &mut Value, selection: &SelectionSet, fragments: &HashMap<Name, Positioned<FragmentDefinition>>) {
    let Value::Object(fields) = value else { return };
    let mut keys = Vec::with_capacity(fields.len());
    keys_of(selection, fragments, 0, &mut keys);
    keys.retain(|key| fields.contains_key(*key));
    // Most objects ask for a few keys once each, in the order they were inserted: that is
    // seen without a set.
    if keys.len() == fields.len() && fields.keys().map(Name::as_str).eq(keys.iter().copied()) {
        return;
    }
    let mut seen = HashSet::with_capacity(keys.len());
    keys.retain(|key| seen.insert(*key));
    if fields.keys().map(Name::as_str).eq(keys.iter().copied()) {
        return;
    }
    let mut ordered = async_graphql::indexmap::IndexMap::with_capacity(fields.len());
    for key in keys {
        if let Some((name, value)) = fields.shift_remove_entry(key) {
            ordered.insert(name, value);
        }
    }
    ordered.extend(std::mem::take(fields));
    *fields = ordered;
}

/// Whether the items of list type `ty` (`[T!]!`, `[T]`) may not be null.
fn list_items_non_null(ty: &str) -> bool {
    ty.trim_end_matches('!').trim_start_matches('[').trim_end_matches(']').ends_with('!')
}

/// A step of a response path (async-graphql's own does not hash).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Segment {
    Field(String),
    Index(usize),
}

pub(super) fn path_of(node: &async_graphql::QueryPathNode<'_>) -> Vec<Segment> {
    let mut path: Vec<Segment> = std::iter::once(node)
        .chain(node.parents())
        .map(|node| match node.segment {
            QueryPathSegment::Index(i) => Segment::Index(i),
            QueryPathSegment::Name(name) => Segment::Field(name.to_owned()),
        })
        .collect();
    path.reverse();
    path
}

/// Where `info`'s field or item is in the response.
pub(super) fn response_path_of(info: &ResolveInfo<'_>) -> Vec<PathSegment> {
    response_path(&path_of(info.path_node))
}

/// A response path (an error's) as segments.
pub(super) fn segments(path: &[PathSegment]) -> Vec<Segment> {
    path.iter()
        .map(|segment| match segment {
            PathSegment::Field(name) => Segment::Field(name.clone()),
            PathSegment::Index(i) => Segment::Index(*i),
        })
        .collect()
}

fn response_path(path: &[Segment]) -> Vec<PathSegment> {
    path.iter()
        .map(|segment| match segment {
            Segment::Field(name) => PathSegment::Field(name.clone()),
            Segment::Index(i) => PathSegment::Index(*i),
        })
        .collect()
}

impl Propagating {
    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a child of the value at `path` left an invalid null in it. Items a field resolves
    /// itself (as `_entities` does) pass no hook of their own: their invalid nulls are settled
    /// here, nulling a nullable item in place.
    fn settle_inside(
        &self,
        mut outcome: ServerResult<Option<Value>>,
        path: &[Segment],
        return_type: &str,
    ) -> (ServerResult<Option<Value>>, bool) {
        let mut invalid = Self::lock(&self.invalid);
        let mut failed = invalid.remove(path);
        if let Ok(Some(Value::List(items))) = &mut outcome {
            let nullable_items = !list_items_non_null(return_type);
            let mut place = path.to_vec();
            for (i, item) in items.iter_mut().enumerate() {
                place.push(Segment::Index(i));
                if invalid.remove(&place) {
                    if nullable_items {
                        *item = Value::Null;
                    } else {
                        failed = true;
                    }
                }
                place.pop();
            }
        }
        (outcome, failed)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Propagating {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let return_type = info.return_type;
        let node = info.path_node;
        let selection = &info.field.selection_set.node;
        let outcome = next.run(ctx, info).await;
        // Children resolve before their parent returns: a child's invalid null is known here.
        // Most fields neither fail nor hold a failure: they need no path.
        let settled = outcome.is_ok() && Self::lock(&self.invalid).is_empty();
        let (outcome, failed_inside, path) = if settled {
            (outcome, false, Vec::new())
        } else {
            let path = path_of(node);
            let (outcome, failed_inside) = self.settle_inside(outcome, &path, return_type);
            (outcome, failed_inside, path)
        };
        match outcome {
            Ok(mut value) if !failed_inside => {
                if let Some(value @ Value::Object(_)) = value.as_mut()
                    && let Some(document) = Self::lock(&self.document).as_ref()
                {
                    reorder(value, selection, &document.fragments);
                }
                return Ok(value);
            }
            Ok(_) => {}
            Err(mut error) => {
                if error.path.is_empty() {
                    error.path = response_path(&path);
                }
                Self::lock(&self.errors).push(error);
            }
        }
        if return_type.ends_with('!') {
            let mut parent = path;
            parent.pop();
            Self::lock(&self.invalid).insert(parent);
        }
        Ok(Some(Value::Null))
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *Self::lock(&self.document) = Some(document.clone());
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Some(document) = Self::lock(&self.document).as_ref() {
            let operation = match (&document.operations, operation_name) {
                (DocumentOperations::Single(operation), _) => Some(operation),
                (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
                (DocumentOperations::Multiple(operations), None) => operations.values().next(),
            };
            if let Some(operation) = operation {
                reorder(&mut response.data, &operation.node.selection_set.node, &document.fragments);
            }
        }
        let errors = std::mem::take(&mut *Self::lock(&self.errors));
        response.errors.extend(errors);
        if Self::lock(&self.invalid).remove(&Vec::new()) {
            response.data = Value::Null;
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_item_nullability_is_read_from_the_type() {
        assert!(list_items_non_null("[Order!]!"));
        assert!(list_items_non_null("[Order!]"));
        assert!(!list_items_non_null("[_Entity]!"));
        assert!(!list_items_non_null("[Order]"));
    }

    #[test]
    fn fields_are_put_back_in_the_order_asked_fragments_included() {
        let document =
            async_graphql::parser::parse_query("query { z a ...F ... on Query { m } } fragment F on Query { b z }")
                .expect("parses");
        let DocumentOperations::Single(operation) = &document.operations else { panic!("one operation") };
        let mut value = Value::from_json(serde_json::json!({"m": 1, "b": 2, "a": 3, "z": 4})).expect("value");
        reorder(&mut value, &operation.node.selection_set.node, &document.fragments);
        let Value::Object(fields) = value else { panic!("object") };
        assert_eq!(fields.keys().map(Name::as_str).collect::<Vec<_>>(), ["z", "a", "b", "m"]);
    }
}
