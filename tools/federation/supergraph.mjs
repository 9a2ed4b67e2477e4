// Composes orderhub's SDL with the customers subgraph stand-in, as every federated gateway does.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

export function compose(orderhubSdlPath, orderhubUrl = "http://orderhub/graphql") {
  const orderhubSdl = readFileSync(orderhubSdlPath, "utf8");
  const customersSdl = readFileSync(new URL("./customers.graphql", import.meta.url), "utf8");
  return composeServices([
    { name: "orderhub", url: orderhubUrl, typeDefs: parse(orderhubSdl) },
    { name: "customers", url: "http://127.0.0.1:9/graphql", typeDefs: parse(customersSdl) },
  ]);
}
