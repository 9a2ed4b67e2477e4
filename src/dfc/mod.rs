//! The DFC wire format: a lenient JSON-LD reader that turns what real platforms send into typed
//! values, and a writer that emits the 1.16 context every running DFC system parses.
//!
//! No JSON-LD processor is involved and no context is ever fetched: the contexts that exist on the
//! wire are known here, and terms are resolved to their local names in the DFC namespaces, which
//! is what versions 1.16 and 2.0 have in common.

pub mod model;
pub mod reader;
pub mod urls;
pub mod vocab;
pub mod writer;

pub use model::Document;
pub use reader::{ReadError, read_document};
