// Entry point: reads the page's config and wires store, socket and view together.
// On the room page it runs the chat; on the home page it only keeps unread badges live
// (and on the people directory, presence dots).
// The chat's UI state (the open room, the panels, the reply) is one UiState (uistate.js),
// shared with the view's components.
import { ActivityMonitor } from "./activity.js";
import { joinRoom, openDirect, setRoomNotify } from "./api.js";
import { Connection, socketUrl } from "./connection.js";
import { Drafts } from "./drafts.js";
import { t } from "./i18n.js";
import { NewRoomForm } from "./newroom.js";
import { NotificationPrompt, Notifier } from "./notify.js";
import { Store, excerptOf } from "./store.js";
import { Sync } from "./sync.js";
import { inTimeline } from "./threadmarks.js";
import { UiState } from "./uistate.js";
import { UploadTray, textOf } from "./uploads.js";
import { ChatView, HomeView } from "./view.js";

const MAX_BODY_CHARS = 4000;

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

const roomPath = (id) => `/rooms/${id}/`;

function roomIdFromPath(path) {
  const match = /^\/rooms\/(\d+)\/$/.exec(path);
  return match ? Number(match[1]) : null;
}

const config = readJson("parley-config");
const store = new Store(config.user);
const connection = new Connection(socketUrl(config.ws_path));
const sync = new Sync({ connection, store });

// Logging out (the header's button, on every page) leaves none of the user's drafts behind.
document.getElementById("logout-form")?.addEventListener("submit", () => new Drafts(config.user).clear());

// Presence: tell the server when this tab's user goes idle and comes back.
const activity = new ActivityMonitor();
activity.addEventListener("change", (event) => sync.reportActivity(event.detail.status));
activity.start();

// Notifications for live messages while the tab is hidden (once the user opted in).
// A click shows the room: on the chat page in place, elsewhere by going there.
let showFromNotification = (message) => window.location.assign(roomPath(message.room));
const notifier = new Notifier({ store, onOpen: (message) => showFromNotification(message) });
sync.addEventListener("live", (event) => notifier.consider(event.detail.message));
// The one-time offer to turn them on, at the top of the home and chat pages.
const prompt = document.getElementById("notify-prompt");

const chatRoot = document.getElementById("chat");
const started = chatRoot ? startChat(chatRoot) : startHome(document.getElementById("home-rooms"));
// Connect once a DM link has made its room, so the hello already lists it.
started.then(() => connection.start());

// The home page and the people directory (which has no room list: only presence dots).
async function startHome(list) {
  const view = new HomeView(list, document.getElementById("main"));
  store.addEventListener("rooms", () => {
    view.update(store.memberRooms());
    view.setTitle(store.totalUnread());
  });
  store.addEventListener("presence", () => view.refreshPresence((id) => store.presenceOf(id)));
  if (!prompt) return;
  new NotificationPrompt(prompt, {
    afterAnswer: (_permission, { hadFocus }) => {
      if (hadFocus) (list.querySelector("a") ?? document.getElementById("join-name"))?.focus();
    },
  });
}

