// Entry point: reads the page's config and wires store, socket and view together.
// On the room page it runs the chat; on the home page it only keeps unread badges live.
import { joinRoom, openDirect } from "./api.js";
import { t } from "./i18n.js";
import { Connection, Sync, socketUrl } from "./socket.js";
import { Store } from "./store.js";
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

const chatRoot = document.getElementById("chat");
const started = chatRoot ? startChat(chatRoot) : startHome(document.getElementById("home-rooms"));
// Connect once a DM link has made its room, so the hello already lists it.
started.then(() => connection.start());

async function startHome(list) {
  const view = new HomeView(list);
  store.addEventListener("rooms", () => {
    view.update(store.memberRooms());
    view.setTitle(store.totalUnread());
  });
}

async function startChat(root) {
  const me = { id: config.user, display_name: root.dataset.displayName };
  let openId = null;
  // The open room as last seen, so its header survives being removed from it.
  let shown = null;
  let removed = false;
  // The notice showing, so that only what resolves it clears it.
  let notice = null;

  const view = new ChatView(root, {
    me,
    on: {
      openRoom(id) {
        if (id === openId) return;
        history.pushState(null, "", roomPath(id));
        open(id);
      },
      send,
      retry: (id) => sync.retry(id),
      discard: (id) => store.removePending(id),
      join,
      reconnectNow: () => connection.reconnectNow(),
      nearTop: loadOlderIfNeeded,
    },
  });

  function open(id) {
    openId = id;
    sync.openRoom = id;
    shown = store.room(id);
    removed = false;
    notice = null;
    view.hideNotice();
    view.showRoom(shown);
    view.renderRooms(store.memberRooms(), id);
    renderTimeline({ toBottom: true });
    updateTitle();
    if (!store.log(id)?.loaded) sync.loadNewest(id);
    markRead();
    // On touch screens focusing the composer would pop up the keyboard uninvited.
    if (window.matchMedia("(pointer: fine)").matches) view.focusComposer();
  }

  function renderTimeline(options) {
    const log = store.log(openId);
    view.renderTimeline(
      openId,
      {
        messages: log?.messages() ?? [],
        pending: store.pendingFor(openId),
        loaded: Boolean(log?.loaded),
        hasOlder: Boolean(log?.hasOlder),
      },
      options,
    );
    loadOlderIfNeeded();
  }

  function loadOlderIfNeeded() {
    if (openId !== null && store.log(openId)?.hasOlder && view.nearTop()) sync.loadOlder(openId);
  }

  /** The open room is on screen: its newest message counts as read. */
  function markRead() {
    if (openId === null || document.visibilityState !== "visible") return;
    const room = store.room(openId);
    const log = store.log(openId);
    if (room?.role && log?.loaded) sync.read(openId, log.highest);
  }

  function showNotice(kind, text, options) {
    notice = kind;
    view.showNotice(text, options);
  }

  function clearNotice(kind) {
    if (notice !== kind) return;
    notice = null;
    view.hideNotice();
  }

  function updateTitle() {
    view.setTitle(store.totalUnread(), shown?.name);
  }

  function send(text) {
    const body = text.trim();
    if (!body || openId === null || !store.room(openId)?.role) return false;
    if ([...body].length > MAX_BODY_CHARS) {
      showNotice("send", t("Messages are limited to %s characters.", MAX_BODY_CHARS));
      return false;
    }
    clearNotice("send");
    sync.send(openId, body);
    view.scrollToBottom();
    return true;
  }

  async function join() {
    try {
      store.upsertRoom(await joinRoom(shown.name), { joined: true });
      clearNotice("join");
      sync.catchUp(openId);
      view.focusComposer();
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
    view.renderRooms(store.memberRooms(), openId);
    if (openId !== null) {
      const room = store.room(openId);
      if (room) {
        clearNotice("removed");
        shown = room;
        removed = false;
        view.showRoom(room);
      } else if (!removed) {
        removed = true;
        view.showRoom(shown, { removed: true });
        showNotice("removed", t("You are no longer a member of this room."));
      }
    }
    updateTitle();
  });

  store.addEventListener("messages", (event) => {
    const { room, added, live } = event.detail;
    if (room !== openId) return;
    clearNotice("load");
    const incoming = live ? added.filter((message) => message.author.id !== me.id) : [];
    renderTimeline({ incoming: incoming.length > 0 });
    for (const message of incoming) {
      view.announce(t("%s: %s", message.author.display_name, message.body));
    }
    markRead();
  });

  store.addEventListener("pending", (event) => {
    if (event.detail.room === openId) renderTimeline();
  });

  connection.addEventListener("state", (event) => view.setConnection(event.detail));
  sync.addEventListener("synced", markRead);
  sync.addEventListener("signedout", () => {
    showNotice("signedout", t("You have been signed out."), { login: true });
  });
  sync.addEventListener("problem", (event) => {
    const { room, error } = event.detail;
    if (room === null || room !== openId) return;
    showNotice("load", t("Could not load messages: %s", error.detail));
  });

  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
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
