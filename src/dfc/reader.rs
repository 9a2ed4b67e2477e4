//! The lenient half: JSON bytes to a flat graph of nodes keyed by `@id`, whatever shape the sender
//! chose (an `@graph` or a single node, embedded or referenced objects, blank nodes, CURIEs or
//! full IRIs, values as numbers or strings). Typed extraction lives in [`super::model`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::model::Document;
use super::vocab::{Context, canonical_property, canonical_type};

/// Why a payload cannot be understood, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// Where in the payload: a JSON position, or a node and property (`OrderLine <id> / dfc-b:quantity`).
    pub path: String,
    pub message: String,
}

impl ReadError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ReadError {
        ReadError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ReadError {}

/// Parses a DFC JSON-LD payload into typed values.
pub fn read_document(bytes: &[u8]) -> Result<Document, ReadError> {
    let json: Value = serde_json::from_slice(bytes).map_err(|e| {
        ReadError::new(format!("line {} column {}", e.line(), e.column()), format!("invalid JSON: {e}"))
    })?;
    let graph = Graph::from_json(&json)?;
    Document::from_graph(&graph)
}

/// Where a value sits in the JSON, built without allocating and printed only for an error.
#[derive(Clone, Copy)]
enum JsonPath<'a> {
    Root(&'a str),
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root(root) => f.write_str(root),
            JsonPath::Key(parent, key) => write!(f, "{parent}/{key}"),
            JsonPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A top-level node and its index in `@graph` (None when the payload is a single node).
type IndexedNode<'a> = (Option<usize>, &'a Value);

/// One resource: its id, its types and its DFC properties (by canonical local name).
#[derive(Debug, Clone)]
pub struct Node {
    pub id: Option<String>,
    pub types: Vec<String>,
    props: HashMap<String, Vec<Value>>,
}

/// All the nodes of a payload, embedded ones lifted out and replaced by references.
#[derive(Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
    context: Context,
    pub warnings: Vec<String>,
    generated_ids: usize,
}

impl Graph {
    pub fn from_json(json: &Value) -> Result<Graph, ReadError> {
        let (context, roots, root_name): (Option<&Value>, Vec<IndexedNode<'_>>, &str) = match json {
            Value::Object(top) => match top.get("@graph") {
                Some(Value::Array(items)) => {
                    (top.get("@context"), items.iter().enumerate().map(|(i, v)| (Some(i), v)).collect(), "@graph")
                }
                Some(single @ Value::Object(_)) => (top.get("@context"), vec![(None, single)], "@graph"),
                Some(_) => return Err(ReadError::new("@graph", "expected an array of nodes")),
                None => (top.get("@context"), vec![(None, json)], "$"),
            },
            Value::Array(items) => (None, items.iter().enumerate().map(|(i, v)| (Some(i), v)).collect(), ""),
            _ => return Err(ReadError::new("$", "expected a JSON-LD object or array")),
        };
        let context = Context::from_json(context);
        let warnings = context.warnings.clone();
        let mut graph = Graph { nodes: Vec::new(), index: HashMap::new(), context, warnings, generated_ids: 0 };
        let root = JsonPath::Root(root_name);
        for (index, node) in roots {
            let path = match index {
                Some(i) => JsonPath::Index(&root, i),
                None => root,
            };
            match node {
                Value::Object(object) => {
                    graph.add_node(object, &path)?;
                }
                _ => return Err(ReadError::new(path.to_string(), "expected a node object")),
            }
        }
        Ok(graph)
    }

