// Composes orderhub's SDL (argument 1) with a customers subgraph, the way Apollo Router, Gateway,
// Hive or Cosmo would, and fails on any composition error or hint that breaks the supergraph.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const orderhubSdl = readFileSync(process.argv[2] ?? "../../schema.graphql", "utf8");
const customersSdl = readFileSync(new URL("./customers.graphql", import.meta.url), "utf8");

const result = composeServices([
  { name: "orderhub", url: "http://orderhub/graphql", typeDefs: parse(orderhubSdl) },
  { name: "customers", url: "http://customers/graphql", typeDefs: parse(customersSdl) },
]);

if (result.errors && result.errors.length > 0) {
  console.error(`composition failed with ${result.errors.length} error(s):`);
  for (const error of result.errors) console.error(`- ${error.message}`);
  process.exit(1);
}
const supergraph = result.supergraphSdl;
for (const expected of ["type Order", "type SaleSession", "type Customer"]) {
  if (!supergraph.includes(expected)) {
    console.error(`the supergraph lacks ${expected}`);
    process.exit(1);
  }
}
console.log(`composition ok: ${supergraph.length} characters of supergraph, ${result.hints?.length ?? 0} hint(s)`);
