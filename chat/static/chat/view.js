// All DOM work: the chat page (ChatView) and the home page's live badges (HomeView).
// User text (names, topics, bodies) enters the DOM only through textContent.
import { t } from "./i18n.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_TOP_PX = 240;
const NEAR_BOTTOM_PX = 48;
const TONES = 8;
const ANNOUNCE_CHARS = 200;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
});
const dayYearFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full" });
const LOCK_PATH =
  "M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9" +
  "a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z";

function el(tag, className = "", text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hiddenText(text) {
  return el("span", "visually-hidden", text);
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

function lockIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", LOCK_PATH);
  svg.append(path);
  return svg;
}

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

  /**
   * `me` is {id, username, display_name}; `on` holds the callbacks: openRoom(id),
   * send(text) → true when taken, retry(id), discard(id), join(), reconnectNow(), nearTop().
   */
  constructor(root, { me, on }) {
    const ids = [
      "chat-sidebar", "sidebar-toggle", "room-list", "rooms-empty", "room-title", "room-topic",
      "room-kind", "connection", "connection-text", "connection-live", "reconnect-now",
      "chat-notice", "chat-notice-text", "chat-notice-dismiss", "login-link", "conversation",
      "history-status", "messages", "jump-latest", "announcer", "composer", "composer-input",
      "join-bar", "join-room",
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
  }

  #fillRoomItem(li, room, openId) {
    // The link element is kept across updates so keyboard focus stays on it.
    const link = li.firstElementChild ?? li.appendChild(el("a", "room-link"));
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
    link.replaceChildren(icon, el("span", "room-name", room.name));
    if (room.kind === "direct") link.append(hiddenText(t("(direct message)")));
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
      (node, entry) => node.classList.toggle("msg-continued", Boolean(entry.continued)),
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
    main.append(meta, el("div", "msg-body", (entry.message ?? pending).body));
    if (pending) {
      li.classList.add("msg-pending", `msg-${pending.state}`);
      main.append(this.#pendingStatus(pending));
    }
    li.append(avatar(author.display_name, author.id, "msg-avatar"), side, main);
    return li;
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
    this.#root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#root.classList.contains("sidebar-open")) {
        this.#setSidebar(false);
        els["sidebar-toggle"].focus();
      }
    });
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
    els.messages.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      if (button.dataset.action === "retry") this.#on.retry(button.dataset.id);
      else this.#on.discard(button.dataset.id);
      this.focusComposer();
    });
    els.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#on.send(els["composer-input"].value)) this.clearComposer();
    });
    els["composer-input"].addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        els.composer.requestSubmit();
      }
    });
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
      const badge = item.querySelector(".badge");
      badge.hidden = room.unread === 0;
      badge.querySelector("[data-count]").textContent = String(room.unread);
      item.querySelector(".room-summary")?.classList.toggle("room-unread", room.unread > 0);
      if (room.last_message) this.#showPreview(item, room.last_message);
      this.#list.append(item);
    }
  }

  #showPreview(item, message) {
    const preview = item.querySelector(".room-preview");
    if (preview.dataset.seq === String(message.seq)) return;
    preview.dataset.seq = message.seq;
    preview.replaceChildren(
      el("span", "room-preview-author", `${message.author.display_name}:`),
      " ",
      message.body,
    );
  }

  setTitle(unread) {
    document.title = unread > 0 ? `(${unread}) Parley` : "Parley";
  }
}
