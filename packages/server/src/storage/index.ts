export {
  databaseFileName,
  databaseStartWaitMs,
  openDatabase,
  openPostgres,
  openSqlite,
  openStorage,
  redactedUrl,
  type Storage,
  secretParams,
} from './Database.js';
export { type Dialect, dialectOf, postgres, sqlite } from './dialect.js';
export { migrations } from './migrations.js';
export { isConnectionError, PostgresSql } from './PostgresSql.js';
export { FileSecrets, type SecretStore, SqlSecrets } from './Secrets.js';
export {
  DatabaseUnavailable,
  type DialectName,
  isDatabaseUnavailable,
  type QueryOptions,
  type RunResult,
  type Sql,
} from './Sql.js';
export { SqliteSql } from './SqliteSql.js';
