// A real Apollo Gateway in front of a running orderhub, for end-to-end federation tests.
// Usage: node gateway.mjs SDL_PATH ORDERHUB_GRAPHQL_URL; prints "GATEWAY <url>" once it listens.
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { customersUrl } from "./customers.mjs";
import { compose } from "./supergraph.mjs";

const [sdlPath, orderhubUrl] = process.argv.slice(2);
const composed = compose(sdlPath, orderhubUrl, { withoutScopes: true, customersUrl: await customersUrl() });
if (composed.errors?.length) {
  for (const error of composed.errors) console.error(error.message);
  process.exit(1);
}
// Passes the client's Authorization and trace context (W3C traceparent) on to the subgraphs, as
// Router, Hive and Cosmo do.
class ForwardingAuthorization extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) request.http.headers.set("authorization", context.authorization);
    if (context.traceparent) request.http.headers.set("traceparent", context.traceparent);
  }
}
const gateway = new ApolloGateway({
  supergraphSdl: composed.supergraphSdl,
  buildService: ({ url }) => new ForwardingAuthorization({ url }),
});
// Asked by a request's `x-capture-trace: 1`, the gateway asks its subgraphs for federated traces
// (`apollo-federation-include-trace: ftv1`) as Apollo's usage reporting makes it do, decodes
// them into its query plan trace, and answers that trace in `extensions.queryPlanTrace`.
const captureTraces = {
  async requestDidStart({ request, metrics }) {
    if (request.http?.headers.get("x-capture-trace") !== "1") return;
    metrics.captureTraces = true;
    return {
      async willSendResponse({ response, metrics }) {
        if (response.body.kind !== "single") return;
        const result = response.body.singleResult;
        const plan = metrics.queryPlanTrace;
        result.extensions = { ...result.extensions, queryPlanTrace: plan ? plan.toJSON() : null };
      },
    };
  },
};
const server = new ApolloServer({ gateway, plugins: [captureTraces] });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization, traceparent: req.headers.traceparent }),
});
console.log(`GATEWAY ${url}`);
// Ends with its parent: the test closes stdin when it is done.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