    /// Adds a node (merging with an earlier one of the same id) and returns its id.
    fn add_node(&mut self, object: &Map<String, Value>, path: &JsonPath<'_>) -> Result<String, ReadError> {
        let id = match object.get("@id") {
            Some(Value::String(id)) if !id.trim().is_empty() => normalize_id(id),
            Some(Value::String(_)) | None => {
                self.generated_ids += 1;
                format!("_:orderhub-{}", self.generated_ids)
            }
            Some(_) => return Err(ReadError::new(format!("{path}/@id"), "expected a string")),
        };
        let mut types = Vec::new();
        match object.get("@type") {
            None => {}
            Some(Value::String(t)) => types.push(t.as_str()),
            Some(Value::Array(ts)) => {
                for t in ts {
                    match t {
                        Value::String(t) => types.push(t.as_str()),
                        _ => return Err(ReadError::new(format!("{path}/@type"), "expected a string or strings")),
                    }
                }
            }
            Some(_) => return Err(ReadError::new(format!("{path}/@type"), "expected a string or strings")),
        }
        let types: Vec<String> = types
            .into_iter()
            .filter_map(|t| self.context.local_name(t).map(|l| canonical_type(l).to_owned()))
            .collect();

        let mut props: HashMap<String, Vec<Value>> = HashMap::new();
        for (key, value) in object {
            if key.starts_with('@') {
                continue;
            }
            let Some(local) = self.context.local_name(key) else { continue };
            let local = canonical_property(local).to_owned();
            let values = self.lift_values(value, &JsonPath::Key(path, key))?;
            props.entry(local).or_default().extend(values);
        }

        match self.index.get(&id) {
            Some(&existing) => {
                let node = &mut self.nodes[existing];
                for t in types {
                    if !node.types.contains(&t) {
                        node.types.push(t);
                    }
                }
                for (k, v) in props {
                    node.props.entry(k).or_default().extend(v);
                }
            }
            None => {
                self.index.insert(id.clone(), self.nodes.len());
                let mut unique_types = Vec::new();
                for t in types {
                    if !unique_types.contains(&t) {
                        unique_types.push(t);
                    }
                }
                self.nodes.push(Node { id: Some(id.clone()), types: unique_types, props });
            }
        }
        Ok(id)
    }

    /// Flattens one property value: arrays into items, `@value` objects into literals, embedded
    /// nodes into references to lifted nodes, `{"@id"}` into references.
    fn lift_values(&mut self, value: &Value, path: &JsonPath<'_>) -> Result<Vec<Value>, ReadError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.lift_values(item, &JsonPath::Index(path, i))?);
                }
                Ok(out)
            }
            Value::Object(object) => {
                if let Some(literal) = object.get("@value") {
                    return Ok(vec![literal.clone()]);
                }
                if let Some(list) = object.get("@list").or_else(|| object.get("@set")) {
                    return self.lift_values(list, path);
                }
                let is_reference = object.keys().all(|k| k == "@id");
                if is_reference {
                    return match object.get("@id") {
                        Some(Value::String(id)) => Ok(vec![reference(&normalize_id(id))]),
                        _ => Err(ReadError::new(path.to_string(), "expected `@id` to be a string")),
                    };
                }
                let id = self.add_node(object, path)?;
                Ok(vec![reference(&id)])
            }
            Value::Null => Ok(vec![]),
            Value::String(s) if s.trim().is_empty() => Ok(vec![]),
            other => Ok(vec![other.clone()]),
        }
    }

    pub fn node(&self, id: &str) -> Option<NodeRef<'_>> {
        self.index.get(&normalize_id(id)).map(|&i| NodeRef { graph: self, node: &self.nodes[i] })
    }

    pub fn of_type<'g>(&'g self, ty: &'g str) -> impl Iterator<Item = NodeRef<'g>> + 'g {
        self.nodes
            .iter()
            .filter(move |n| n.types.iter().any(|t| t == ty))
            .map(move |node| NodeRef { graph: self, node })
    }
}

fn reference(id: &str) -> Value {
    let mut map = Map::new();
    map.insert("@id".to_owned(), Value::String(id.to_owned()));
    Value::Object(map)
}

/// Blank nodes come as `_:b12` or, from the Shopify app, `_:_:b12`: the same node.
pub fn normalize_id(id: &str) -> String {
    let id = id.trim();
    let mut rest = id;
    while let Some(stripped) = rest.strip_prefix("_:") {
        rest = stripped;
    }
    if rest.len() == id.len() { id.to_owned() } else { format!("_:{rest}") }
}

/// A node with access to its graph, for following references.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'g> {
    graph: &'g Graph,
    node: &'g Node,
}

