// Composes orderhub's SDL (argument 1) with a customers subgraph, the way Apollo Router, Gateway,
// Hive or Cosmo would, and fails on any composition error.
import { compose } from "./supergraph.mjs";

const sdl = process.argv[2] ?? "../../schema.graphql";
// With the customers subgraph, and again with a reviews and a catalogue subgraph besides.
const withOthers = compose(sdl, undefined, { withOthers: true });
if (withOthers.errors && withOthers.errors.length > 0) {
  console.error(`composition with the reviews and catalogue subgraphs failed with ${withOthers.errors.length} error(s):`);
  for (const error of withOthers.errors) console.error(`- ${error.message}`);
  process.exit(1);
}
if (!withOthers.supergraphSdl.includes("reviewPrompt")) {
  console.error("the supergraph lacks the reviews subgraph's Order.reviewPrompt");
  process.exit(1);
}
const result = compose(sdl);
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
console.log(`composition ok: ${supergraph.length} characters of supergraph, ${result.hints?.length ?? 0} hint(s); with reviews and catalogue: ${withOthers.hints?.length ?? 0} hint(s)`);