async function startChat(root) {
  const me = {
    id: config.user,
    username: root.dataset.username ?? "",
    display_name: root.dataset.displayName,
    avatar: root.dataset.avatar ?? null,
  };
  const ui = new UiState();
  let choosingNotify = false;
  // Per direct room, the server's reason for refusing the user's last send there (the
  // other person blocks them).
  const refusals = new Map();

  const view = new ChatView(root, {
    ui,
    store,
    me,
    on: {
      openRoom,
      send,
      retry: (id) => sync.retry(id),
      discard: (id) => store.removePending(id),
      join,
      reconnectNow: () => connection.reconnectNow(),
      nearTop: loadOlderIfNeeded,
      edit,
      remove,
      pin: (message, on) => whenConnected(sync.pin(message.room, message.id, on)),
      react,
      reply,
      cancelReply: () => setReply(null),
      jumpTo,
      jumpToUnread,
      editLast,
      typing: (roomId) => Boolean(store.room(roomId)?.role) && sync.typing(roomId),
      openResult,
      openThread: (rootId, options) => view.thread.open(rootId, options),
      sendInThread,
      setNotify,
      blocksChanged: () => updateComposerNote(),
      messagePerson: (username) => {
        history.pushState(null, "", `/dm/${encodeURIComponent(username)}/`);
        openDm(username);
      },
    },
  });
  const { sidebar, timeline, composer, members, search } = view;
  const tray = new UploadTray(
    {
      form: document.getElementById("composer"),
      input: document.getElementById("composer-input"),
      picker: document.getElementById("composer-file"),
      button: document.getElementById("composer-attach"),
      tray: document.getElementById("upload-tray"),
    },
    { roomId: () => ui.roomId, maxBytes: config.upload_max_bytes },
  );

  new NewRoomForm({
    on: {
      created: (room) => {
        store.upsertRoom(room, { joined: true });
        openRoom(room.id);
      },
    },
  });

  function openRoom(id) {
    if (id === ui.roomId) {
      search.close();
      return;
    }
    history.pushState(null, "", roomPath(id));
    open(id);
  }

  function open(id) {
    if (id !== ui.roomId) {
      view.thread.close({ refocus: false });
      timeline.reset();
      markUnread(id);
    }
    rememberRoom(id);
    ui.openRoom(id, store.room(id));
    sync.openRoom = id;
    setReply(null);
    tray.clear();
    composer.restoreDraft();
    search.close();
    view.hideNotice();
    view.showRoom();
    composer.showTyping();
    sidebar.renderRooms(store.memberRooms());
    renderTimeline(store.log(id)?.messages() ?? [], { toBottom: true });
    updateTitle();
    if (!store.log(id)?.loaded) sync.loadNewest(id);
    markRead();
    updateComposerNote();
    members.roomOpened();
    // On touch screens focusing the composer would pop up the keyboard uninvited.
    if (window.matchMedia("(pointer: fine)").matches) composer.focus();
  }

  /** Draws what changed in the open room: `messages` added or changed, and its sends. */
  function renderTimeline(messages, options) {
    const log = store.log(ui.roomId);
    timeline.render(
      {
        messages: messages.filter(inTimeline),
        pending: store.pendingFor(ui.roomId).filter(inTimeline),
        loaded: Boolean(log?.loaded),
        hasOlder: Boolean(log?.hasOlder),
      },
      options,
    );
    loadOlderIfNeeded();
  }

  function loadOlderIfNeeded() {
    const roomId = ui.roomId;
    if (roomId !== null && store.log(roomId)?.hasOlder && timeline.nearTop()) {
      sync.loadOlder(roomId);
    }
  }

  /** Logging in again on this browser lands here (chat.http.pages.resume). */
  function rememberRoom(id) {
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `parley_room=${me.id}:${id}; path=/; max-age=31536000; SameSite=Lax${secure}`;
  }

  /** What arrived since the room was last read shows as new (before it counts as read). */
  function markUnread(roomId) {
    const room = store.room(roomId);
    if (room?.role && room.unread > 0) timeline.markUnread(room.last_read_seq, room.unread);
  }

  /** Back to the tab: what came while it was hidden shows as new. */
  function returned() {
    if (document.visibilityState !== "visible") return;
    if (ui.roomId !== null) markUnread(ui.roomId);
    markRead();
  }

  /** The open room is on screen: its newest message counts as read. */
  function markRead() {
    if (ui.roomId === null || document.visibilityState !== "visible") return;
    const room = store.room(ui.roomId);
    const log = store.log(ui.roomId);
    if (room?.role && log?.loaded) sync.read(ui.roomId, log.highest);
  }

  function showNotice(kind, text, options) {
    ui.notice = kind;
    view.showNotice(text, options);
  }

  function clearNotice(kind) {
    if (ui.notice !== kind) return;
    ui.notice = null;
    view.hideNotice();
  }

  function updateTitle() {
    view.setTitle(store.totalUnread(), ui.room?.name);
  }

  /** Whether `body` (trimmed) may be sent in the open room; says why not in a notice. */
  function sendable(body, { files = false } = {}) {
    if ((!body && !files) || ui.roomId === null || !store.room(ui.roomId)?.role) return false;
    if ([...body].length > MAX_BODY_CHARS) {
      showNotice("send", t("Messages are limited to %s characters.", MAX_BODY_CHARS));
      return false;
    }
    return true;
  }

  function send(text) {
    const body = text.trim();
    const attachments = tray.ready();
    const roomId = ui.roomId;
    if (!sendable(body, { files: attachments.length > 0 })) return false;
    if (tray.busy()) {
      showNotice("send", t("Wait until the files have uploaded."));
      return false;
    }
    clearNotice("send");
    sync.send(roomId, body, ui.replyTo, attachments);
    tray.clear();
    setReply(null);
    timeline.scrollToBottom();
    return true;
  }

  /** A reply in the thread of message `rootId` (the thread panel's composer). */
  function sendInThread(rootId, text, alsoInRoom) {
    const body = text.trim();
    if (!sendable(body)) return false;
    clearNotice("send");
    sync.send(ui.roomId, body, null, [], { root: rootId, alsoInRoom });
    if (alsoInRoom) timeline.scrollToBottom();
    return true;
  }

  /** A search result: its message in its room, and a thread reply's thread beside it. */
  function openResult(message) {
    view.search.close();
    if (!message.thread_root || message.also_in_room) showMessage(message.room, message.seq);
    else if (store.room(message.room)) openRoom(message.room);
    else window.location.assign(roomPath(message.room));
    if (message.thread_root && store.room(message.room)) view.thread.open(message.thread_root);
  }

  // Changes to sent messages: the store changes when the server's event arrives.

  function whenConnected(sent) {
    if (!sent) showNotice("action", t("Not connected: try again once reconnected."));
    else clearNotice("action");
    return sent;
  }

  /** Saves an edit; true when the editor can close (sent, or nothing changed). */
  function edit(message, text) {
    const body = text.trim();
    if (!body) return false;
    if (body === message.body) return true;
    if ([...body].length > MAX_BODY_CHARS) {
      showNotice("action", t("Messages are limited to %s characters.", MAX_BODY_CHARS));
      return false;
    }
    return whenConnected(sync.edit(message.id, body));
  }

  function remove(message) {
    if (!window.confirm(t("Delete this message? This cannot be undone."))) return;
    whenConnected(sync.remove(message.id));
  }

  function react(message, emoji, on) {
    whenConnected(sync.react(message.id, emoji, on));
  }

  function reply(message) {
    setReply({
      id: message.id,
      seq: message.seq,
      author: message.author,
      // A message of files only quotes their names, as the composer shows them.
      excerpt: excerptOf(message.body ? message : { html: "", body: textOf(message) }),
      deleted: false,
    });
    composer.focus();
  }

  function setReply(quote) {
    composer.setReply(quote);
  }

  /** Shows a reply's parent: at once if loaded, else after loading history back to it. */
  async function jumpTo(seq) {
    const roomId = ui.roomId;
    if (roomId === null || timeline.highlight(seq)) return;
    if (!store.log(roomId)?.loaded) await sync.loadNewest(roomId);
    if (ui.roomId !== roomId || timeline.highlight(seq)) return;
    await sync.loadAround(roomId, seq);
    if (ui.roomId === roomId) timeline.highlight(seq);
  }

  /** Shows the first message that was unread when the room opened, loading back to it. */
  async function jumpToUnread() {
    const roomId = ui.roomId;
    const after = timeline.unreadAfter();
    if (roomId === null || after === null) return;
    if (timeline.firstUnread() === null) {
      if (!store.log(roomId)?.loaded) await sync.loadNewest(roomId);
      await sync.loadAround(roomId, after + 1);
    }
    const seq = timeline.firstUnread();
    if (ui.roomId === roomId && seq !== null) timeline.highlight(seq);
  }

  /** Opens a room (if another is open) and shows one of its messages, highlighted. */
  function showMessage(roomId, seq) {
    if (!store.room(roomId)) {
      window.location.assign(roomPath(roomId));
      return;
    }
    openRoom(roomId);
    jumpTo(seq);
  }

  /** In a DM, the composer says why the other person may not get what you write. */
  function updateComposerNote() {
    const room = store.room(ui.roomId);
    let text = null;
    if (room?.kind === "direct" && room.role) {
      if (refusals.has(room.id)) {
        text = t("You cannot write to %s: %s", room.name, refusals.get(room.id));
      } else if (members.blocked?.has(room.peer?.username)) {
        text = t("You block %s: they cannot write to you here.", room.name);
      }
    }
    composer.showNote(text);
  }

  // Notifications: the open room's level, and the answer to the offer.

  async function setNotify(level) {
    const room = store.room(ui.roomId);
    if (!room?.role || choosingNotify) return;
    choosingNotify = true;
    try {
      store.upsertRoom(await setRoomNotify(room.id, level));
      clearNotice("notify");
    } catch (error) {
      showNotice("notify", t("Could not change the room's notifications: %s", error.detail));
    } finally {
      choosingNotify = false;
    }
  }

  new NotificationPrompt(prompt, {
    afterAnswer: (permission, { hadFocus }) => {
      if (permission === "denied") {
        showNotice("notify", t("Notifications are blocked for Parley in the browser's settings."));
      }
      if (hadFocus) composer.focus();
    },
  });

  /** The Up arrow in an empty composer: edit your newest message still editable. */
  function editLast() {
    const messages = store.log(ui.roomId)?.messages() ?? [];
    for (let i = messages.length - 1; i >= 0; i -= 1) {
      const message = messages[i];
      if (message.author.id === me.id && !message.deleted && inTimeline(message)) {
        return timeline.startEdit(message.seq);
      }
    }
    return false;
  }

  async function join() {
    try {
      store.upsertRoom(await joinRoom(ui.room.name), { joined: true });
      clearNotice("join");
      sync.catchUp(ui.roomId);
      composer.focus();
    } catch (error) {
      showNotice("join", t("Could not join the room: %s", error.detail));
    }
  }

  async function openDm(username) {
    try {
      const room = await openDirect(username);
      store.upsertRoom(room, { joined: true });
      history.replaceState(null, "", roomPath(room.id));
      open(room.id);
    } catch (error) {
      showNotice("dm", t("Could not open the conversation: %s", error.detail));
    }
  }

  store.addEventListener("rooms", () => {
    sidebar.renderRooms(store.memberRooms());
    if (ui.roomId !== null) {
      const room = store.room(ui.roomId);
      if (room) {
        clearNotice("removed");
        ui.room = room;
        ui.removed = false;
        view.showRoom();
      } else if (!ui.removed) {
        ui.removed = true;
        members.setOpen(false, { refocus: false });
        view.showRoom();
        showNotice("removed", t("You are no longer a member of this room."));
      }
    }
    updateTitle();
    members.render();
  });

  store.addEventListener("messages", (event) => {
    const { room, added, live, changed = [] } = event.detail;
    // A send went through: whatever refused the last one no longer does.
    if (refusals.has(room) && added.some((message) => message.author.id === me.id)) {
      refusals.delete(room);
      if (room === ui.roomId) updateComposerNote();
    }
    // A typist's message has arrived: they are done typing it.
    if (live) for (const message of added) composer.typingStopped(room, message.author.id);
    if (room !== ui.roomId) return;
    // The message being answered was deleted meanwhile: the server would refuse the reply.
    if (ui.replyTo && store.log(room)?.get(ui.replyTo.seq)?.deleted) setReply(null);
    clearNotice("load");
    view.thread.messagesChanged(room, [...added, ...changed]);
    const incoming = live
      ? added.filter((message) => message.author.id !== me.id && inTimeline(message))
      : [];
    renderTimeline([...added, ...changed], { incoming: incoming.length > 0 });
    for (const message of incoming) {
      view.announce(t("%s: %s", message.author.display_name, textOf(message)));
    }
    markRead();
  });

  store.addEventListener("presence", (event) => view.refreshPresence(event.detail.user));

  store.addEventListener("pending", (event) => {
    if (event.detail.room !== ui.roomId) return;
    renderTimeline([]);
    view.thread.renderPending();
  });

  sync.addEventListener("member", (event) => {
    const { room, user, role } = event.detail;
    members.applyMember(room, user, role);
    view.autocomplete.forgetMembers(room);
  });
  sync.addEventListener("sendrefused", (event) => {
    const { room, error } = event.detail;
    if (error.code !== "forbidden" || store.room(room)?.kind !== "direct") return;
    refusals.set(room, error.detail);
    if (room === ui.roomId) updateComposerNote();
  });

  connection.addEventListener("state", (event) => view.setConnection(event.detail));
  sync.addEventListener("synced", markRead);
  sync.addEventListener("signedout", () => {
    showNotice("signedout", t("You have been signed out."), { login: true });
  });
  sync.addEventListener("typing", (event) => {
    composer.typingStarted(event.detail.room, event.detail.user);
  });
  sync.addEventListener("refused", (event) => {
    const { kind, error } = event.detail;
    const texts = {
      edit: "Could not edit the message: %s",
      delete: "Could not delete the message: %s",
      react: "Could not react: %s",
      pin: "Could not pin or unpin the message: %s",
    };
    showNotice("action", t(texts[kind], error.detail));
  });
  sync.addEventListener("problem", (event) => {
    const { room, error } = event.detail;
    if (room === null || room !== ui.roomId) return;
    showNotice("load", t("Could not load messages: %s", error.detail));
  });

  document.addEventListener("visibilitychange", returned);
  window.addEventListener("focus", markRead);
  // A thread reply the timeline does not show opens its thread beside its room.
  showFromNotification = (message) => {
    const roomId = message.room;
    if (roomId === ui.roomId) timeline.scrollToBottom();
    else if (store.room(roomId)) openRoom(roomId);
    if (message.thread_root && !message.also_in_room && ui.roomId === roomId) {
      view.thread.open(message.thread_root);
    }
  };
  window.addEventListener("popstate", () => {
    const id = roomIdFromPath(window.location.pathname);
    if (id !== null && store.room(id)) open(id);
    else window.location.reload();
  });

  view.setConnection(connection.state);
  const initial = readJson("parley-room");
  if (initial) {
    store.upsertRoom(initial);
    open(initial.id);
  } else if (config.dm) {
    await openDm(config.dm);
  }
}
