export { bridge } from './bridge.js';
export { type Command, UsageError } from './Command.js';
export { dbCopy } from './db.js';
export { keysGenerate, keysJwkFromPem, keysRotate } from './keys.js';
export { serve } from './serve.js';
export { userAdd, userList, userPasswd, userRemove } from './user.js';
