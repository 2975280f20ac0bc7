// Parley's HTTP API: JSON in and out, session cookie auth, CSRF token on unsafe methods.
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", t("The server could not be reached."));
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http",
      error?.detail ?? t("The server answered with an error (%s).", response.status),
    );
  }
  return data;
}

/** A page of a room's history, ascending: `after` a seq, `before` a seq, or the newest. */
export function fetchMessages(roomId, { after, before, changedAfter, limit } = {}) {
  const query = new URLSearchParams();
  if (after !== undefined) query.set("after", after);
  if (before !== undefined) query.set("before", before);
  if (changedAfter !== undefined) query.set("changed_after", changedAfter);
  if (limit !== undefined) query.set("limit", limit);
  const suffix = query.size ? `?${query}` : "";
  return request("GET", `/api/rooms/${roomId}/messages${suffix}`);
}

/** A thread: {root, replies (ascending), has_more}; `before` a reply's seq pages back. */
export function fetchThread(messageId, { before, after } = {}) {
  const query = new URLSearchParams();
  if (before !== undefined) query.set("before", before);
  if (after !== undefined) query.set("after", after);
  const suffix = query.size ? `?${query}` : "";
  return request("GET", `/api/messages/${messageId}/thread${suffix}`);
}

export const listRooms = () => request("GET", "/api/rooms/");
export const joinRoom = (name) => request("POST", "/api/rooms/", { name });
/** Creates a room: `kind` is "public" (or joins the public room of that name) or "private". */
export const createRoom = (name, kind) => request("POST", "/api/rooms/", { name, kind });
export const openDirect = (username) => request("POST", "/api/rooms/direct/", { username });

/** Messages matching `q`, newest first; page on with `before` (the last result's id). */
export function searchMessages(q, { room, before, limit } = {}) {
  const query = new URLSearchParams({ q });
  if (room !== undefined) query.set("room", room);
  if (before !== undefined) query.set("before", before);
  if (limit !== undefined) query.set("limit", limit);
  return request("GET", `/api/search?${query}`);
}

/** How much of a room notifies the user: default, all, mentions or nothing (every tab
 * hears a room frame). */
export const setRoomNotify = (roomId, notify) =>
  request("PATCH", `/api/rooms/${roomId}/membership`, { notify });

/**
 * Uploads one file into a room for a later send; resolves with the attachment.
 * XMLHttpRequest, not fetch, for upload progress: `onProgress(share)` with 0…1.
 */
export function uploadFile(roomId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/rooms/${roomId}/uploads`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      reject(
        new ApiError(
          xhr.status,
          data?.error?.code ?? "http",
          data?.error?.detail ?? t("The server answered with an error (%s).", xhr.status),
        ),
      );
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network", t("The server could not be reached."))),
    );
    const form = new FormData();
    form.append("file", file, file.name || "pasted");
    xhr.send(form);
  });
}

// Room management: the server decides who may do what; a refusal comes back as ApiError.

/** A room's members (the first 500), or with `match` those whose name fits it. */
export const listMembers = (roomId, match = "") =>
  request("GET", `/api/rooms/${roomId}/members/${match ? `?q=${encodeURIComponent(match)}` : ""}`);
export const updateRoom = (roomId, changes) => request("PATCH", `/api/rooms/${roomId}/`, changes);
export const inviteMember = (roomId, username) =>
  request("POST", `/api/rooms/${roomId}/members/`, { username });
export const setRole = (roomId, username, role) =>
  request("PATCH", `/api/rooms/${roomId}/members/${encodeURIComponent(username)}`, { role });
/** Removes someone; your own username leaves the room. */
export const removeMember = (roomId, username) =>
  request("DELETE", `/api/rooms/${roomId}/members/${encodeURIComponent(username)}`);

// Invite links: owners and admins only. A new link's `url` comes once, in its answer.

export const listInvites = (roomId) => request("GET", `/api/rooms/${roomId}/invites/`);
export const createInvite = (roomId, choices) =>
  request("POST", `/api/rooms/${roomId}/invites/`, choices);
export const revokeInvite = (roomId, inviteId) =>
  request("DELETE", `/api/rooms/${roomId}/invites/${inviteId}`);

// Webhooks: owners and admins only. A new webhook's `url` comes once, in its answer.

export const listWebhooks = (roomId) => request("GET", `/api/rooms/${roomId}/webhooks/`);
export const createWebhook = (roomId, fields) =>
  request("POST", `/api/rooms/${roomId}/webhooks/`, fields);
export const revokeWebhook = (roomId, webhookId) =>
  request("DELETE", `/api/rooms/${roomId}/webhooks/${webhookId}`);

// Blocking: `{"blocked": [username…]}` after each call.

/** A person's card: {user, bio, time_zone, me, blocked, can_message, dm_url}. */
export const fetchPerson = (username) =>
  request("GET", `/api/people/${encodeURIComponent(username)}`);
export const listBlocks = () => request("GET", "/api/blocks/");
export const blockUser = (username) => request("POST", "/api/blocks/", { username });
export const unblockUser = (username) =>
  request("DELETE", `/api/blocks/${encodeURIComponent(username)}`);
