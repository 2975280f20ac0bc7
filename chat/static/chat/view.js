// All DOM work: the chat page (ChatView) and the home page's live badges (HomeView).
// User text (names, topics, bodies) enters the DOM only through textContent; message
// HTML only through richtext.js, which rebuilds it node by node from an allow-list.
import { LOCALE, t } from "./i18n.js";
import { renderMessageText } from "./richtext.js";
import { attachmentsKey, attachmentsNode, textOf } from "./uploads.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_TOP_PX = 240;
const NEAR_BOTTOM_PX = 48;
const TONES = 8;
const ANNOUNCE_CHARS = 200;
const FLASH_MS = 2000;
/** The reaction picker's choices. */
export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(LOCALE, {
  weekday: "long",
  month: "long",
  day: "numeric",
});
const dayYearFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full" });
const whenFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
const LOCK_PATH =
  "M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9" +
  "a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z";
const SMILE_PATH =
  "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM8.5 11" +
  "a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM12 17.5" +
  "c2.33 0 4.31-1.46 5.11-3.5H6.89c.8 2.04 2.78 3.5 5.11 3.5z";
const REPLY_PATH = "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z";
const EDIT_PATH =
  "M3 17.25V21h3.75L17.81 9.94l-3.75-3.75L3 17.25zM20.71 7.04a1 1 0 0 0 0-1.41l-2.34-2.34" +
  "a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75 1.83-1.83z";
const BELL_OFF_PATH =
  "M20 18.69 7.84 6.14 5.27 3.49 4 4.76l2.8 2.8v.01c-.52.99-.8 2.16-.8 3.42v5l-2 2v1h13.73l2 2" +
  "L21 19.72l-1-1.03zM12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-7.32V11c0-3.08-1.64-5.64-4.5-6.32" +
  "V4a1.5 1.5 0 0 0-3 0v.68c-.76.18-1.47.5-2.1.93L18 14.68z";
const REMOVE_PATH =
  "M15 12a4 4 0 1 0-4-4 4 4 0 0 0 4 4zm-6-2H1v2h8v-2zm6 4c-2.67 0-8 1.34-8 4v2h16v-2" +
  "c0-2.66-5.33-4-8-4z";
const DELETE_PATH = "M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z";
// Each action button and the permission letter that shows it (see #permissions).
const ACTIONS = [
  { action: "picker", need: "r", label: "Add reaction", path: SMILE_PATH },
  { action: "reply", need: "p", label: "Reply", path: REPLY_PATH },
  { action: "edit", need: "e", label: "Edit", path: EDIT_PATH },
  { action: "delete", need: "d", label: "Delete", path: DELETE_PATH },
];

