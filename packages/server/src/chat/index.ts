export {
  type ChatArchive,
  type ChatEntry,
  MemoryChatArchive,
  SqliteChatArchive,
} from './ChatArchive.js';
export { type ChatAuthor, ChatLog, type ChatLogOptions, chatTextOf } from './ChatLog.js';
