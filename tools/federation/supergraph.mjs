// Composes orderhub's SDL with the customers subgraph stand-in, as every federated gateway does.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

// `withoutScopes`: @apollo/gateway refuses supergraphs with SECURITY features (`@requiresScopes`,
// which only Apollo Router and Hive Gateway enforce at the edge); it then relies on orderhub,
// which checks every field again whatever the gateway did.
export function compose(orderhubSdlPath, orderhubUrl = "http://orderhub/graphql", { withoutScopes = false } = {}) {
  let orderhubSdl = readFileSync(orderhubSdlPath, "utf8");
  if (withoutScopes) {
    orderhubSdl = orderhubSdl
      .replace(/ @requiresScopes\(scopes: \[[^)]*\]\)/g, "")
      .replace(', "@requiresScopes"', "");
  }
  const customersSdl = readFileSync(new URL("./customers.graphql", import.meta.url), "utf8");
  return composeServices([
    { name: "orderhub", url: orderhubUrl, typeDefs: parse(orderhubSdl) },
    { name: "customers", url: "http://127.0.0.1:9/graphql", typeDefs: parse(customersSdl) },
  ]);
}
