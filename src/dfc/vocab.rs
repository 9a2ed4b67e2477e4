//! Contexts and terms: which prefixes a payload may use and how a term maps to a DFC local name.

use std::collections::HashMap;

use serde_json::Value;

/// The context URL this service emits: the one Open Food Network and the Shopify app parse.
pub const CONTEXT_1_16: &str = "https://w3id.org/dfc/ontology/context/context_1.16.0.json";

/// Context URLs seen on the wire. Their prefixes are built in; none is ever fetched.
pub const KNOWN_CONTEXTS: [&str; 5] = [
    "https://www.datafoodconsortium.org",
    CONTEXT_1_16,
    "https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_1.16.0.jsonld",
    "https://w3id.org/dfc/ontology/context/context_2.0.0.json",
    "https://w3id.org/dfc/ontology/v2.0.0/context/context_2.0.0.json",
];

/// Namespace IRIs of the DFC ontology and taxonomies, versions 1.16 and 2.0 (and the 2.0 IRIs as
/// `https`), paired with the prefix they are bound to in both contexts.
const DFC_NAMESPACES: [(&str, &str); 14] = [
    ("dfc-b", "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_BusinessOntology.owl#"),
    ("dfc-t", "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_TechnicalOntology.owl#"),
    ("dfc", "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_FullModel.owl#"),
    ("dfc-m", "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/measures.rdf#"),
    ("dfc-v", "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/vocabulary.rdf#"),
    ("dfc-pt", "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/productTypes.rdf#"),
    ("dfc-f", "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/facets.rdf#"),
    ("dfc-b", "w3id.org/dfc/ontology/v2.0.0/src/DFC_BusinessOntology.owl#"),
    ("dfc-t", "w3id.org/dfc/ontology/v2.0.0/src/DFC_TechnicalOntology.owl#"),
    ("dfc", "w3id.org/dfc/ontology/DFC_FullModel.owl#"),
    ("dfc-m", "w3id.org/dfc/taxonomies/v2.0.0/measures.rdf#"),
    ("dfc-v", "w3id.org/dfc/taxonomies/v2.0.0/vocabulary.rdf#"),
    ("dfc-pt", "w3id.org/dfc/taxonomies/v2.0.0/productTypes.rdf#"),
    ("dfc-f", "w3id.org/dfc/taxonomies/v2.0.0/facets.rdf#"),
];

/// How the terms of one payload resolve, built from its `@context`.
#[derive(Debug, Default)]
pub struct Context {
    /// Prefixes that the payload binds to a DFC namespace (the built-in ones unless redefined).
    dfc_prefixes: HashMap<String, bool>,
    /// Bare terms an inline context defines, mapped to the CURIE or IRI they stand for.
    terms: HashMap<String, String>,
    /// `@vocab`, when it is a DFC namespace.
    vocab_is_dfc: bool,
    pub warnings: Vec<String>,
}

impl Context {
    /// Reads `@context` (a URL, an inline object, or an array of both). Unknown URLs are not
    /// fetched: the DFC prefixes are assumed and a warning is kept.
    pub fn from_json(context: Option<&Value>) -> Context {
        let mut ctx = Context::default();
        for (prefix, _) in DFC_NAMESPACES {
            ctx.dfc_prefixes.insert(prefix.to_owned(), true);
        }
        match context {
            None => ctx.warnings.push("no @context: assuming the DFC prefixes".to_owned()),
            Some(value) => ctx.absorb(value),
        }
        ctx
    }

