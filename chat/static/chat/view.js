// The chat page's view (ChatView): the room header, the connection state, notices and
// the live region, and one component per panel, which it makes and wires together:
// sidebar.js, timeline.js, composer.js, members.js, thread.js, search.js, notifymenu.js,
// profilecard.js, pins.js (the upload tray is
// uploads.js's, made by the app). The home page's live badges are HomeView.
// User text (names, topics, bodies) enters the DOM only through textContent; message
// HTML only through richtext.js, which rebuilds it node by node from an allow-list.
import { Autocomplete } from "./autocomplete.js";
import { Composer } from "./composer.js";
import { byId, el, fillPresence, refreshDots } from "./dom.js";
import { Drafts } from "./drafts.js";
import { EmojiPicker } from "./emojipicker.js";
import { t } from "./i18n.js";
import { MembersPanel } from "./members.js";
import { NotifyMenu } from "./notifymenu.js";
import { ProfileCard } from "./profilecard.js";
import { PinsPanel } from "./pins.js";
import { SearchPanel } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { ThreadPanel } from "./thread.js";
import { Timeline } from "./timeline.js";
import { textOf } from "./uploads.js";

const ANNOUNCE_CHARS = 200;

export class ChatView {
  #root;
  #els;
  #ui;
  #presenceOf;
  #countdown = 0;
  #announcedState = "connecting";

  /**
   * `root` is the chat page; `ui` the UiState the components share, `store` the Store,
   * `me` {id, username, display_name, avatar}. `on` holds the app's callbacks: openRoom(id),
   * send(text) → true when taken, retry(id), discard(id), join(), reconnectNow(),
   * nearTop(), edit(message, body) → true when done, remove(message), pin(message, on),
   * react(message, emoji, on), reply(message), cancelReply(), jumpTo(seq), jumpToUnread(),
   * editLast() → true when editing, typing(roomId) → true when told, openResult(message),
   * setNotify(level), blocksChanged(), messagePerson(username) (a card's Message),
   * openThread(rootId, {focusComposer}), sendInThread(rootId, text, alsoInRoom) → true
   * when taken.
   */
  constructor(root, { ui, store, me, on }) {
    this.#els = byId([
      "room-title", "room-topic", "room-kind", "room-presence", "connection",
      "connection-text", "connection-live", "reconnect-now", "chat-notice", "chat-notice-text",
      "chat-notice-dismiss", "login-link", "announcer",
    ]);
    this.#root = root;
    this.#ui = ui;
    this.#presenceOf = (userId) => store.presenceOf(userId);
    const presenceOf = this.#presenceOf;
    this.sidebar = new Sidebar(root, { ui, presenceOf, on });
    this.emojiPicker = new EmojiPicker();
    const pickEmoji = (anchor) =>
      this.emojiPicker.toggle(anchor, {
        label: t("Insert emoji"),
        onPick: (emoji) => this.composer.insert(emoji),
      });
    const drafts = new Drafts(me.id);
    this.composer = new Composer({ ui, drafts, on: { ...on, pickEmoji } });
    this.autocomplete = new Autocomplete(
      { form: root.querySelector("#composer"), input: root.querySelector("#composer-input") },
      { ui, store, me },
    );
    const announce = (text) => this.announce(text);
    const focusComposer = () => this.composer.focus();
    const moreEmoji = (message, anchor) =>
      this.emojiPicker.toggle(anchor, {
        label: t("React with any emoji"),
        onPick: (emoji) => {
          on.react(message, emoji, true);
          if (anchor.isConnected) anchor.focus();
        },
      });
    this.timeline = new Timeline({ ui, me, on: { ...on, announce, focusComposer, moreEmoji } });
    this.members = new MembersPanel(root, { ui, store, me, on });
    this.thread = new ThreadPanel(root, {
      ui,
      store,
      me,
      drafts,
      on: {
        sendInThread: on.sendInThread,
        retry: on.retry,
        discard: on.discard,
        react: on.react,
        edit: on.edit,
        remove: on.remove,
        moreEmoji,
        opened: () => this.members.setOpen(false, { refocus: false }),
      },
    });
    this.notifyMenu = new NotifyMenu({ on });
    this.pins = new PinsPanel({ ui, on });
    this.search = new SearchPanel({
      ui,
      store,
      me,
      on: { openResult: on.openResult, closeDrawer: () => this.sidebar.setOpen(false) },
    });
    this.profileCard = new ProfileCard({ store, on: { message: on.messagePerson } });
    this.profileCard.attach(root);
    this.#bind(root, on);
  }

  /** The open room (ui.room, ui.removed) changed: its header and what may be done in it. */
  showRoom() {
    const { room } = this.#ui;
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
    this.notifyMenu.showRoom(room, this.#ui.member);
    this.pins.showRoom();
    els["room-presence"].dataset.peer = room.kind === "direct" ? (room.peer?.id ?? "") : "";
    this.emojiPicker.close();
    this.autocomplete.close();
    this.composer.showRoom();
    this.members.showRoom();
    this.timeline.refreshPermissions();
    this.#fillHeaderPresence();
  }

  /**
   * Someone's status changed (userId null: maybe anyone's): update the dots in place, in
   * the sidebar, the members panel and a direct room's header.
   */
  refreshPresence(userId = null) {
    refreshDots(this.#root, userId, this.#presenceOf);
  }

  #fillHeaderPresence() {
    const dot = this.#els["room-presence"];
    const peer = dot.dataset.peer ? Number(dot.dataset.peer) : null;
    fillPresence(dot, peer === null ? null : this.#presenceOf(peer));
  }

  // Notices, the live region, the connection state, the title.

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

  #bind(root, on) {
    const els = this.#els;
    // Esc closes the panel on top: members, then search results, then the drawer.
    // (The picker, the inline editor and the reply bar take their own Esc first.)
    root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      if (this.#ui.membersOpen) {
        event.preventDefault();
        this.members.setOpen(false);
      } else if (this.search.closeByKey() || this.sidebar.closeByKey()) {
        event.preventDefault();
      }
    });
    els["reconnect-now"].addEventListener("click", () => on.reconnectNow());
    els["chat-notice-dismiss"].addEventListener("click", () => this.hideNotice());
  }
}

/** The home page: server-rendered; this only keeps unread badges and previews current. */
export class HomeView {
  #list;
  #root;

  /** `list`: the home page's room list (null on a page without one); `root`: where
   * presence dots are. */
  constructor(list, root) {
    this.#list = list;
    this.#root = root;
  }

  update(rooms) {
    if (!this.#list) return;
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
      const silent = item.querySelector(".room-notify-off");
      if (silent) silent.hidden = room.notify !== "nothing";
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

  /** Presence dots (direct rooms, people); `lookup(userId)` → {status, last_seen} or null. */
  refreshPresence(lookup) {
    refreshDots(this.#root, null, lookup);
  }

  setTitle(unread) {
    if (this.#list) document.title = unread > 0 ? `(${unread}) Parley` : "Parley";
  }
}
