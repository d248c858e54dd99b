// pg's Client class on its own (node_modules/pg/lib/client.js, exported by pg's package.json as
// `pg/lib/*`), typed as @types/pg types it: src/adapters/postgres/sql.ts imports it instead of
// pg's index, which would also load pg-pool.
declare module 'pg/lib/client' {
  import {Client} from 'pg'
  export = Client
}
