// A real Apollo Gateway in front of a running orderhub, for end-to-end federation tests.
// Usage: node gateway.mjs SDL_PATH ORDERHUB_GRAPHQL_URL; prints "GATEWAY <url>" once it listens.
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { compose } from "./supergraph.mjs";

const [sdlPath, orderhubUrl] = process.argv.slice(2);
const composed = compose(sdlPath, orderhubUrl);
if (composed.errors?.length) {
  for (const error of composed.errors) console.error(error.message);
  process.exit(1);
}
const gateway = new ApolloGateway({ supergraphSdl: composed.supergraphSdl });
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
console.log(`GATEWAY ${url}`);
// Ends with its parent: the test closes stdin when it is done.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
