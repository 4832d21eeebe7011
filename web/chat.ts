import "./zod-jitless.js";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { ChatPage } from "./chat-page.js";
import { askForToken, pageToken } from "./connect.js";
import { mountStyles } from "./style.js";

// The /chat page: React + the AI SDK's useChat over SessionsChatTransport (web/chat-page.tsx).
mountStyles();
const root = document.getElementById("root")!;
const chatId = new URLSearchParams(location.search).get("session") ?? "demo-chat";
document.getElementById("session-label")!.textContent = chatId;
// A token of its own per chat: a link to one chat (with its token) changes nothing for the others or the dashboard.
const storageKey = `sessions.chat-token:${chatId}`;
const token = pageToken(storageKey);
if (!token) askForToken(root, storageKey);
else createRoot(root).render(createElement(ChatPage, { url: location.origin, token, chatId }));
