// pg's Client class on its own (node_modules/pg/lib/client.js, exported by pg's package.json as
// `pg/lib/*`), typed as @types/pg types it: src/adapters/postgres/sql.ts imports it instead of
// pg's index, which would also load pg-pool.
declare module 'pg/lib/client' {
  import {Client} from 'pg'
  export = Client
}

// pg's Query class (node_modules/pg/lib/query.js): LocalSql.query builds the named status query
// itself, so that pg does not copy a query config object on every call.
declare module 'pg/lib/query' {
  import type {QueryResult} from 'pg'
  class Query {
    constructor(text: string, values: unknown[], callback: (err: Error | null, res: QueryResult) => void)
    name?: string
    submit: (...args: unknown[]) => void
  }
  export = Query
}
