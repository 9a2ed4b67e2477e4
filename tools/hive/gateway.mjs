// Hive Gateway (npm @graphql-hive/gateway-runtime) in front of a running orderhub, for end-to-end
// tests of authorisation at the edge: it verifies the client's JWT (HS256, the development
// secret in HIVE_JWT_SECRET), enforces the subgraph's @requiresScopes against the token's `scope`
// before planning anything, and forwards Authorization (which orderhub verifies again) and the
// trace context (traceparent). Subscriptions pass through as they are: clients ask the gateway
// for an event stream (GraphQL over SSE), and the gateway opens one at orderhub (a GET with
// `Accept: text/event-stream`).
// Usage: node gateway.mjs SDL_PATH ORDERHUB_GRAPHQL_URL; prints "GATEWAY <url>" once it listens.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { createGatewayRuntime } from "@graphql-hive/gateway-runtime";
import { customersUrl } from "../federation/customers.mjs";
import { compose } from "../federation/supergraph.mjs";

const [sdlPath, orderhubUrl] = process.argv.slice(2);
const secret = process.env.HIVE_JWT_SECRET ?? "";
const composed = compose(sdlPath, orderhubUrl, { customersUrl: await customersUrl() });
if (composed.errors?.length) {
  for (const error of composed.errors) console.error(error.message);
  process.exit(1);
}

// The claims of a valid development token, or null (no token, or one that does not verify).
function verified(authorization) {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : null;
  const parts = token?.split(".");
  if (!parts || parts.length !== 3 || !secret) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], "base64url"));
    if (header.alg !== "HS256") return null;
    const expected = createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const claims = JSON.parse(Buffer.from(parts[1], "base64url"));
    if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return null;
    return claims;
  } catch {
    return null;
  }
}

const gateway = createGatewayRuntime({
  supergraph: composed.supergraphSdl,
  logging: false,
  // A test tool: show the real error rather than "Unexpected error.".
  maskedErrors: false,
  genericAuth: {
    mode: "protect-granular",
    resolveUserFn: (context) => verified(context.request.headers.get("authorization")),
    // Fields without a directive stay open to anonymous callers; directives decide the rest.
    rejectUnauthenticated: true,
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => {
      const forwarded = {};
      for (const name of ["authorization", "traceparent"]) {
        const value = request.headers.get(name);
        if (value) forwarded[name] = value;
      }
      return forwarded;
    },
  },
});
const server = createServer(gateway);
server.listen(0, "127.0.0.1", () => console.log(`GATEWAY http://127.0.0.1:${server.address().port}/graphql`));
// Ends with its parent: the test closes stdin when it is done.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
