// The customers subgraph stand-in as a live service: it answers each root field of a query with
// the references it was given (CUSTOMERS_ANSWERS, JSON: field name -> value), and `_entities`
// with the fields given for each type (`"_entities": {"Offer": {...}}`), as a real subgraph
// would. The gateways ask orderhub for the rest.
import { createServer } from "node:http";
import { parse } from "graphql";

export function startCustomers(answers) {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const data = {};
      // Gateways may merge several fetches into one operation under aliases: each is answered
      // under its own.
      const { query, variables = {} } = JSON.parse(body || "{}");
      const operation = parse(query ?? "{ __typename }").definitions[0];
      for (const selection of operation.selectionSet.selections) {
        if (selection.kind !== "Field") continue;
        const key = selection.alias?.value ?? selection.name.value;
        if (selection.name.value === "__typename") data[key] = "Query";
        else if (selection.name.value === "_entities") {
          // What this subgraph adds to each entity it is asked for: `answers._entities[type]`.
          const argument = selection.arguments.find((a) => a.name.value === "representations");
          const representations = argument?.value.kind === "Variable" ? variables[argument.value.name.value] : [];
          data[key] = representations.map((r) => ({ __typename: r.__typename, ...answers._entities?.[r.__typename] }));
        }
        else if (selection.name.value in answers) data[key] = answers[selection.name.value];
      }
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ data }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}/graphql`)),
  );
}

// The stand-in's URL: a live one when the test gave answers, else one nothing listens on.
export async function customersUrl() {
  const answers = process.env.CUSTOMERS_ANSWERS;
  return answers ? startCustomers(JSON.parse(answers)) : "http://127.0.0.1:9/graphql";
}
