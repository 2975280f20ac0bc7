// Entry point: reads the page's config and wires store, socket and view together.
// On the room page it runs the chat; on the home page it only keeps unread badges live.
import { ActivityMonitor } from "./activity.js";
import {
  blockUser,
  inviteMember,
  joinRoom,
  listBlocks,
  listMembers,
  openDirect,
  removeMember,
  searchMessages,
  setMuted,
  setRole,
  unblockUser,
  updateRoom,
} from "./api.js";
import { t } from "./i18n.js";
import { Notifier, notificationPermission, requestNotifications } from "./notify.js";
import { Connection, Sync, socketUrl } from "./socket.js";
import { Store, excerptOf } from "./store.js";
import { UploadTray, textOf } from "./uploads.js";
import { ChatView, HomeView } from "./view.js";

const MAX_BODY_CHARS = 4000;
// Tell the room at most this often that the user is typing; forget a typist after TYPING_MS.
const TYPING_EVERY_MS = 3000;
const TYPING_MS = 6000;

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

// Presence: tell the server when this tab's user goes idle and comes back.
const activity = new ActivityMonitor();
activity.addEventListener("change", (event) => sync.reportActivity(event.detail.status));
activity.start();

// Notifications for live messages while the tab is hidden (once the user opted in).
// A click shows the room: on the chat page in place, elsewhere by going there.
let showRoomFromNotification = (roomId) => window.location.assign(roomPath(roomId));
const notifier = new Notifier({ store, onOpen: (roomId) => showRoomFromNotification(roomId) });
sync.addEventListener("live", (event) => notifier.consider(event.detail.message));

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
  store.addEventListener("presence", () => view.refreshPresence((id) => store.presenceOf(id)));
  // The same opt-in as in the chat's sidebar, shown while the browser has not asked yet.
  const offer = document.getElementById("notify-offer");
  const showOffer = () => {
    offer.hidden = notificationPermission() !== "default";
  };
  document.getElementById("notify-enable").addEventListener("click", async () => {
    await requestNotifications();
    showOffer();
  });
  window.addEventListener("focus", showOffer);
  showOffer();
}

