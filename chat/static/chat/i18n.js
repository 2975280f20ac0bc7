// Every string the client shows, in one place, keyed by its English text (gettext style).
// A translation replaces the values; `%s` placeholders are filled in order.
const STRINGS = {
  // Connection state.
  "Connecting…": "Connecting…",
  "Connected": "Connected",
  "Reconnecting in %s s…": "Reconnecting in %s s…",
  "Connection lost. Reconnecting…": "Connection lost. Reconnecting…",
  "Offline": "Offline",
  "Signed out": "Signed out",
  "You have been signed out.": "You have been signed out.",

  // Rooms.
  "Direct message": "Direct message",
  "(direct message)": "(direct message)",
  "Private room": "Private room",
  "Public room": "Public room",
  "%s unread": "%s unread",
  "You are no longer a member of this room.": "You are no longer a member of this room.",
  "Could not join the room: %s": "Could not join the room: %s",
  "Could not open the conversation: %s": "Could not open the conversation: %s",

  // The conversation.
  "Today": "Today",
  "Yesterday": "Yesterday",
  "Loading messages…": "Loading messages…",
  "Loading earlier messages…": "Loading earlier messages…",
  "This is the start of the conversation.": "This is the start of the conversation.",
  "No messages yet. Say hello!": "No messages yet. Say hello!",
  "Could not load messages: %s": "Could not load messages: %s",
  // Read to screen readers for an incoming message: author, then body.
  "%s: %s": "%s: %s",

  // Sending.
  "Message %s": "Message %s",
  "Messages are limited to %s characters.": "Messages are limited to %s characters.",
  "Sending…": "Sending…",
  "Not sent: %s": "Not sent: %s",
  "Retry": "Retry",
  "Discard": "Discard",

  // The HTTP API.
  "The server could not be reached.": "The server could not be reached.",
  "The server answered with an error (%s).": "The server answered with an error (%s).",
};

/** The text for `message` with each `%s` replaced by the next argument. */
export function t(message, ...args) {
  let next = 0;
  return (STRINGS[message] ?? message).replace(/%s/g, () => String(args[next++] ?? ""));
}
