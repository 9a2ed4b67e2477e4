//! `_entities` as the federation spec wants it: each representation resolves or fails on its own,
//! and its errors carry the path `["_entities", i]` and a code.
//!
//! async-graphql resolves `_entities` with a `try_join_all` over the query root's `find_entity`:
//! one failed or unmatched representation turns the whole answer into `data: null`, and errors
//! carry the path `["_entities"]` without the index. The query root here wraps the merged query
//! objects to answer every representation itself: it finds the representation's place in the
//! list, resolves it under that index, and reports a failure there as a null beside the others.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{
    Any, Context, ContextSelectionSet, ErrorExtensions, ObjectType, OutputType, Pos, Positioned, ServerError,
    ServerResult, Value,
};

/// The entity types this subgraph resolves, with their key field (`@key(fields: "id")` each).
pub const ENTITY_TYPES: &[&str] = &["Customer", "IncomingOrder", "Offer", "Order", "Product", "SaleSession"];

/// The query root: the merged query objects, with `_entities` answered one representation at a
/// time.
#[derive(Default)]
pub struct Query(pub super::QueryFields);

impl OutputType for Query {
    fn type_name() -> Cow<'static, str> {
        super::QueryFields::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        super::QueryFields::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl ObjectType for Query {}

impl ContainerType for Query {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        self.0.resolve_field(ctx).await
    }

    async fn find_entity(&self, ctx: &Context<'_>, representation: &Value) -> ServerResult<Option<Value>> {
        let index = match ctx.data_opt::<EntityIndex>() {
            Some(places) => places.claim(ctx, representation),
            None => EntityIndex::default().claim(ctx, representation),
        };
        let indexed = ctx.with_index(index);
        let outcome = match malformed(representation) {
            Some(reason) => Err(coded(reason, ctx.item.pos)),
            None => match self.0.find_entity(&indexed, representation).await {
                Ok(Some(value)) => Ok(value),
                // Every type above has a resolver: only a key of the wrong kind gets here.
                Ok(None) => {
                    Err(coded("this representation's key is not one of this entity's ids".into(), ctx.item.pos))
                }
                Err(error) => Err(error),
            },
        };
        Ok(Some(outcome.unwrap_or_else(|error| {
            // Errors of the entity's own fields already have their path; those of the
            // representation itself get its place in the list.
            ctx.add_error(if error.path.is_empty() { indexed.set_error_path(error) } else { error });
            Value::Null
        })))
    }
}

/// Why a representation cannot name an entity of this subgraph, if it cannot.
fn malformed(representation: &Value) -> Option<String> {
    let Value::Object(fields) = representation else {
        return Some("a representation is an object with `__typename` and the entity's key".into());
    };
    let typename = match fields.get("__typename") {
        Some(Value::String(name)) => name.as_str(),
        _ => return Some("a representation needs its `__typename`".into()),
    };
    if !ENTITY_TYPES.contains(&typename) {
        let shown: String = typename.chars().take(64).collect();
        return Some(format!("`{shown}` is not an entity type of this subgraph"));
    }
    match fields.get("id") {
        Some(Value::String(_) | Value::Number(_)) => None,
        Some(Value::Null) | None => Some(format!("a {typename} representation needs its key `id`")),
        Some(_) => Some(format!("a {typename} representation's `id` is a string")),
    }
}

fn coded(message: String, pos: Pos) -> ServerError {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "BAD_USER_INPUT")).into_server_error(pos)
}

/// Each request's representations by their place in the list, handed out once each: a resolver
/// learns which index it answers. Equal representations resolve alike, so which of their places
/// each takes does not matter; each takes one. Gateways may ask `_entities` several times in one
/// operation under aliases: each has its own list.
#[derive(Default)]
pub struct EntityIndex(Mutex<HashMap<String, HashMap<String, VecDeque<usize>>>>);

impl EntityIndex {
    fn claim(&self, ctx: &Context<'_>, representation: &Value) -> usize {
        let mut lists = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let field = ctx.item.node.response_key().node.as_str();
        if !lists.contains_key(field) {
            let mut places: HashMap<String, VecDeque<usize>> = HashMap::new();
            if let Ok((_, all)) = ctx.param_value::<Vec<Any>>("representations", None) {
                for (i, Any(value)) in all.into_iter().enumerate() {
                    places.entry(value.to_string()).or_default().push_back(i);
                }
            }
            lists.insert(field.to_owned(), places);
        }
        lists
            .get_mut(field)
            .and_then(|places| places.get_mut(&representation.to_string()))
            .and_then(VecDeque::pop_front)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entity_types_are_those_the_schema_keys() {
        let sdl = crate::graphql::sdl();
        let mut keyed: Vec<&str> = sdl
            .lines()
            .filter(|line| line.contains("@key(fields: \"id\""))
            .filter_map(|line| line.split_whitespace().nth(1))
            .collect();
        keyed.sort_unstable();
        assert_eq!(keyed, ENTITY_TYPES);
    }

    #[test]
    fn malformed_representations_are_named() {
        let representation = |json: serde_json::Value| Value::from_json(json).expect("value");
        assert_eq!(malformed(&representation(serde_json::json!({"__typename": "Order", "id": "x"}))), None);
        assert_eq!(malformed(&representation(serde_json::json!({"__typename": "Product", "id": 7}))), None);
        for bad in [
            serde_json::json!({"__typename": "Order"}),
            serde_json::json!({"__typename": "Order", "id": null}),
            serde_json::json!({"__typename": "Order", "id": {"uuid": "x"}}),
            serde_json::json!({"__typename": 3, "id": "x"}),
            serde_json::json!({"__typename": "Shop", "id": "x"}),
            serde_json::json!(["Order", "x"]),
        ] {
            assert!(malformed(&representation(bad.clone())).is_some(), "{bad}");
        }
    }
}
