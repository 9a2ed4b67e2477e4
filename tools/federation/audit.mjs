// The graphql-http audit of a running GraphQL-over-HTTP server (npm graphql-http, pinned).
// Usage: node audit.mjs URL [TOKEN]; prints one line per audit, "RESULT ok|warn|error id name
// [reason]", and exits 1 when any MUST or SHOULD audit did not pass.
import { serverAudits } from "graphql-http";

const [url, token] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
let failed = 0;
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const reason = result.status === "ok" ? "" : ` ${result.reason}`;
  console.log(`RESULT ${result.status} ${audit.id} ${audit.name}${reason}`);
  if (result.status !== "ok" && /^(MUST|SHOULD)\b/.test(audit.name)) failed += 1;
}
console.log(`AUDIT ${failed} failed MUST or SHOULD`);
process.exit(failed ? 1 : 0);