impl<'g> NodeRef<'g> {
    pub fn id(&self) -> Option<&'g str> {
        self.node.id.as_deref().filter(|id| !id.starts_with("_:orderhub-"))
    }

    /// Whether both refer to the same node (blank or not).
    pub fn same_node(&self, other: &NodeRef<'_>) -> bool {
        std::ptr::eq(self.node, other.node)
    }

    pub fn has_type(&self, ty: &str) -> bool {
        self.node.types.iter().any(|t| t == ty)
    }

    pub fn path(&self, prop: &str) -> String {
        let ty = self.node.types.first().map_or("node", String::as_str);
        match self.id() {
            Some(id) => format!("{ty} <{id}> / dfc-b:{prop}"),
            None => format!("{ty} / dfc-b:{prop}"),
        }
    }

    fn values(&self, prop: &str) -> &'g [Value] {
        self.node.props.get(prop).map_or(&[], Vec::as_slice)
    }

    /// The single value of a property; several different values are an error.
    fn one(&self, prop: &str) -> Result<Option<&'g Value>, ReadError> {
        let values = self.values(prop);
        match values {
            [] => Ok(None),
            [first, rest @ ..] => {
                if rest.iter().any(|v| v != first) {
                    Err(ReadError::new(self.path(prop), format!("expected one value, found {}", values.len())))
                } else {
                    Ok(Some(first))
                }
            }
        }
    }

    pub fn text(&self, prop: &str) -> Result<Option<String>, ReadError> {
        match self.one(prop)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ReadError::new(self.path(prop), "expected text, found an object")),
        }
    }

    pub fn decimal(&self, prop: &str) -> Result<Option<Decimal>, ReadError> {
        match self.one(prop)? {
            None => Ok(None),
            Some(value) => parse_decimal(value).map(Some).map_err(|m| ReadError::new(self.path(prop), m)),
        }
    }

    /// Every reference a property holds: a string, `{"@id": ...}`, or an array of them.
    pub fn references(&self, prop: &str) -> Result<Vec<String>, ReadError> {
        let mut out = Vec::new();
        for value in self.values(prop) {
            let id = match value {
                Value::String(s) => normalize_id(s),
                Value::Object(o) => match o.get("@id") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(ReadError::new(self.path(prop), "expected a reference")),
                },
                _ => {
                    return Err(ReadError::new(
                        self.path(prop),
                        format!("expected a reference, found {}", kind(value)),
                    ));
                }
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    pub fn reference(&self, prop: &str) -> Result<Option<String>, ReadError> {
        let refs = self.references(prop)?;
        match refs.len() {
            0 | 1 => Ok(refs.into_iter().next()),
            n => Err(ReadError::new(self.path(prop), format!("expected one reference, found {n}"))),
        }
    }

    /// The node a property refers to (or embeds), when the payload includes it.
    pub fn linked(&self, prop: &str) -> Result<Option<NodeRef<'g>>, ReadError> {
        Ok(self.reference(prop)?.and_then(|id| self.graph.node(&id)))
    }

    pub fn linked_all(&self, prop: &str) -> Result<Vec<NodeRef<'g>>, ReadError> {
        Ok(self.references(prop)?.iter().filter_map(|id| self.graph.node(id)).collect())
    }

    /// A vocabulary value (`dfc-v:Held`, `{"@id": "dfc-m:Kilogram"}`, a full IRI) as its local name.
    pub fn term(&self, prop: &str) -> Result<Option<String>, ReadError> {
        let Some(reference) = self.reference(prop)? else { return Ok(None) };
        match self.graph.context.local_name(&reference) {
            Some(local) => Ok(Some(local.to_owned())),
            None => Err(ReadError::new(self.path(prop), format!("`{reference}` is not a DFC term"))),
        }
    }

    /// A date in ISO 8601 or JavaScript's `Date.toString()` form. An unreadable date is not worth
    /// refusing a payload for: it reads as absent and is noted in `warnings`.
    pub fn date(&self, prop: &str, warnings: &mut Vec<String>) -> Result<Option<DateTime<Utc>>, ReadError> {
        let Some(text) = self.text(prop)? else { return Ok(None) };
        let parsed = parse_date(&text);
        if parsed.is_none() {
            warnings.push(format!("{}: `{text}` is not a date; ignored", self.path(prop)));
        }
        Ok(parsed)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Numbers arrive as JSON numbers or as strings; either way they become exact decimals.
pub fn parse_decimal(value: &Value) -> Result<Decimal, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        other => return Err(format!("expected a number, found {}", kind(other))),
    };
    Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).map_err(|_| {
        if text.parse::<f64>().is_ok_and(f64::is_finite) {
            format!("number `{}` is out of range", truncate(&text, 40))
        } else {
            format!("expected a number, found `{}`", truncate(&text, 40))
        }
    })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(dt.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc());
    }
    // JavaScript's Date.toString(): "Mon Dec 16 2024 02:30:56 UTC" or
    // "Mon Dec 16 2024 02:30:56 GMT+0100 (Central European Standard Time)".
    let without_zone_name = text.split(" (").next().unwrap_or(text);
    if let Some(naive) = without_zone_name.strip_suffix(" UTC").or_else(|| without_zone_name.strip_suffix(" GMT")) {
        return NaiveDateTime::parse_from_str(naive, "%a %b %d %Y %H:%M:%S").ok().map(|dt| dt.and_utc());
    }
    DateTime::parse_from_str(without_zone_name, "%a %b %d %Y %H:%M:%S GMT%z").ok().map(|dt| dt.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_in_both_wire_forms() {
        let expected = "2024-12-16T02:30:56Z";
        for text in [
            "2024-12-16T02:30:56Z",
            "2024-12-16T03:30:56+01:00",
            "2024-12-16T02:30:56",
            "Mon Dec 16 2024 02:30:56 UTC",
            "Mon Dec 16 2024 03:30:56 GMT+0100 (Central European Standard Time)",
        ] {
            let parsed = parse_date(text).unwrap_or_else(|| panic!("{text} should parse"));
            assert_eq!(parsed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), expected, "{text}");
        }
        assert_eq!(parse_date("beginDate"), None);
        assert!(parse_date("2024-06-03").is_some());
    }

    #[test]
    fn numbers_as_numbers_or_strings_are_exact() {
        assert_eq!(parse_decimal(&json!(19.99)).unwrap().to_string(), "19.99");
        assert_eq!(parse_decimal(&json!("6.25")).unwrap().to_string(), "6.25");
        assert_eq!(parse_decimal(&json!(" 3 ")).unwrap().to_string(), "3");
        assert_eq!(parse_decimal(&json!("1e3")).unwrap().to_string(), "1000");
        assert!(parse_decimal(&json!("three")).unwrap_err().contains("`three`"));
        assert!(parse_decimal(&json!(true)).unwrap_err().contains("boolean"));
        assert!(parse_decimal(&json!({"a": 1})).is_err());
        assert!(parse_decimal(&json!("1e40")).unwrap_err().contains("out of range"));
        assert!(parse_decimal(&json!("1e400")).is_err());
    }

    #[test]
    fn blank_node_spellings_are_the_same_node() {
        assert_eq!(normalize_id("_:_:b1"), "_:b1");
        assert_eq!(normalize_id("_:b1"), "_:b1");
        assert_eq!(normalize_id("http://x/_:b1"), "http://x/_:b1");
    }

    #[test]
    fn embedded_nodes_are_lifted_and_references_followed() {
        let json = json!({
            "@context": "https://www.datafoodconsortium.org",
            "@graph": [
                {"@id": "http://x/o", "@type": ["dfc-b:Offer", "dfc-b:Offer"],
                 "dfc-b:hasPrice": {"@type": "dfc-b:Price", "dfc-b:value": "2.54"},
                 "dfc-b:offeredItem": [{"@id": "http://x/p"}]},
                {"@id": "http://x/p", "@type": "dfc-b:SuppliedProduct", "dfc-b:name": ""}
            ]
        });
        let graph = Graph::from_json(&json).unwrap();
        let offer = graph.node("http://x/o").unwrap();
        assert!(offer.has_type("Offer"));
        let price = offer.linked("hasPrice").unwrap().unwrap();
        assert_eq!(price.decimal("value").unwrap().unwrap().to_string(), "2.54");
        assert_eq!(offer.reference("offeredItem").unwrap().as_deref(), Some("http://x/p"));
        assert_eq!(graph.node("http://x/p").unwrap().text("name").unwrap(), None);
    }
}