function el(tag, className = "", text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hiddenText(text) {
  return el("span", "visually-hidden", text);
}

/** Text folded for matching: lower case, accents dropped ("É" finds "e"). */
function fold(text) {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

function initial(name) {
  return ([...name.trim()][0] ?? "?").toUpperCase();
}

/** A stable colour class per user, so a face is recognisable down the page. */
function toneClass(userId) {
  return `tone-${Math.abs(userId ?? 0) % TONES}`;
}

function avatar(name, userId, className) {
  const node = el("span", `${className} ${toneClass(userId)}`, initial(name));
  node.setAttribute("aria-hidden", "true");
  return node;
}

function svgIcon(d) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

const lockIcon = () => svgIcon(LOCK_PATH);

/** What a presence dot says: "Online", "Idle", or "Offline — last seen <time>". */
export function presenceLabel(presence) {
  if (presence.status === "online") return t("Online");
  if (presence.status === "idle") return t("Idle");
  if (!presence.last_seen) return t("Offline");
  return t("Offline — last seen %s", whenFormat.format(new Date(presence.last_seen)));
}

/** Shows someone's status on a dot (role img, labelled), or hides it when unknown. */
function fillPresence(node, presence) {
  node.hidden = !presence;
  if (!presence) {
    node.removeAttribute("aria-label");
    node.removeAttribute("title");
    delete node.dataset.status;
    return;
  }
  const label = presenceLabel(presence);
  node.dataset.status = presence.status;
  node.setAttribute("aria-label", label);
  node.title = label;
}

function button(className, text) {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

const reactedWith = (message, emoji, userId) =>
  (message.reactions ?? []).some((r) => r.emoji === emoji && r.users.includes(userId));

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return t("Today");
  if (dayKey(date) === dayKey(yesterday)) return t("Yesterday");
  return (date.getFullYear() === today.getFullYear() ? dayFormat : dayYearFormat).format(date);
}

function timeNode(date, className) {
  const node = el("time", className, timeFormat.format(date));
  node.dateTime = date.toISOString();
  node.title = fullFormat.format(date);
  return node;
}

/**
 * Reuses `parent`'s children by data-key, creates the missing ones, drops the rest,
 * and puts them in the order of `items`, so focus and scroll survive updates.
 */
function reconcile(parent, items, create, update) {
  const existing = new Map([...parent.children].map((node) => [node.dataset.key, node]));
  let cursor = parent.firstElementChild;
  for (const item of items) {
    let node = existing.get(item.key);
    if (node) {
      existing.delete(item.key);
      update(node, item);
    } else {
      node = create(item);
      node.dataset.key = item.key;
    }
    if (node === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(node, cursor);
  }
  for (const node of existing.values()) node.remove();
}

/** Messages then pending sends, with day separators and author runs marked `continued`. */
function timelineEntries(messages, pending, me) {
  const items = [
    ...messages.map((message) => ({
      key: `m:${message.seq}`,
      message,
      author: message.author,
      at: new Date(message.created_at),
    })),
    ...pending.map((send) => ({
      key: `p:${send.id}:${send.state}`,
      pending: send,
      author: me,
      at: new Date(send.createdAt),
    })),
  ];
  const entries = [];
  const days = new Set();
  let previous = null;
  for (const item of items) {
    const day = dayKey(item.at);
    if (!days.has(day)) {
      days.add(day);
      entries.push({ key: `d:${day}`, day: item.at });
    }
    item.continued =
      previous !== null &&
      dayKey(previous.at) === day &&
      item.author.id !== null &&
      previous.author.id === item.author.id &&
      item.at - previous.at < GROUP_WINDOW_MS;
    entries.push(item);
    previous = item;
  }
  return entries;
}

export class ChatView {
  #root;
  #els;
  #on;
  #me;
  #timelineRoom = null;
  #stuckToBottom = true;
  #countdown = 0;
  #announcedState = "connecting";
  // The open room and whether the user was removed from it: what actions to offer.
  #room = null;
  #removed = false;
  // Per message node: the message drawn there and the permissions it was drawn with.
  #drawn = new WeakMap();
  // The inline editor ({li, id, form, input}) and the reaction picker ({li, toggle, node}).
  #editing = null;
  #picker = null;
  // Someone's status by user id ({status, last_seen} or null), set by the app.
  #presenceOf = () => null;
  // Search result nodes → the message each shows.
  #results = new WeakMap();
  // What the sidebar's filter box holds, folded for matching.
  #filter = "";
  // Member list nodes → the member each shows ({user, role}).
  #members = new WeakMap();

  /**
   * `me` is {id, username, display_name}; `on` holds the callbacks: openRoom(id),
   * send(text) → true when taken, retry(id), discard(id), join(), reconnectNow(), nearTop(),
   * edit(message, body) → true when done, remove(message), react(message, emoji, on),
   * reply(message), cancelReply(), jumpTo(seq), editLast() → true when editing, typing(),
   * search(query, {here}), searchMore(), closeSearch(), openResult(message), toggleMute(),
   * enableNotifications(), toggleMembers(open), saveRoom({name, topic}), invite(username),
   * setRole(username, role), removeMember(member), leave(), block(username, on).
   */
  constructor(root, { me, on }) {
    const ids = [
      "chat-sidebar", "sidebar-toggle", "room-list", "rooms-empty", "room-title", "room-topic",
      "room-kind", "connection", "connection-text", "connection-live", "reconnect-now",
      "chat-notice", "chat-notice-text", "chat-notice-dismiss", "login-link", "conversation",
      "history-status", "messages", "jump-latest", "announcer", "composer", "composer-input",
      "join-bar", "join-room", "typing", "reply-bar", "reply-bar-text", "reply-cancel",
      "room-presence", "mute-toggle", "search-form", "search-input", "search-panel",
      "search-close", "search-status", "search-results", "search-more", "search-here",
      "notify-offer", "notify-enable", "room-filter", "rooms-unmatched", "members-toggle",
      "members-panel", "members-close", "members-error", "room-settings", "room-name-input",
      "room-topic-input", "invite-form", "invite-input", "members-status", "member-list",
      "leave-room", "composer-note", "members-heading",
    ];
    this.#els = Object.fromEntries(ids.map((id) => [id, document.getElementById(id)]));
    this.#root = root;
    this.#me = me;
    this.#on = on;
    this.#bind();
  }

  // Room header, composer and the sidebar.

  showRoom(room, { removed = false } = {}) {
    const els = this.#els;
    els["room-title"].textContent = room.name;
    els["room-topic"].textContent = room.topic;
    els["room-topic"].hidden = !room.topic;
    const kinds = {
      direct: t("Direct message"),
      private: t("Private room"),
      public: t("Public room"),
    };
    els["room-kind"].textContent = kinds[room.kind] ?? "";
    const member = room.role !== null && !removed;
    els.composer.hidden = !member;
    els["join-bar"].hidden = removed || member || room.kind !== "public";
    const target = room.kind === "direct" ? room.name : `#${room.name}`;
    els["composer-input"].placeholder = t("Message %s", target);
    const toggle = els["mute-toggle"];
    toggle.hidden = !member;
    toggle.setAttribute("aria-pressed", String(Boolean(room.muted)));
    toggle.title = room.muted
      ? t("Unmute notifications for this room")
      : t("Mute notifications for this room");
    els["room-presence"].dataset.peer = room.kind === "direct" ? (room.peer?.id ?? "") : "";
    els["members-toggle"].hidden = removed;
    const before = this.#permissionContext();
    this.#room = room;
    this.#removed = removed;
    if (before !== this.#permissionContext()) this.#redrawMessages();
    this.#fillHeaderPresence();
  }

  // Presence dots: in the sidebar next to direct rooms, and in a direct room's header.

  /** `lookup(userId)` → {status, last_seen} or null. */
  set presenceOf(lookup) {
    this.#presenceOf = lookup;
  }

  /** Someone's status changed (userId null: maybe anyone's): update the dots in place. */
  refreshPresence(userId = null) {
    const dots = [this.#els["room-list"], this.#els["member-list"]].flatMap((list) => [
      ...list.querySelectorAll(".presence[data-peer]"),
    ]);
    for (const dot of dots) {
      const peer = Number(dot.dataset.peer);
      if (userId === null || peer === userId) fillPresence(dot, this.#presenceOf(peer));
    }
    this.#fillHeaderPresence();
  }

  #fillHeaderPresence() {
    const dot = this.#els["room-presence"];
    const peer = dot.dataset.peer ? Number(dot.dataset.peer) : null;
    fillPresence(dot, peer === null ? null : this.#presenceOf(peer));
  }

  renderRooms(rooms, openId) {
    this.#els["rooms-empty"].hidden = rooms.length > 0;
    reconcile(
      this.#els["room-list"],
      rooms.map((room) => ({ key: String(room.id), room })),
      (item) => {
        const li = el("li");
        this.#fillRoomItem(li, item.room, openId);
        return li;
      },
      (li, item) => this.#fillRoomItem(li, item.room, openId),
    );
    this.#applyFilter();
  }

  /** Hides the rooms whose name (or DM peer's username) does not hold the filter text. */
  #applyFilter() {
    let shown = 0;
    const items = [...this.#els["room-list"].children];
    for (const li of items) {
      li.hidden = Boolean(this.#filter) && !li.dataset.name.includes(this.#filter);
      if (!li.hidden) shown += 1;
    }
    this.#els["rooms-unmatched"].hidden = items.length === 0 || shown > 0;
  }

  /** Alt+Up/Down: the room before or after the open one in the sidebar (Shift: unread only). */
  #stepRoom(step, unreadOnly) {
    const links = [...this.#els["room-list"].querySelectorAll("li:not([hidden]) > a[data-room]")];
    const current = links.findIndex((link) => link.getAttribute("aria-current") === "page");
    let index = current === -1 ? (step > 0 ? -1 : links.length) : current;
    for (index += step; index >= 0 && index < links.length; index += step) {
      if (!unreadOnly || links[index].classList.contains("room-unread")) break;
    }
    const link = links[index];
    if (!link) return false;
    this.#setSidebar(false);
    this.#on.openRoom(Number(link.dataset.room));
    return true;
  }

  #fillRoomItem(li, room, openId) {
    // The link element is kept across updates so keyboard focus stays on it.
    const link = li.firstElementChild ?? li.appendChild(el("a", "room-link"));
    li.dataset.name = fold(`${room.name} ${room.peer?.username ?? ""}`);
    link.href = `/rooms/${room.id}/`;
    link.dataset.room = room.id;
    link.classList.toggle("room-unread", room.unread > 0);
    if (room.id === openId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    const icon =
      room.kind === "direct"
        ? avatar(room.name, room.peer?.id, "room-icon room-avatar")
        : el("span", "room-icon");
    if (room.kind === "public") icon.textContent = "#";
    if (room.kind === "private") icon.append(lockIcon());
    icon.setAttribute("aria-hidden", "true");
    const face = el("span", "room-face");
    face.append(icon);
    link.replaceChildren(face, el("span", "room-name", room.name));
    if (room.kind === "direct") {
      link.append(hiddenText(t("(direct message)")));
      if (room.peer?.id != null) {
        const dot = el("span", "presence presence-room");
        dot.setAttribute("role", "img");
        dot.dataset.peer = room.peer.id;
        fillPresence(dot, this.#presenceOf(room.peer.id));
        face.append(dot);
      }
    }
    if (room.muted) {
      const muted = el("span", "room-muted");
      muted.setAttribute("role", "img");
      muted.setAttribute("aria-label", t("Muted"));
      muted.title = t("Muted");
      muted.append(svgIcon(BELL_OFF_PATH));
      link.append(muted);
    }
    if (room.unread_mentions > 0) {
      const badge = el("span", "badge badge-mention", `@${room.unread_mentions}`);
      badge.setAttribute("aria-hidden", "true");
      link.append(badge, hiddenText(t("%s unread mentions", room.unread_mentions)));
    }
    if (room.unread > 0) {
      const badge = el("span", "badge", String(room.unread));
      badge.setAttribute("aria-hidden", "true");
      link.append(badge, hiddenText(t("%s unread", room.unread)));
    }
  }

  #setSidebar(open) {
    this.#root.classList.toggle("sidebar-open", open);
    this.#els["sidebar-toggle"].setAttribute("aria-expanded", String(open));
  }

  // The conversation.

  /**
   * Draws a room's timeline. state: {messages, pending, loaded, hasOlder}.
   * Stays pinned to the bottom if it was there (or `toBottom`); otherwise the first
   * message keeps its place on screen, so older pages prepend without a jump.
   */
  renderTimeline(roomId, state, { toBottom = false, incoming = false } = {}) {
    const { messages: list, conversation: scroller, "jump-latest": jump } = this.#els;
    const switched = roomId !== this.#timelineRoom;
    if (switched) {
      this.#timelineRoom = roomId;
      this.#stuckToBottom = true;
      this.closePicker();
      this.#editing = null;
      list.replaceChildren();
      jump.hidden = true;
    }
    const anchor = list.querySelector(".msg");
    const anchorTop = anchor?.offsetTop ?? 0;
    const failures = [];
    reconcile(
      list,
      timelineEntries(state.messages, state.pending, this.#me),
      (entry) => {
        if (entry.pending?.state === "failed") failures.push(entry.pending);
        return entry.day ? this.#dayNode(entry) : this.#messageNode(entry);
      },
      (node, entry) => {
        node.classList.toggle("msg-continued", Boolean(entry.continued));
        if (entry.message) this.#drawMessage(node, entry.message);
      },
    );
    this.#renderHistoryStatus(state);
    if (this.#stuckToBottom || toBottom) {
      this.scrollToBottom();
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.offsetTop - anchorTop;
    }
    if (incoming && !this.#stuckToBottom) jump.hidden = false;
    if (!switched) for (const failed of failures) this.announce(t("Not sent: %s", failed.detail));
  }

  scrollToBottom() {
    const scroller = this.#els.conversation;
    scroller.scrollTop = scroller.scrollHeight;
    this.#stuckToBottom = true;
    this.#els["jump-latest"].hidden = true;
  }

  /** True when the top of the history is (nearly) on screen, so an older page should load. */
  nearTop() {
    return this.#els.conversation.scrollTop < NEAR_TOP_PX;
  }

  #renderHistoryStatus({ loaded, hasOlder, messages }) {
    let text = t("This is the start of the conversation.");
    if (!loaded) text = t("Loading messages…");
    else if (hasOlder) text = t("Loading earlier messages…");
    else if (!messages.length) text = t("No messages yet. Say hello!");
    this.#els["history-status"].textContent = text;
  }

  #dayNode(entry) {
    const li = el("li", "day");
    li.append(el("h2", "day-label", dayLabel(entry.day)));
    return li;
  }

  #messageNode(entry) {
    const { author, pending } = entry;
    const li = el("li", "msg");
    li.classList.toggle("msg-continued", entry.continued);
    li.classList.toggle("msg-mine", author.id === this.#me.id);
    const side = timeNode(entry.at, "msg-side-time");
    side.setAttribute("aria-hidden", "true");
    const meta = el("div", "msg-meta");
    meta.append(el("span", "msg-author", author.display_name), " ", timeNode(entry.at, "msg-time"));
    const main = el("div", "msg-main");
    main.append(meta);
    li.append(avatar(author.display_name, author.id, "msg-avatar"), side, main);
    if (pending) {
      li.classList.add("msg-pending", `msg-${pending.state}`);
      if (pending.reply_to) main.append(this.#quoteNode(pending.reply_to, { link: false }));
      main.append(el("div", "msg-body msg-plain", pending.body));
      if (pending.attachments?.length) main.append(attachmentsNode(pending.attachments));
      main.append(this.#pendingStatus(pending));
      return li;
    }
    const reactions = el("ul", "msg-reactions");
    reactions.setAttribute("aria-label", t("Reactions"));
    main.append(el("div", "msg-text"), reactions);
    li.append(this.#actionsNode());
    this.#drawMessage(li, entry.message);
    return li;
  }

  /**
   * What the user may do to a message, as letters: r react, p reply, e edit, d delete.
   * The server decides; this only leaves out buttons that could not work.
   */
  #permissions(message) {
    const room = this.#room;
    if (!room?.role || this.#removed || message.deleted) return "";
    const mine = message.author.id === this.#me.id;
    const moderator = room.kind !== "direct" && ["owner", "admin"].includes(room.role);
    return `rp${mine ? "e" : ""}${mine || moderator ? "d" : ""}`;
  }

  #permissionContext() {
    const room = this.#room;
    return room ? `${room.id}:${room.kind}:${room.role}:${this.#removed}` : "";
  }

  #redrawMessages() {
    for (const li of this.#els.messages.children) {
      const drawn = this.#drawn.get(li);
      if (drawn) this.#drawMessage(li, drawn.message);
    }
  }

  /**
   * Brings a message node up to date in place, part by part, so that focus and an open
   * editor or picker survive an edit, a reaction or a change of role elsewhere.
   */
  #drawMessage(li, message) {
    const permissions = this.#permissions(message);
    const drawn = this.#drawn.get(li);
    if (drawn?.message === message && drawn.permissions === permissions) return;
    this.#drawn.set(li, { message, permissions });
    const before = drawn?.message;
    li.classList.toggle("msg-deleted", Boolean(message.deleted));
    li.classList.toggle(
      "msg-mentions-me",
      !message.deleted && (message.mentions ?? []).includes(this.#me.id),
    );
    const main = li.querySelector(".msg-main");
    if (!before || before.reply_to !== message.reply_to) {
      main.querySelector(":scope > .msg-quote")?.remove();
      if (message.reply_to) main.querySelector(".msg-meta").after(this.#quoteNode(message.reply_to));
    }
    const textChanged =
      !before ||
      ["html", "body", "deleted", "edited_at"].some((field) => before[field] !== message[field]);
    if (textChanged) this.#fillText(main.querySelector(".msg-text"), message);
    if (!before || attachmentsKey(before.attachments) !== attachmentsKey(message.attachments)) {
      main.querySelector(":scope > .msg-attachments")?.remove();
      if (message.attachments?.length) {
        main.querySelector(".msg-text").after(attachmentsNode(message.attachments));
      }
    }
    this.#fillReactions(li, message, permissions.includes("r"));
    const bar = li.querySelector(".msg-actions");
    for (const { action, need } of ACTIONS) {
      bar.querySelector(`[data-action="${action}"]`).hidden = !permissions.includes(need);
    }
    bar.hidden = permissions === "";
    if (!permissions.includes("r") && this.#picker?.li === li) this.closePicker();
    if (!permissions.includes("e") && this.#editing?.li === li) this.#endEdit();
  }

  #fillText(container, message) {
    const body = el("div", "msg-body");
    if (message.deleted) {
      body.classList.add("msg-tombstone");
      body.textContent = t("This message was deleted");
      container.replaceChildren(body);
      return;
    }
    // No html (an older message): the body as plain text, newlines kept.
    body.classList.toggle("msg-plain", !message.html);
    body.append(renderMessageText(message.html, message.body, { me: this.#me.username }));
    container.replaceChildren(body);
    if (message.edited_at) {
      const edited = el("span", "msg-edited", t("(edited)"));
      edited.title = t("Edited %s", fullFormat.format(new Date(message.edited_at)));
      container.append(" ", edited);
    }
  }

  /** A reply's quote of its parent; `link`: a button that shows the parent. */
  #quoteNode(quote, { link = true } = {}) {
    const node = link ? button("msg-quote") : el("div", "msg-quote");
    if (link) {
      node.dataset.action = "quote";
      node.dataset.seq = quote.seq;
      node.title = t("Show the original message");
    }
    node.append(hiddenText(`${t("In reply to")} `));
    if (quote.deleted) {
      node.append(el("span", "msg-quote-excerpt msg-quote-deleted", t("deleted message")));
    } else {
      node.append(
        el("span", "msg-quote-author", quote.author.display_name),
        " ",
        el("span", "msg-quote-excerpt", quote.excerpt),
      );
    }
    return node;
  }

  #fillReactions(li, message, canReact) {
    const list = li.querySelector(".msg-reactions");
    const reactions = message.deleted ? [] : (message.reactions ?? []);
    const hadFocus = list.contains(document.activeElement);
    list.hidden = reactions.length === 0;
    reconcile(
      list,
      reactions.map((reaction) => ({ key: reaction.emoji, reaction })),
      (item) => {
        const chip = button("reaction");
        chip.dataset.action = "react";
        chip.dataset.emoji = item.reaction.emoji;
        const node = el("li");
        node.append(chip);
        this.#fillChip(chip, item.reaction, canReact);
        return node;
      },
      (node, item) => this.#fillChip(node.firstElementChild, item.reaction, canReact),
    );
    // The chip that had focus went with its last reaction: keep focus in the message.
    if (hadFocus && !list.contains(document.activeElement)) {
      li.querySelector('[data-action="picker"]:not([hidden])')?.focus();
    }
  }

  #fillChip(chip, reaction, canReact) {
    const mine = reaction.users.includes(this.#me.id);
    chip.disabled = !canReact;
    chip.setAttribute("aria-pressed", String(mine));
    chip.setAttribute("aria-label", t("%s, reacted by %s", reaction.emoji, reaction.users.length));
    const emoji = el("span", "reaction-emoji", reaction.emoji);
    const count = el("span", "reaction-count", String(reaction.users.length));
    chip.replaceChildren(emoji, count);
  }

  #actionsNode() {
    const bar = el("div", "msg-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", t("Message actions"));
    for (const { action, label, path } of ACTIONS) {
      const node = button("msg-action");
      node.dataset.action = action;
      node.setAttribute("aria-label", t(label));
      node.title = t(label);
      node.append(svgIcon(path));
      if (action === "picker") {
        node.setAttribute("aria-haspopup", "true");
        node.setAttribute("aria-expanded", "false");
      }
      bar.append(node);
    }
    return bar;
  }

  // The reaction picker: one open at a time, inside its message.

  #togglePicker(li, toggle) {
    if (this.#picker?.li === li) {
      this.closePicker({ refocus: true });
      return;
    }
    this.closePicker();
    const message = this.#drawn.get(li)?.message;
    if (!message) return;
    const picker = el("div", "reaction-picker");
    picker.setAttribute("role", "group");
    picker.setAttribute("aria-label", t("Pick a reaction"));
    for (const emoji of QUICK_EMOJI) {
      const option = button("reaction-option", emoji);
      option.dataset.action = "pick";
      option.dataset.emoji = emoji;
      option.setAttribute("aria-label", t("React with %s", emoji));
      option.setAttribute("aria-pressed", String(reactedWith(message, emoji, this.#me.id)));
      picker.append(option);
    }
    picker.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.closePicker({ refocus: true });
    });
    picker.addEventListener("focusout", (event) => {
      const next = event.relatedTarget;
      if (next && !picker.contains(next) && next !== toggle) this.closePicker();
    });
    li.append(picker);
    li.classList.add("msg-picking");
    toggle.setAttribute("aria-expanded", "true");
    this.#picker = { li, toggle, node: picker };
    picker.scrollIntoView({ block: "nearest" });
    picker.firstElementChild.focus();
  }

  closePicker({ refocus = false } = {}) {
    const picker = this.#picker;
    if (!picker) return;
    this.#picker = null;
    picker.node.remove();
    picker.li.classList.remove("msg-picking");
    picker.toggle.setAttribute("aria-expanded", "false");
    if (refocus && picker.toggle.isConnected) picker.toggle.focus();
  }

  // The inline editor.

  /** Opens the editor on a message shown in the timeline; false when it is not there. */
  startEdit(seq) {
    const li = this.#els.messages.querySelector(`li[data-key="m:${seq}"]`);
    const drawn = li && this.#drawn.get(li);
    if (!drawn?.permissions.includes("e")) return false;
    this.#endEdit();
    this.closePicker();
    const form = el("form", "msg-editor");
    const input = el("textarea", "msg-editor-input");
    input.value = drawn.message.body;
    input.rows = 1;
    input.setAttribute("aria-label", t("Edit message"));
    const hintId = `edit-hint-${seq}`;
    input.setAttribute("aria-describedby", hintId);
    const hint = el("p", "msg-editor-hint", t("Enter to save, Esc to cancel"));
    hint.id = hintId;
    const save = el("button", "button button-small", t("Save"));
    save.type = "submit";
    const cancel = button("button button-secondary button-small", t("Cancel"));
    cancel.dataset.action = "edit-cancel";
    const buttons = el("div", "msg-editor-buttons");
    buttons.append(save, cancel, hint);
    form.append(input, buttons);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#saveEdit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#saveEdit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.#endEdit({ refocus: true });
      }
    });
    li.querySelector(".msg-text").after(form);
    li.classList.add("msg-editing");
    this.#editing = { li, form, input };
    li.scrollIntoView({ block: "nearest" });
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    return true;
  }

  #saveEdit() {
    const editing = this.#editing;
    const message = editing && this.#drawn.get(editing.li)?.message;
    if (message && this.#on.edit(message, editing.input.value)) this.#endEdit({ refocus: true });
  }

  #endEdit({ refocus = false } = {}) {
    const editing = this.#editing;
    if (!editing) return;
    this.#editing = null;
    editing.form.remove();
    editing.li.classList.remove("msg-editing");
    if (refocus) this.focusComposer();
  }

  /** Scrolls to a message and flashes it; false when it is not in the timeline. */
  highlight(seq) {
    const li = this.#els.messages.querySelector(`li[data-key="m:${seq}"]`);
    if (!li) return false;
    li.tabIndex = -1;
    li.scrollIntoView({ block: "center" });
    // Decided now, not on the scroll event: a render before it must not jump to the bottom.
    const scroller = this.#els.conversation;
    const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    this.#stuckToBottom = gap < NEAR_BOTTOM_PX;
    li.focus({ preventScroll: true });
    li.classList.remove("msg-flash");
    void li.offsetWidth; // restart the animation when the same message is shown again
    li.classList.add("msg-flash");
    setTimeout(() => li.classList.remove("msg-flash"), FLASH_MS);
    return true;
  }

  // Search: the form in the sidebar, the results in a panel over the conversation.

  get searchOpen() {
    return !this.#els["search-panel"].hidden;
  }

  /** Opens the panel with a status line ("Searching…"), dropping the previous results. */
  startSearch(status) {
    const { "search-panel": panel, "search-results": list, "search-more": more } = this.#els;
    list.replaceChildren();
    more.hidden = true;
    this.#els["search-status"].textContent = status;
    panel.hidden = false;
    if (this.#root.classList.contains("sidebar-open")) {
      // The drawer closes over the search box: keep focus where the results are.
      this.#setSidebar(false);
      this.#els["search-close"].focus();
    }
  }

  /**
   * Adds a page of results: items are {message, roomName, direct}. `hasMore` shows the
   * "More results" button; after it was used, focus goes to the first new result.
   */
  addSearchResults(items, { hasMore, status, focusFirst = false }) {
    const { "search-results": list, "search-more": more } = this.#els;
    const nodes = items.map((item) => this.#searchResultNode(item));
    list.append(...nodes);
    more.hidden = !hasMore;
    more.disabled = false;
    this.#els["search-status"].textContent = status;
    if (focusFirst && nodes.length) nodes[0].querySelector(".search-result-open").focus();
  }

  searchProblem(status) {
    const more = this.#els["search-more"];
    this.#els["search-status"].textContent = status;
    more.disabled = false;
    // Disabling the button while it loaded took focus away from it: give it back.
    if (!more.hidden && document.activeElement === document.body) more.focus();
  }

  closeSearch({ refocus = false } = {}) {
    const panel = this.#els["search-panel"];
    if (panel.hidden) return;
    panel.hidden = true;
    this.#els["search-results"].replaceChildren();
    if (refocus) this.#els["search-input"].focus();
  }

  #searchResultNode({ message, roomName, direct }) {
    const li = el("li", "search-result");
    const open = button("search-result-open");
    const when = new Date(message.created_at);
    const time = el("time", "search-result-time", whenFormat.format(when));
    time.dateTime = when.toISOString();
    open.append(
      avatar(message.author.display_name, message.author.id, "search-result-avatar"),
      el("span", "search-result-author", message.author.display_name),
      el("span", "search-result-room", direct ? roomName : `#${roomName}`),
      time,
    );
    open.title = t("Show this message in its room");
    const text = el("div", "search-result-text");
    const body = el("div", "msg-body");
    body.classList.toggle("msg-plain", !message.html);
    body.append(renderMessageText(message.html, message.body, { me: this.#me.username }));
    text.append(body);
    li.append(open, text);
    this.#results.set(li, message);
    return li;
  }

  // The members panel: who is in the open room. It offers the controls the user's role
  // suggests; the server decides, and the app shows its refusal (membersError).

  get membersOpen() {
    return !this.#els["members-panel"].hidden;
  }

  /** Opens or closes the panel; focus goes into it, or back to its toggle. */
  setMembersOpen(open, { refocus = true } = {}) {
    const { "members-panel": panel, "members-toggle": toggle } = this.#els;
    if (panel.hidden === !open) return;
    panel.hidden = !open;
    this.#root.classList.toggle("members-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (!open) this.membersError(null);
    if (!refocus) return;
    if (open) this.#els["members-close"].focus();
    else if (!toggle.hidden) toggle.focus();
  }

  /**
   * Draws the panel. state: {room, members: [{user, role}], hasMore, loading,
   * blocked: Set of usernames the user blocks, or null while unknown}.
   */
  renderMembers({ room, members, hasMore, loading, blocked }) {
    const els = this.#els;
    const group = room.kind !== "direct";
    const member = room.role !== null && !this.#removed;
    const manager = group && member && ["owner", "admin"].includes(room.role);
    const owner = manager && room.role === "owner";
    els["members-heading"].textContent = group ? t("Members") : t("People");
    els["room-settings"].hidden = !manager;
    if (manager && !els["room-settings"].contains(document.activeElement)) {
      els["room-name-input"].value = room.name;
      els["room-topic-input"].value = room.topic ?? "";
    }
    els["invite-form"].hidden = !manager;
    els["leave-room"].hidden = !(group && member);
    let status = t("%s members", members.length);
    if (loading) status = t("Loading members…");
    else if (members.length === 1) status = t("1 member");
    else if (hasMore) status = t("The first %s members", members.length);
    els["members-status"].textContent = status;
    const can = { owner, manager, direct: !group && member, blocked };
    reconcile(
      els["member-list"],
      members.map((entry) => ({ key: entry.user.username, entry })),
      (item) => {
        const li = el("li", "member");
        this.#fillMember(li, item.entry, can);
        return li;
      },
      (li, item) => this.#fillMember(li, item.entry, can),
    );
  }

  #fillMember(li, { user, role }, can) {
    const me = user.id === this.#me.id;
    const blocked = Boolean(can.blocked?.has(user.username));
    const signature = JSON.stringify([user, role, me, can.owner, can.manager, can.direct, blocked]);
    if (li.dataset.signature === signature) return;
    li.dataset.signature = signature;
    const face = el("span", "room-face");
    face.append(avatar(user.display_name, user.id, "member-avatar"));
    const dot = el("span", "presence presence-room");
    dot.setAttribute("role", "img");
    dot.dataset.peer = user.id;
    fillPresence(dot, me ? null : this.#presenceOf(user.id));
    face.append(dot);
    const who = el("span", "member-who");
    who.append(
      el("span", "member-name", user.display_name),
      el("span", "member-username", `@${user.username}`),
    );
    if (me) who.append(hiddenText(t("(you)")));
    const roles = { owner: t("Owner"), admin: t("Admin"), member: t("Member") };
    const controls = el("span", "member-controls");
    if (can.owner && !me) {
      const select = el("select", "member-role");
      select.setAttribute("aria-label", t("Role of %s", user.display_name));
      for (const [value, label] of Object.entries(roles)) {
        const option = el("option", "", label);
        option.value = value;
        option.selected = value === role;
        select.append(option);
      }
      select.dataset.action = "role";
      controls.append(select);
    } else if (role !== "member" || !can.direct) {
      controls.append(el("span", "tag member-role-label", roles[role] ?? role));
    }
    if (can.manager && !me) {
      const remove = button("icon-button member-remove");
      remove.dataset.action = "remove";
      remove.append(svgIcon(REMOVE_PATH), hiddenText(t("Remove %s from the room", user.display_name)));
      remove.title = t("Remove %s from the room", user.display_name);
      controls.append(remove);
    }
    if (can.direct && !me) {
      const block = button("button button-secondary button-small member-block");
      block.dataset.action = blocked ? "unblock" : "block";
      block.textContent = blocked ? t("Unblock") : t("Block");
      const name = user.display_name;
      block.setAttribute("aria-label", blocked ? t("Unblock %s", name) : t("Block %s", name));
      controls.append(block);
    }
    li.replaceChildren(face, who, controls);
    this.#members.set(li, { user, role });
  }

  /** Shows what the server said when a change was refused (or clears it: null). */
  membersError(text) {
    const node = this.#els["members-error"];
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  clearInvite() {
    this.#els["invite-input"].value = "";
  }

  /** Why the composer cannot (or may not) reach the other person, or nothing (null). */
  showComposerNote(text) {
    const note = this.#els["composer-note"];
    note.textContent = text ?? "";
    note.hidden = !text;
  }

  // Notifications: the opt-in button, shown only while the browser has not asked yet.

  showNotificationOffer(show) {
    this.#els["notify-offer"].hidden = !show;
  }

  // The reply bar and the typing line.

  /** Shows what the next message answers (a quote {author, excerpt}), or nothing. */
  setReply(quote) {
    const { "reply-bar": bar, "reply-bar-text": text } = this.#els;
    bar.hidden = !quote;
    if (!quote) {
      text.replaceChildren();
      return;
    }
    text.replaceChildren(
      el("span", "reply-bar-label", t("Replying to %s:", quote.author.display_name)),
      " ",
      el("span", "reply-bar-excerpt", quote.excerpt),
    );
  }

  /** The display names of the people typing in the open room. */
  showTyping(names) {
    let text = "";
    if (names.length === 1) text = t("%s is typing…", names[0]);
    else if (names.length === 2) text = t("%s and %s are typing…", names[0], names[1]);
    else if (names.length > 2) text = t("Several people are typing…");
    this.#els.typing.textContent = text;
  }

  #pendingStatus(pending) {
    const status = el("p", "msg-status");
    if (pending.state === "sending") {
      status.textContent = t("Sending…");
      return status;
    }
    const retry = el("button", "button-link", t("Retry"));
    const discard = el("button", "button-link", t("Discard"));
    for (const [button, action] of [[retry, "retry"], [discard, "discard"]]) {
      button.type = "button";
      button.dataset.action = action;
      button.dataset.id = pending.id;
    }
    const error = el("span", "msg-error", t("Not sent: %s", pending.detail));
    status.append(error, " ", retry, " ", discard);
    return status;
  }

  // Composer, notices, connection state.

  clearComposer() {
    this.#els["composer-input"].value = "";
  }

  focusComposer() {
    const input = this.#els["composer-input"];
    if (!this.#els.composer.hidden) input.focus({ preventScroll: true });
  }

  showNotice(text, { login = false } = {}) {
    this.#els["chat-notice-text"].textContent = text;
    this.#els["login-link"].hidden = !login;
    this.#els["chat-notice"].hidden = false;
  }

  hideNotice() {
    this.#els["chat-notice"].hidden = true;
  }

  /** Reads a line to screen readers through the polite live region. */
  announce(text) {
    this.#els.announcer.textContent =
      text.length > ANNOUNCE_CHARS ? `${text.slice(0, ANNOUNCE_CHARS)}…` : text;
  }

  setConnection(state) {
    const { connection, "connection-text": text, "reconnect-now": button } = this.#els;
    clearInterval(this.#countdown);
    connection.dataset.state = state.name;
    button.hidden = !["waiting", "offline"].includes(state.name);
    const secondsLeft = () => Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
    const labels = {
      connecting: () => t("Connecting…"),
      connected: () => t("Connected"),
      waiting: () => t("Reconnecting in %s s…", secondsLeft()),
      offline: () => t("Offline"),
      stopped: () => t("Signed out"),
    };
    const show = () => {
      text.textContent = labels[state.name]();
    };
    show();
    if (state.name === "waiting") this.#countdown = setInterval(show, 250);
    this.#announceState(state.name);
  }

  /** The visible countdown changes every second; screen readers hear only real changes. */
  #announceState(name) {
    const spoken = {
      connected: t("Connected"),
      waiting: t("Connection lost. Reconnecting…"),
      offline: t("Offline"),
      stopped: t("Signed out"),
    };
    if (name === this.#announcedState || !(name in spoken)) return;
    const first = this.#announcedState === "connecting" && name === "connected";
    this.#announcedState = name;
    if (!first) this.#els["connection-live"].textContent = spoken[name];
  }

  setTitle(unread, roomName) {
    const prefix = unread > 0 ? `(${unread}) ` : "";
    document.title = roomName ? `${prefix}${roomName} · Parley` : `${prefix}Parley`;
  }

  #bind() {
    const els = this.#els;
    els["room-list"].addEventListener("click", (event) => {
      const link = event.target.closest("a[data-room]");
      const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
      // Let the browser open new tabs and windows itself.
      if (!link || event.button !== 0 || modified) return;
      event.preventDefault();
      this.#setSidebar(false);
      this.#on.openRoom(Number(link.dataset.room));
    });
    els["sidebar-toggle"].addEventListener("click", () => {
      this.#setSidebar(!this.#root.classList.contains("sidebar-open"));
    });
    // On narrow screens the open drawer dims the conversation; a tap there closes it.
    this.#root.addEventListener("click", (event) => {
      const open = this.#root.classList.contains("sidebar-open");
      const inside = [els["chat-sidebar"], els["sidebar-toggle"]].some((node) =>
        node.contains(event.target),
      );
      if (open && !inside) this.#setSidebar(false);
    });
    // Esc closes the panel on top: members, then search results, then the drawer.
    // (The picker, the inline editor and the reply bar take their own Esc first.)
    this.#root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      if (this.membersOpen) {
        event.preventDefault();
        this.#on.toggleMembers(false);
      } else if (this.searchOpen) {
        event.preventDefault();
        this.#on.closeSearch();
        els["search-input"].focus();
      } else if (this.#root.classList.contains("sidebar-open")) {
        event.preventDefault();
        this.#setSidebar(false);
        els["sidebar-toggle"].focus();
      }
    });
    document.addEventListener("keydown", (event) => {
      const arrow = event.key === "ArrowUp" || event.key === "ArrowDown";
      if (!arrow || !event.altKey || event.ctrlKey || event.metaKey) return;
      if (this.#stepRoom(event.key === "ArrowDown" ? 1 : -1, event.shiftKey)) {
        event.preventDefault();
      }
    });
    els["room-filter"].addEventListener("input", () => {
      this.#filter = fold(els["room-filter"].value.trim());
      this.#applyFilter();
    });
    els["room-filter"].addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !els["room-filter"].value) return;
      event.preventDefault();
      event.stopPropagation();
      els["room-filter"].value = "";
      this.#filter = "";
      this.#applyFilter();
    });
    els["members-toggle"].addEventListener("click", () => {
      this.#on.toggleMembers(!this.membersOpen);
    });
    els["members-close"].addEventListener("click", () => this.#on.toggleMembers(false));
    els["room-settings"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.#on.saveRoom({
        name: els["room-name-input"].value,
        topic: els["room-topic-input"].value,
      });
    });
    els["invite-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      const username = els["invite-input"].value.trim();
      if (username) this.#on.invite(username);
    });
    els["member-list"].addEventListener("click", (event) => {
      const target = event.target.closest("button[data-action]");
      const member = target && this.#members.get(target.closest("li"));
      if (!member) return;
      const { action } = target.dataset;
      if (action === "remove") this.#on.removeMember(member);
      else if (action === "block" || action === "unblock") {
        this.#on.block(member.user.username, action === "block");
      }
    });
    els["member-list"].addEventListener("change", (event) => {
      const select = event.target.closest("select[data-action=role]");
      const member = select && this.#members.get(select.closest("li"));
      if (!member) return;
      // Redrawn after the answer: a refusal puts the select back to the role held.
      delete select.closest("li").dataset.signature;
      this.#on.setRole(member.user.username, select.value);
    });
    els["leave-room"].addEventListener("click", () => this.#on.leave());
    els["reconnect-now"].addEventListener("click", () => this.#on.reconnectNow());
    els["chat-notice-dismiss"].addEventListener("click", () => this.hideNotice());
    els["jump-latest"].addEventListener("click", () => this.scrollToBottom());
    els["join-room"].addEventListener("click", () => this.#on.join());
    els.conversation.addEventListener("scroll", () => {
      const scroller = els.conversation;
      const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
      this.#stuckToBottom = gap < NEAR_BOTTOM_PX;
      if (this.#stuckToBottom) els["jump-latest"].hidden = true;
      if (this.nearTop()) this.#on.nearTop();
    });
    // The viewport shrinks when the composer grows or a phone keyboard opens.
    new ResizeObserver(() => {
      if (this.#stuckToBottom) this.scrollToBottom();
    }).observe(els.conversation);
    els.messages.addEventListener("click", (event) => this.#messageAction(event));
    // A click anywhere outside the open picker closes it.
    document.addEventListener("click", (event) => {
      const picker = this.#picker;
      if (picker && !picker.node.contains(event.target) && !picker.toggle.contains(event.target)) {
        this.closePicker();
      }
    });
    els["search-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      const query = els["search-input"].value.trim();
      if (query) this.#on.search(query, { here: els["search-here"].checked });
    });
    els["search-input"].addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.searchOpen) {
        event.preventDefault();
        event.stopPropagation();
        this.#on.closeSearch();
      }
    });
    els["search-panel"].addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.#on.closeSearch();
      els["search-input"].focus();
    });
    els["search-close"].addEventListener("click", () => {
      this.#on.closeSearch();
      els["search-input"].focus();
    });
    els["search-more"].addEventListener("click", () => {
      els["search-more"].disabled = true;
      this.#on.searchMore();
    });
    els["search-results"].addEventListener("click", (event) => {
      // A link in a message's text opens the link, not the message.
      if (event.target.closest("a")) return;
      const li = event.target.closest("li.search-result");
      const message = li && this.#results.get(li);
      if (message) this.#on.openResult(message);
    });
    els["mute-toggle"].addEventListener("click", () => this.#on.toggleMute());
    els["notify-enable"].addEventListener("click", () => this.#on.enableNotifications());
    els["reply-cancel"].addEventListener("click", () => {
      this.#on.cancelReply();
      this.focusComposer();
    });
    els.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#on.send(els["composer-input"].value)) this.clearComposer();
    });
    els["composer-input"].addEventListener("keydown", (event) => {
      const modified = event.shiftKey || event.altKey || event.ctrlKey || event.metaKey;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        els.composer.requestSubmit();
      } else if (event.key === "ArrowUp" && !modified && els["composer-input"].value === "") {
        // Up in an empty composer edits your last message, as in most chat apps.
        if (this.#on.editLast()) event.preventDefault();
      } else if (event.key === "Escape" && !els["reply-bar"].hidden) {
        event.preventDefault();
        event.stopPropagation();
        this.#on.cancelReply();
      }
    });
    els["composer-input"].addEventListener("input", () => {
      if (els["composer-input"].value.trim()) this.#on.typing();
    });
  }

  #messageAction(event) {
    const target = event.target.closest("button[data-action]");
    if (!target) return;
    const li = target.closest("li.msg");
    const message = li && this.#drawn.get(li)?.message;
    const { action, emoji } = target.dataset;
    const pressed = target.getAttribute("aria-pressed") === "true";
    if (action === "retry" || action === "discard") {
      this.#on[action](target.dataset.id);
      this.focusComposer();
      return;
    }
    if (!message) return;
    switch (action) {
      case "picker":
        this.#togglePicker(li, target);
        break;
      case "pick":
        this.#on.react(message, emoji, !pressed);
        this.closePicker({ refocus: true });
        break;
      case "react":
        this.#on.react(message, emoji, !pressed);
        break;
      case "reply":
        this.#on.reply(message);
        break;
      case "edit":
        this.startEdit(message.seq);
        break;
      case "edit-cancel":
        this.#endEdit({ refocus: true });
        break;
      case "delete":
        this.#on.remove(message);
        break;
      case "quote":
        this.#on.jumpTo(Number(target.dataset.seq));
        break;
    }
  }
}

