export {
  type AddressBookField,
  type AddressBookList,
  type AddressBookQuery,
  type AddressBookUser,
  addressBookFields,
  addressBookPrefix,
  addressBookQuerySchema,
  addressBookUserSchema,
} from './addressbook.js';
export { type ErrorBody, type ErrorCode, errorBody, errorCatalogue, errorCodes } from './errors.js';
export { type HealthCheck, healthCheckSchema } from './health.js';
export {
  appBasePath,
  roomPathPrefix,
  type WebConfig,
  webConfigPath,
  webConfigSchema,
} from './webConfig.js';
