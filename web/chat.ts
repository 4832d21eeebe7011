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
const token = pageToken();
if (!token) askForToken(root);
else createRoot(root).render(createElement(ChatPage, { url: location.origin, token, chatId }));
