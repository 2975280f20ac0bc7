// The chat page's UI state, in one place: which room is shown, which panels are open,
// what the composer answers and which message is being edited. The app and the
// components change it; each component draws from it and keeps no copy of its own.
// (Rooms, messages and pending sends are the Store's, in store.js.)

export class UiState {
  /** The open room's id (null before the first one opens). */
  roomId = null;
  /** The open room as last seen: its header stays when the user is removed from it. */
  room = null;
  /** The user was removed from the open room while it was shown. */
  removed = false;
  /** What the next send answers: a quote {id, seq, author, excerpt, deleted}, or null. */
  replyTo = null;
  /** The seq of the message whose inline editor is open, or null. */
  editing = null;
  /** The seq of the message whose reaction picker is open, or null. */
  picking = null;
  /** The panels: the members panel, the search results, the sidebar as a drawer, the
   * header's list of pinned messages. */
  membersOpen = false;
  pinsOpen = false;
  /** The thread panel, and the id of the root whose thread it shows (or null). */
  threadOpen = false;
  threadRoot = null;
  searchOpen = false;
  sidebarOpen = false;
  /** What the sidebar's filter box holds, folded for matching. */
  filter = "";
  /** The kind of notice showing, so that only what resolves it clears it. */
  notice = null;

  /** The user may post in the open room (a member, not removed). */
  get member() {
    return Boolean(this.room) && this.room.role !== null && !this.removed;
  }

  /** Switches to room `id` (`room` as the store holds it): per-room state starts over. */
  openRoom(id, room) {
    this.roomId = id;
    this.room = room;
    this.removed = false;
    this.notice = null;
  }
}