    fn absorb(&mut self, value: &Value) {
        match value {
            Value::String(url) => {
                let trimmed = url.trim_end_matches('/');
                if !KNOWN_CONTEXTS.iter().any(|known| known.trim_end_matches('/') == trimmed) {
                    self.warnings.push(format!("unknown @context `{url}` not fetched: assuming the DFC prefixes"));
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.absorb(item)),
            Value::Object(map) => {
                for (key, definition) in map {
                    let target = match definition {
                        Value::String(s) => Some(s.as_str()),
                        Value::Object(o) => o.get("@id").and_then(Value::as_str),
                        _ => None,
                    };
                    let Some(target) = target else { continue };
                    if key == "@vocab" {
                        self.vocab_is_dfc = is_dfc_namespace(target);
                    } else if key.starts_with('@') {
                        continue;
                    } else if is_dfc_namespace(target) {
                        self.dfc_prefixes.insert(key.clone(), true);
                    } else if target.ends_with('#') || target.ends_with('/') {
                        // A prefix bound elsewhere (ofn:, ldp:): its terms are not DFC terms.
                        self.dfc_prefixes.insert(key.clone(), false);
                    } else {
                        self.terms.insert(key.clone(), target.to_owned());
                    }
                }
            }
            _ => self.warnings.push("@context is neither a URL nor an object: ignored".to_owned()),
        }
    }

    /// The DFC local name a term (property, type or vocabulary value) stands for, if it is a DFC
    /// term: `dfc-b:quantity`, a full 1.16 or 2.0 IRI, or a term an inline context defines.
    pub fn local_name<'a>(&'a self, term: &'a str) -> Option<&'a str> {
        match self.terms.get(term) {
            Some(target) => self.resolve(target),
            None => self.resolve(term).or_else(|| (self.vocab_is_dfc && !term.contains(':')).then_some(term)),
        }
    }

    fn resolve<'a>(&self, term: &'a str) -> Option<&'a str> {
        if let Some(local) = dfc_namespace_local(term) {
            return Some(local);
        }
        let (prefix, local) = term.split_once(':')?;
        if local.starts_with("//") || local.is_empty() {
            return None;
        }
        matches!(self.dfc_prefixes.get(prefix), Some(true)).then_some(local)
    }
}

fn is_dfc_namespace(iri: &str) -> bool {
    let without_scheme = iri.trim_start_matches("https://").trim_start_matches("http://");
    DFC_NAMESPACES.iter().any(|(_, ns)| {
        let ns = ns.trim_start_matches("https://");
        without_scheme == ns
    })
}

/// The local name of a full IRI in one of the DFC namespaces.
fn dfc_namespace_local(iri: &str) -> Option<&str> {
    let without_scheme = iri.strip_prefix("https://").or_else(|| iri.strip_prefix("http://"))?;
    DFC_NAMESPACES.iter().find_map(|(_, ns)| {
        let ns = ns.trim_start_matches("https://");
        without_scheme.strip_prefix(ns).filter(|local| !local.is_empty())
    })
}

/// 2.0 renamed some classes; the reader speaks of them by their 1.16 names.
pub fn canonical_type(local: &str) -> &str {
    match local {
        "Organization" => "Enterprise",
        other => other,
    }
}

/// OWL property names that differ from the wire names real systems send, mapped to the wire name.
pub fn canonical_property(local: &str) -> &str {
    match local {
        "startDate" => "beginDate",
        "offers" => "offeredItem",
        "offersTo" => "offeredTo",
        // The 1.16 context and the TypeScript connector link a transformation to its flows with
        // `hasInput`/`hasOutput`; the Shopify app and the Ruby connector with `hasIncome`/`hasOutcome`.
        "hasInput" => "hasIncome",
        "hasOutput" => "hasOutcome",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_curies_and_full_iris_of_both_versions() {
        let ctx = Context::from_json(Some(&json!(CONTEXT_1_16)));
        assert!(ctx.warnings.is_empty());
        assert_eq!(ctx.local_name("dfc-b:quantity"), Some("quantity"));
        assert_eq!(
            ctx.local_name("https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_BusinessOntology.owl#quantity"),
            Some("quantity")
        );
        assert_eq!(
            ctx.local_name("http://w3id.org/dfc/ontology/v2.0.0/src/DFC_BusinessOntology.owl#Order"),
            Some("Order")
        );
        assert_eq!(ctx.local_name("http://w3id.org/dfc/taxonomies/v2.0.0/vocabulary.rdf#Held"), Some("Held"));
        assert_eq!(ctx.local_name("ofn:image"), None);
        assert_eq!(ctx.local_name("https://example.org/x"), None);
    }

    #[test]
    fn inline_contexts_bind_their_own_prefixes_and_terms() {
        let ctx = Context::from_json(Some(&json!({
            "b": "https://github.com/datafoodconsortium/ontology/releases/latest/download/DFC_BusinessOntology.owl#",
            "dfc-b": "https://example.org/not-dfc#",
            "quantity": "b:quantity",
        })));
        assert_eq!(ctx.local_name("b:hasPart"), Some("hasPart"));
        assert_eq!(ctx.local_name("dfc-b:hasPart"), None);
        assert_eq!(ctx.local_name("quantity"), Some("quantity"));
    }

    #[test]
    fn unknown_context_urls_are_not_fetched_but_noted() {
        let ctx = Context::from_json(Some(&json!("https://example.org/ctx.json")));
        assert_eq!(ctx.warnings.len(), 1);
        assert_eq!(ctx.local_name("dfc-b:Order"), Some("Order"));
    }
}
