// The Node peer of the read benchmark (examples/load_reads.rs): serves `order(id)` and Order
// `_entities` from orderhub's SQLite file, as a competent team would with these tools: one
// prepared JOIN per order, synchronous better-sqlite3, no auth. Prints `listening PORT` once ready.
// Usage: node server.mjs DATABASE_FILE
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import Database from 'better-sqlite3';
import gql from 'graphql-tag';

const db = new Database(process.argv[2], { readonly: true, fileMustExist: true });
const byId = db.prepare(`
  SELECT o.id AS order_id, o.status, o.total, o.currency AS order_currency,
         l.id AS line_id, l.name, l.quantity, l.unit_price, l.currency
  FROM customer_order o LEFT JOIN customer_order_line l ON l.order_id = o.id
  WHERE o.id = ? ORDER BY l.id`);

// orderhub keeps UUIDs as 16 bytes.
const key = (id) => (/^[0-9a-f-]{36}$/i.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : null);

function order(id) {
  const bytes = key(id);
  if (!bytes) return null;
  const rows = byId.all(bytes);
  if (rows.length === 0) return null;
  const first = rows[0];
  return {
    id,
    status: first.status,
    total: { amount: first.total, currency: first.order_currency },
    lines: rows
      .filter((r) => r.line_id !== null)
      .map((r) => ({
        id: String(r.line_id),
        name: r.name,
        quantity: r.quantity,
        unitPrice: { amount: r.unit_price, currency: r.currency },
      })),
  };
}

const typeDefs = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Money { amount: String! currency: String! }
  type OrderLine { id: ID! name: String! quantity: Int! unitPrice: Money! }
  type Order @key(fields: "id") { id: ID! status: String! total: Money! lines: [OrderLine!]! }
  type Query { order(id: ID!): Order }
`;
const resolvers = {
  Query: { order: (_, { id }) => order(id) },
  Order: { __resolveReference: ({ id }) => order(id) },
};

const server = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers }) });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
console.log(`listening ${new URL(url).port}`);
