// Desktop notifications (the Notification API), only after the user opted in by a click.
// Only for live messages (never catch-up), only while the tab is hidden, never for the
// user's own. Which messages notify is each room's level as the server resolved it
// (chat/notifications.py): `all`, `mentions` (a message that @mentions the user) or
// `nothing`. A thread reply the timeline does not show notifies only someone taking part
// in its thread (the root's author, a replier, someone it mentions), unless the level is
// `nothing`; one also sent to the room notifies them too (docs/protocol.md, Rules: Threads).
// The one-time offer to turn them on is NotificationPrompt.
import { t } from "./i18n.js";
import { takesPart } from "./threadmarks.js";
import { textOf } from "./uploads.js";

const BODY_CHARS = 120;
// Set once the user has answered the offer in this browser (enabled or "Not now").
const PROMPT_ANSWERED = "parley.notifications.prompt";

export const notificationsSupported = () => "Notification" in window;

/** "default" (not asked yet), "granted", "denied", or "unsupported". */
export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

/** Asks for permission; call from a click only. Resolves to the permission now held. */
export async function requestNotifications() {
  if (!notificationsSupported()) return "unsupported";
  try {
    await Notification.requestPermission();
  } catch {
    // Very old browsers take a callback instead of returning a promise; ask no further.
  }
  return Notification.permission;
}

/** A message body as one line of plain text, cut to about BODY_CHARS characters. */
export function notificationBody(body) {
  const line = (body ?? "").replace(/\s+/g, " ").trim();
  const chars = [...line];
  return chars.length > BODY_CHARS ? `${chars.slice(0, BODY_CHARS - 1).join("")}…` : line;
}

/** The level that applies in a room: its own, or what `default` means there. */
export const notifyLevel = (room) => (room.notify === "default" ? room.notify_default : room.notify);

/** A level's name as menus show it. */
export function levelName(level) {
  const names = { all: t("All messages"), mentions: t("Mentions only"), nothing: t("Nothing") };
  return names[level] ?? level;
}

export class Notifier {
  #store;
  #onOpen;

  /** `onOpen(message)` shows a message (its room, or its thread) when its notification is clicked. */
  constructor({ store, onOpen }) {
    this.#store = store;
    this.#onOpen = onOpen;
  }

  /** Whether `message` (from a live frame) deserves a notification right now. */
  wanted(message) {
    if (notificationPermission() !== "granted" || document.visibilityState !== "hidden") return false;
    const room = this.#store.room(message.room);
    if (!room?.role || message.deleted) return false;
    if (message.author?.id === this.#store.me) return false;
    const level = notifyLevel(room);
    const mentioned = (message.mentions ?? []).includes(this.#store.me);
    if (message.thread_root && level !== "nothing") {
      const root = this.#store.log(message.room)?.byId(message.thread_root);
      if (mentioned || takesPart(root, this.#store.me)) return true;
      if (!message.also_in_room) return false;
    }
    return level === "all" || (level === "mentions" && mentioned);
  }

  /** Shows a notification for a live message if it is wanted; returns it (or null). */
  consider(message) {
    if (!this.wanted(message)) return null;
    const room = this.#store.room(message.room);
    const author = message.author.display_name;
    const title = room.kind === "direct" ? author : t("%s in #%s", author, room.name);
    let notification;
    try {
      // The same tag in every tab of the user: the browser shows the message once.
      notification = new Notification(title, {
        body: notificationBody(textOf(message)),
        tag: `parley-message-${message.id}`,
      });
    } catch {
      return null; // e.g. Android Chrome allows only service-worker notifications
    }
    notification.onclick = () => {
      window.focus();
      notification.close();
      this.#onOpen(message);
    };
    return notification;
  }
}

function promptAnswered() {
  try {
    return localStorage.getItem(PROMPT_ANSWERED) !== null;
  } catch {
    return false; // storage refused: the offer stays until the browser has asked
  }
}

function rememberAnswer(answer) {
  try {
    localStorage.setItem(PROMPT_ANSWERED, answer);
  } catch {
    // Nothing to remember it in; the browser's own permission still ends the offer.
  }
}

/**
 * The offer to turn on desktop notifications (the page's #notify-prompt): shown while
 * the browser has not asked and the user has not answered the offer in this browser,
 * so once; "Not now" puts it away for good (the notification settings page can still
 * ask). Every tab of the browser hides it together.
 */
export class NotificationPrompt {
  #root;
  #afterAnswer;

  /** `afterAnswer(permission, {hadFocus})`: permission is null after "Not now". */
  constructor(root, { afterAnswer = () => {} } = {}) {
    this.#root = root;
    this.#afterAnswer = afterAnswer;
    root.querySelector("#notify-enable").addEventListener("click", () => this.#answer(true));
    root.querySelector("#notify-dismiss").addEventListener("click", () => this.#answer(false));
    window.addEventListener("storage", (event) => {
      if (event.key === PROMPT_ANSWERED) this.refresh();
    });
    // Permission can also change in the browser's own settings.
    window.addEventListener("focus", () => this.refresh());
    this.refresh();
  }

  refresh() {
    this.#root.hidden = notificationPermission() !== "default" || promptAnswered();
  }

  async #answer(enable) {
    const hadFocus = this.#root.contains(document.activeElement);
    rememberAnswer(enable ? "asked" : "dismissed");
    const permission = enable ? await requestNotifications() : null;
    this.refresh();
    this.#afterAnswer(permission, { hadFocus });
  }
}
