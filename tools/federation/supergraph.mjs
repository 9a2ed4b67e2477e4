// Composes orderhub's SDL with the customers subgraph stand-in, as every federated gateway does.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

// `withoutScopes`: @apollo/gateway refuses supergraphs with SECURITY features (`@requiresScopes`,
// which only Apollo Router and Hive Gateway enforce at the edge); it then relies on orderhub,
// which checks every field again whatever the gateway did.
// `withOthers`: also a reviews and a catalogue subgraph that share orderhub's value types
// (@shareable) and extend its entities (@requires on Order.total).
export function compose(
  orderhubSdlPath,
  orderhubUrl = "http://orderhub/graphql",
  { withoutScopes = false, withOthers = false, customersUrl = "http://127.0.0.1:9/graphql" } = {},
) {
  let orderhubSdl = readFileSync(orderhubSdlPath, "utf8");
  if (withoutScopes) {
    orderhubSdl = orderhubSdl
      .replace(/ @requiresScopes\(scopes: \[[^)]*\]\)/g, "")
      .replace(', "@requiresScopes"', "");
  }
  const local = (file) => parse(readFileSync(new URL(file, import.meta.url), "utf8"));
  const others = [{ name: "customers", url: customersUrl, typeDefs: local("./customers.graphql") }];
  if (withOthers) {
    others.push(
      { name: "reviews", url: "http://127.0.0.1:9/reviews", typeDefs: local("./reviews.graphql") },
      { name: "catalogue", url: "http://127.0.0.1:9/catalogue", typeDefs: local("./catalogue.graphql") },
    );
  }
  return composeServices([{ name: "orderhub", url: orderhubUrl, typeDefs: parse(orderhubSdl) }, ...others]);
}
