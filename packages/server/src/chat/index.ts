export {
  type ChatArchive,
  type ChatEntry,
  type ChatHistory,
  MemoryChatArchive,
  MemoryChatHistory,
  SqlChatArchive,
} from './ChatArchive.js';
export { type ChatAuthor, ChatLog, type ChatLogOptions, chatTextOf } from './ChatLog.js';
