// Desktop notifications (the Notification API), only after the user opted in by a click.
// Only for live messages (never catch-up), only while the tab is hidden, only for a direct
// message or one that mentions the user, never for the user's own and never in a muted room.
import { t } from "./i18n.js";
import { textOf } from "./uploads.js";

const BODY_CHARS = 120;

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

export class Notifier {
  #store;
  #onOpen;

  /** `onOpen(roomId)` shows a room when its notification is clicked. */
  constructor({ store, onOpen }) {
    this.#store = store;
    this.#onOpen = onOpen;
  }

  /** Whether `message` (from a live frame) deserves a notification right now. */
  wanted(message) {
    if (notificationPermission() !== "granted" || document.visibilityState !== "hidden") return false;
    const room = this.#store.room(message.room);
    if (!room?.role || room.muted || message.deleted) return false;
    if (message.author?.id === this.#store.me) return false;
    return room.kind === "direct" || (message.mentions ?? []).includes(this.#store.me);
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
      this.#onOpen(message.room, message.seq);
    };
    return notification;
  }
}