/** The home page: server-rendered; this only keeps unread badges and previews current. */
export class HomeView {
  #list;

  constructor(list) {
    this.#list = list;
  }

  update(rooms) {
    for (const room of rooms) {
      const item = this.#list.querySelector(`[data-room-id="${Number(room.id)}"]`);
      if (!item) continue;
      const badge = item.querySelector(".badge-unread");
      badge.hidden = room.unread === 0;
      badge.querySelector("[data-count]").textContent = String(room.unread);
      const mentions = item.querySelector(".badge-mention");
      if (mentions) {
        mentions.hidden = !(room.unread_mentions > 0);
        mentions.querySelector("[data-count]").textContent = String(room.unread_mentions ?? 0);
      }
      item.querySelector(".room-summary")?.classList.toggle("room-unread", room.unread > 0);
      const muted = item.querySelector(".room-muted");
      if (muted) muted.hidden = !room.muted;
      if (room.last_message) this.#showPreview(item, room.last_message);
      this.#list.append(item);
    }
  }

  #showPreview(item, message) {
    const preview = item.querySelector(".room-preview");
    // An edit or a deletion changes a preview without changing its seq.
    const version = message.deleted ? "deleted" : (message.edited_at ?? "");
    if (preview.dataset.seq === String(message.seq) && preview.dataset.version === version) return;
    preview.dataset.seq = message.seq;
    preview.dataset.version = version;
    preview.replaceChildren(
      el("span", "room-preview-author", `${message.author.display_name}:`),
      " ",
      message.deleted ? el("em", "", t("This message was deleted")) : textOf(message),
    );
  }

  /** Presence dots of direct rooms; `lookup(userId)` → {status, last_seen} or null. */
  refreshPresence(lookup) {
    for (const dot of this.#list.querySelectorAll(".presence[data-peer]")) {
      fillPresence(dot, lookup(Number(dot.dataset.peer)));
    }
  }

  setTitle(unread) {
    document.title = unread > 0 ? `(${unread}) Parley` : "Parley";
  }
}
