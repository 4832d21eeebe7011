// The typed client of the Sessions API, and the AI SDK chat layer over it.
export { type FollowOptions, RecordsTrimmedError, SessionsClient, SessionsError, type SessionsClientOptions, type Token, type TrimmedGap } from "./sessions-client.js";
export type { ChatConnectionOptions } from "./chat/connection.js";
export { SessionsChatTransport, type SessionsChatTransportOptions } from "./chat/transport.js";
export { serveChat, type ChatServer, type ChunkSource, type RespondArgs, type ServeChatEvent, type ServeChatOptions } from "./chat/serve-chat.js";
export { loadChat, loadChatSnapshot, type ChatSnapshot, type LoadChatOptions } from "./chat/load-chat.js";
export * from "./chat/records.js";
