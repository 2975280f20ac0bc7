// Threads without DOM: which messages the room's timeline shows, who takes part in a
// thread, and which replies the user has seen (kept per browser in localStorage, under
// the user and the root: the highest reply seq shown in the open thread panel).
// docs/protocol.md, Rules: Threads.
const SEEN_KEY = "parley.thread-seen";

/** The room's timeline shows a message unless it is a thread reply kept in its thread. */
export const inTimeline = (message) => !message.thread_root || Boolean(message.also_in_room);

/** `userId` takes part in `root`'s thread: wrote the root, or is among its repliers. */
export function takesPart(root, userId) {
  if (!root) return false;
  if (root.author?.id === userId) return true;
  return (root.thread?.repliers ?? []).some((user) => user.id === userId);
}

function seenKey(userId, rootId) {
  return `${SEEN_KEY}.${userId}.${rootId}`;
}

/** The highest reply seq of the thread the user has seen in this browser (0: none). */
export function threadSeen(userId, rootId) {
  try {
    return Number(window.localStorage.getItem(seenKey(userId, rootId))) || 0;
  } catch {
    return 0;
  }
}

/** The user has seen the thread's replies up to `seq`; true when that moved the mark. */
export function markThreadSeen(userId, rootId, seq) {
  if (seq <= threadSeen(userId, rootId)) return false;
  try {
    window.localStorage.setItem(seenKey(userId, rootId), String(seq));
  } catch {
    // Storage full or disabled: the mark lives until the page goes.
  }
  return true;
}

/** A root whose thread has replies the user has not seen, in a thread they take part in. */
export function threadUnread(root, userId) {
  const thread = root.thread;
  if (!thread || root.deleted || !takesPart(root, userId)) return false;
  if (thread.repliers[0]?.id === userId) return false; // the newest reply is the user's own
  return thread.last_reply_seq > threadSeen(userId, root.id);
}
