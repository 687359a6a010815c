export { type Database, databaseFileName, openDatabase } from './Database.js';