async function startChat(root) {
  const me = {
    id: config.user,
    username: root.dataset.username ?? "",
    display_name: root.dataset.displayName,
  };
  let openId = null;
  // The message the next send answers (its quote), for the open room only.
  let replyTo = null;
  // Who is typing where: room id → Map(user id → {user, timer}).
  const typists = new Map();
  let typingSent = { room: null, at: 0 };
  // The open room as last seen, so its header survives being removed from it.
  let shown = null;
  let removed = false;
  // The notice showing, so that only what resolves it clears it.
  let notice = null;
  // The search shown: its query, how many results, the id to page on from, and a
  // generation that makes answers to an abandoned search go unused.
  // `room`: the one room searched, or undefined for all of the user's rooms.
  let search = { query: "", room: undefined, count: 0, lastId: null, generation: 0 };
  let muting = false;
  // The members panel's list: the room it is for and its members by username. A generation
  // makes answers for a room no longer shown go unused.
  let members = { room: null, list: new Map(), hasMore: false, loading: false, generation: 0 };
  // The usernames the user blocks (null until fetched), and per direct room the server's
  // reason for refusing the user's last send there (the other person blocks them).
  let blocked = null;
  const refusals = new Map();

  const view = new ChatView(root, {
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
      react,
      reply,
      cancelReply: () => setReply(null),
      jumpTo,
      editLast,
      typing,
      search: (query, { here }) => runSearch(query, { room: here ? openId : undefined }),
      searchMore: () => runSearch(search.query, { more: true }),
      closeSearch,
      openResult: (message) => {
        closeSearch();
        showMessage(message.room, message.seq);
      },
      toggleMute,
      enableNotifications,
      toggleMembers,
      saveRoom: ({ name, topic }) =>
        manage(
          async () => store.upsertRoom(await updateRoom(openId, { name, topic })),
          "Could not save the room: %s",
        ),
      invite: (username) =>
        manage(async () => {
          await inviteMember(openId, username);
          view.clearInvite();
        }, "Could not invite %s: %s", username),
      setRole: (username, role) =>
        manage(() => setRole(openId, username, role), "Could not change the role: %s"),
      removeMember: (member) => {
        const name = member.user.display_name;
        if (!window.confirm(t("Remove %s from this room?", name))) return;
        manage(() => removeMember(openId, member.user.username), "Could not remove %s: %s", name);
      },
      leave: () => {
        if (!window.confirm(t("Leave %s?", `#${shown.name}`))) return;
        manage(() => removeMember(openId, me.username), "Could not leave the room: %s");
      },
      block: (username, on) =>
        manage(async () => {
          const answer = await (on ? blockUser(username) : unblockUser(username));
          blocked = new Set(answer.blocked);
          updateComposerNote();
        }, on ? "Could not block %s: %s" : "Could not unblock %s: %s", username),
    },
  });
  view.presenceOf = (userId) => store.presenceOf(userId);
  const tray = new UploadTray(
    {
      form: document.getElementById("composer"),
      input: document.getElementById("composer-input"),
      picker: document.getElementById("composer-file"),
      button: document.getElementById("composer-attach"),
      tray: document.getElementById("upload-tray"),
    },
    { roomId: () => openId, maxBytes: config.upload_max_bytes },
  );

  function openRoom(id) {
    if (id === openId) {
      closeSearch();
      return;
    }
    history.pushState(null, "", roomPath(id));
    open(id);
  }

  function open(id) {
    openId = id;
    sync.openRoom = id;
    shown = store.room(id);
    removed = false;
    notice = null;
    setReply(null);
    tray.clear();
    closeSearch();
    view.hideNotice();
    view.showRoom(shown);
    renderTyping();
    view.renderRooms(store.memberRooms(), id);
    renderTimeline({ toBottom: true });
    updateTitle();
    if (!store.log(id)?.loaded) sync.loadNewest(id);
    markRead();
    updateComposerNote();
    if (shown?.kind === "direct") loadBlocks();
    if (view.membersOpen) loadMembers();
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
    const attachments = tray.ready();
    if ((!body && !attachments.length) || openId === null || !store.room(openId)?.role) {
      return false;
    }
    if ([...body].length > MAX_BODY_CHARS) {
      showNotice("send", t("Messages are limited to %s characters.", MAX_BODY_CHARS));
      return false;
    }
    if (tray.busy()) {
      showNotice("send", t("Wait until the files have uploaded."));
      return false;
    }
    clearNotice("send");
    sync.send(openId, body, replyTo, attachments);
    tray.clear();
    setReply(null);
    // The next keystroke may say "typing" again: the message ended the last one.
    typingSent = { room: null, at: 0 };
    view.scrollToBottom();
    return true;
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
      excerpt: excerptOf(textOf(message)),
      deleted: false,
    });
    view.focusComposer();
  }

  function setReply(quote) {
    replyTo = quote;
    view.setReply(quote);
  }

  /** Shows a reply's parent: at once if loaded, else after loading history back to it. */
  async function jumpTo(seq) {
    const roomId = openId;
    if (roomId === null || view.highlight(seq)) return;
    if (!store.log(roomId)?.loaded) await sync.loadNewest(roomId);
    if (openId !== roomId || view.highlight(seq)) return;
    await sync.loadAround(roomId, seq);
    if (openId === roomId) view.highlight(seq);
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

  // Search.

  async function runSearch(query, { more = false, room } = {}) {
    search.generation += 1;
    const generation = search.generation;
    if (!more) {
      search = { query, room: room ?? undefined, count: 0, lastId: null, generation };
      view.startSearch(t("Searching…"));
    }
    let page;
    try {
      const before = more ? search.lastId : undefined;
      page = await searchMessages(query, { room: search.room, before });
    } catch (error) {
      if (generation === search.generation) view.searchProblem(t("Search failed: %s", error.detail));
      return;
    }
    if (generation !== search.generation) return;
    const { results } = page;
    search.count += results.length;
    if (results.length) search.lastId = results[results.length - 1].id;
    let status = t("%s results for “%s”", search.count, query);
    if (search.count === 0) status = t("No messages match “%s”.", query);
    else if (search.count === 1) status = t("1 result for “%s”", query);
    view.addSearchResults(
      results.map((message) => {
        const room = store.room(message.room);
        return { message, roomName: room?.name ?? "", direct: room?.kind === "direct" };
      }),
      { hasMore: page.has_more && results.length > 0, status, focusFirst: more },
    );
  }

  function closeSearch() {
    search.generation += 1;
    view.closeSearch();
  }

  // The members panel.

  function toggleMembers(open) {
    view.setMembersOpen(open);
    if (open) loadMembers();
  }

  /** Fetches the open room's members; `quiet` keeps the list shown meanwhile. */
  async function loadMembers({ quiet = false } = {}) {
    if (openId === null || !view.membersOpen) return;
    const roomId = openId;
    const generation = members.generation + 1;
    if (quiet && members.room === roomId) members.generation = generation;
    else members = { room: roomId, list: new Map(), hasMore: false, loading: true, generation };
    renderMembers();
    try {
      const page = await listMembers(roomId);
      if (generation !== members.generation) return;
      members.list = new Map(page.members.map((member) => [member.user.username, member]));
      members.hasMore = page.has_more;
    } catch (error) {
      if (generation !== members.generation || !view.membersOpen) return;
      view.membersError(t("Could not load the members: %s", error.detail));
    }
    members.loading = false;
    renderMembers();
  }

  const RANKS = { owner: 0, admin: 1, member: 2 };

  function renderMembers() {
    const room = store.room(openId) ?? shown;
    if (!room || !view.membersOpen || members.room !== openId) return;
    const list = [...members.list.values()].sort(
      (a, b) =>
        RANKS[a.role] - RANKS[b.role] || a.user.username.localeCompare(b.user.username),
    );
    const { hasMore, loading } = members;
    view.renderMembers({ room, members: list, hasMore, loading, blocked });
  }

  /** Runs a change the server may refuse; shows its reason in the panel. */
  async function manage(action, failure, ...args) {
    try {
      await action();
      view.membersError(null);
      loadMembers({ quiet: true });
    } catch (error) {
      view.membersError(t(failure, ...args, error.detail));
      renderMembers();
    }
  }

  async function loadBlocks() {
    if (blocked !== null) return;
    try {
      blocked = new Set((await listBlocks()).blocked);
    } catch {
      return; // the Block button and the composer's note wait for the next try
    }
    updateComposerNote();
    renderMembers();
  }

  /** In a DM, the composer says why the other person may not get what you write. */
  function updateComposerNote() {
    const room = store.room(openId);
    let text = null;
    if (room?.kind === "direct" && room.role) {
      if (refusals.has(room.id)) {
        text = t("You cannot write to %s: %s", room.name, refusals.get(room.id));
      } else if (blocked?.has(room.peer?.username)) {
        text = t("You block %s: they cannot write to you here.", room.name);
      }
    }
    view.showComposerNote(text);
  }

  // Mute and notifications.

  async function toggleMute() {
    const room = store.room(openId);
    if (!room?.role || muting) return;
    muting = true;
    try {
      store.upsertRoom(await setMuted(room.id, !room.muted));
      clearNotice("mute");
    } catch (error) {
      showNotice("mute", t("Could not change the room's notifications: %s", error.detail));
    } finally {
      muting = false;
    }
  }

  function offerNotifications() {
    view.showNotificationOffer(notificationPermission() === "default");
  }

  async function enableNotifications() {
    const permission = await requestNotifications();
    offerNotifications();
    if (permission === "denied") {
      showNotice("notify", t("Notifications are blocked for Parley in the browser's settings."));
    } else {
      clearNotice("notify");
    }
  }

  /** The Up arrow in an empty composer: edit your newest message still editable. */
  function editLast() {
    const messages = store.log(openId)?.messages() ?? [];
    for (let i = messages.length - 1; i >= 0; i -= 1) {
      const message = messages[i];
      if (message.author.id === me.id && !message.deleted) return view.startEdit(message.seq);
    }
    return false;
  }

  function typing() {
    if (openId === null || !store.room(openId)?.role) return;
    const now = Date.now();
    if (typingSent.room === openId && now - typingSent.at < TYPING_EVERY_MS) return;
    if (sync.typing(openId)) typingSent = { room: openId, at: now };
  }

  function typingStarted(roomId, user) {
    if (!typists.has(roomId)) typists.set(roomId, new Map());
    const inRoom = typists.get(roomId);
    clearTimeout(inRoom.get(user.id)?.timer);
    const timer = setTimeout(() => typingStopped(roomId, user.id), TYPING_MS);
    inRoom.set(user.id, { user, timer });
    if (roomId === openId) renderTyping();
  }

  function typingStopped(roomId, userId) {
    const inRoom = typists.get(roomId);
    const typist = inRoom?.get(userId);
    if (!typist) return;
    clearTimeout(typist.timer);
    inRoom.delete(userId);
    if (roomId === openId) renderTyping();
  }

  function renderTyping() {
    const inRoom = typists.get(openId);
    view.showTyping(inRoom ? [...inRoom.values()].map((typist) => typist.user.display_name) : []);
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
        view.setMembersOpen(false, { refocus: false });
        view.showRoom(shown, { removed: true });
        showNotice("removed", t("You are no longer a member of this room."));
      }
    }
    updateTitle();
    renderMembers();
  });

  store.addEventListener("messages", (event) => {
    const { room, added, live } = event.detail;
    // A send went through: whatever refused the last one no longer does.
    if (refusals.has(room) && added.some((message) => message.author.id === me.id)) {
      refusals.delete(room);
      if (room === openId) updateComposerNote();
    }
    // A typist's message has arrived: they are done typing it.
    if (live) for (const message of added) typingStopped(room, message.author.id);
    if (room !== openId) return;
    // The message being answered was deleted meanwhile: the server would refuse the reply.
    if (replyTo && store.log(room)?.get(replyTo.seq)?.deleted) setReply(null);
    clearNotice("load");
    const incoming = live ? added.filter((message) => message.author.id !== me.id) : [];
    renderTimeline({ incoming: incoming.length > 0 });
    for (const message of incoming) {
      view.announce(t("%s: %s", message.author.display_name, textOf(message)));
    }
    markRead();
  });

  store.addEventListener("presence", (event) => view.refreshPresence(event.detail.user));

  store.addEventListener("pending", (event) => {
    if (event.detail.room === openId) renderTimeline();
  });

  sync.addEventListener("member", (event) => {
    const { room, user, role } = event.detail;
    if (room !== members.room) return;
    if (role === null) members.list.delete(user.username);
    else members.list.set(user.username, { user, role });
    renderMembers();
  });
  sync.addEventListener("sendrefused", (event) => {
    const { room, error } = event.detail;
    if (error.code !== "forbidden" || store.room(room)?.kind !== "direct") return;
    refusals.set(room, error.detail);
    if (room === openId) updateComposerNote();
  });

  connection.addEventListener("state", (event) => view.setConnection(event.detail));
  sync.addEventListener("synced", markRead);
  sync.addEventListener("signedout", () => {
    showNotice("signedout", t("You have been signed out."), { login: true });
  });
  sync.addEventListener("typing", (event) => typingStarted(event.detail.room, event.detail.user));
  sync.addEventListener("refused", (event) => {
    const { kind, error } = event.detail;
    const texts = {
      edit: "Could not edit the message: %s",
      delete: "Could not delete the message: %s",
      react: "Could not react: %s",
    };
    showNotice("action", t(texts[kind], error.detail));
  });
  sync.addEventListener("problem", (event) => {
    const { room, error } = event.detail;
    if (room === null || room !== openId) return;
    showNotice("load", t("Could not load messages: %s", error.detail));
  });

  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
  // Permission can also change in the browser's own settings.
  window.addEventListener("focus", offerNotifications);
  offerNotifications();
  showRoomFromNotification = (roomId) => {
    if (roomId === openId) view.scrollToBottom();
    else if (store.room(roomId)) openRoom(roomId);
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
