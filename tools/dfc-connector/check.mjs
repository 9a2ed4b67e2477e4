// Reads DFC documents with the official TypeScript connector (@datafoodconsortium/connector), the
// way the FDC Shopify apps read every request, and reports what it understood. Offline: a context
// is never fetched, and any node a document refers to without including it is recorded as a
// fetch (and fails), as it would fail a reader without network.
//
// stdin: {"name": <JSON-LD document>, ...}
// stdout: {"name": {"objects": {<id>: {"type": ..., <getter>: <value>}}, "fetched": [...],
//                   "contexts": [...], "errors": [...]}, ...}
//
// Every getter of every imported object is called (references followed through the connector's
// own store), so a value the connector cannot read shows up as missing or as an error.

import { Connector } from "@datafoodconsortium/connector";
import ConnectorImporterJsonldStream from "@datafoodconsortium/connector/lib/ConnectorImporterJsonldStream.js";
import context from "@datafoodconsortium/connector/lib/context.js";

// The context URLs DFC documents name, all served from the connector's bundled 1.16 context.
const KNOWN_CONTEXTS = new Set([
  "https://www.datafoodconsortium.org",
  "https://www.datafoodconsortium.org/",
  "https://w3id.org/dfc/ontology/context/context_1.16.0.json",
  "https://www.datafoodconsortium.org/wp-content/plugins/wordpress-context-jsonld/context_1.16.0.jsonld",
]);

// Vocabulary terms (units, currencies, states) come from taxonomies a reader loads from files;
// they are not nodes a document must include.
const TAXONOMIES = [
  "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/measures.rdf#",
  "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/vocabulary.rdf#",
  "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/facets.rdf#",
  "https://github.com/datafoodconsortium/taxonomies/releases/latest/download/productTypes.rdf#",
];

const SKIPPED_GETTERS = new Set(["getSemantizer", "getConnector", "getContext"]);

function read(stream) {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  });
}

function getters(object) {
  const names = new Set();
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (/^get[A-Z]/.test(name) && !name.startsWith("getSemantic") && !SKIPPED_GETTERS.has(name)) {
        names.add(name);
      }
    }
  }
  return [...names].sort();
}

function isSemanticObject(value) {
  return value && typeof value === "object" && typeof value.getSemanticId === "function";
}

async function check(document) {
  const report = { objects: {}, fetched: [], contexts: [], errors: [] };
  const connector = new Connector();
  connector.setDefaultImporter(
    new ConnectorImporterJsonldStream({
      context,
      documentLoader: {
        load: async (url) => {
          if (KNOWN_CONTEXTS.has(url)) return { "@context": context };
          report.contexts.push(url);
          throw new Error(`would fetch the context ${url}`);
        },
      },
    }),
  );
  connector.setDefaultFetchFunction(async (id) => {
    if (TAXONOMIES.some((prefix) => id.startsWith(prefix))) {
      const concept = { "@context": context, "@id": id, "@type": "skos:Concept" };
      return { ok: true, status: 200, text: async () => JSON.stringify(concept) };
    }
    report.fetched.push(id);
    return { ok: false, status: 599, text: async () => "" };
  });

  let imported;
  try {
    imported = await connector.import(JSON.stringify(document));
  } catch (error) {
    report.errors.push(`import: ${error}`);
    return report;
  }

  // A value as JSON: primitives as they are, named objects by id, anonymous ones (prices,
  // quantities) inline with their own getters.
  const value = async (v, depth) => {
    if (Array.isArray(v)) return Promise.all(v.map((x) => value(x, depth)));
    if (isSemanticObject(v)) {
      const id = v.getSemanticId();
      if (id && !id.startsWith("_:") && !v.isSemanticObjectAnonymous?.()) return { "@id": id };
      return depth > 3 ? "..." : describe(v, depth + 1);
    }
    if (typeof v === "number" && Number.isNaN(v)) return "NaN";
    if (v instanceof Date) return v.toISOString();
    return v === undefined ? null : v;
  };
  const describe = async (object, depth) => {
    const out = { type: object.getSemanticType?.() ?? null };
    for (const name of getters(object)) {
      try {
        out[name] = await value(await object[name](), depth);
      } catch (error) {
        report.errors.push(`${object.getSemanticId?.()} ${name}: ${error?.message ?? error}`);
      }
    }
    return out;
  };
  for (const object of imported) {
    const id = object.getSemanticId();
    report.objects[id] = await describe(object, 0);
  }
  return report;
}

const input = JSON.parse(await read(process.stdin));
const output = {};
for (const [name, document] of Object.entries(input)) {
  output[name] = await check(document);
}
process.stdout.write(JSON.stringify(output));
