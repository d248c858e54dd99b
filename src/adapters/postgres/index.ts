export {PostgresAdapter, versionNum, type PostgresAdapterOptions} from './postgres-adapter'
export * from './conf-files'
export {parseControldata, parseControldataRaw} from './controldata'
export * from './timeline'
