// Unsent text, one draft per room: kept in localStorage under the user and the room, so
// it stays with its room when the user switches rooms or reloads, and is dropped once sent.
const KEY = "parley.draft";

export class Drafts {
  #storage;
  #prefix;

  constructor(userId, storage = window.localStorage) {
    this.#storage = storage;
    this.#prefix = `${KEY}.${userId}.`;
  }

  /** The room's unsent text ("" when none). */
  get(roomId) {
    try {
      return this.#storage.getItem(this.#prefix + roomId) ?? "";
    } catch {
      return "";
    }
  }

  /** Drops every draft of this user: logging out leaves no unsent text in the browser. */
  clear() {
    try {
      const keys = Array.from({ length: this.#storage.length }, (_, i) => this.#storage.key(i));
      for (const key of keys) if (key?.startsWith(this.#prefix)) this.#storage.removeItem(key);
    } catch {
      // Storage disabled: there is nothing kept to drop.
    }
  }

  /** Keeps `text` as the room's draft; empty text drops it. */
  set(roomId, text) {
    try {
      if (text) this.#storage.setItem(this.#prefix + roomId, text);
      else this.#storage.removeItem(this.#prefix + roomId);
    } catch {
      // Storage full or disabled: the draft lives in the composer until the room changes.
    }
  }
}
