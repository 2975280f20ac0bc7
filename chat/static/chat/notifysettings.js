// The notification settings page (accounts/notifications.html): whether this browser
// shows desktop notifications, and a button to ask for them. The levels themselves are
// the page's form, kept on the server.
import { t } from "./i18n.js";
import { notificationPermission, requestNotifications } from "./notify.js";

const status = document.getElementById("notify-permission");
const button = document.getElementById("notify-enable");

function show() {
  const permission = notificationPermission();
  const texts = {
    granted: t("Desktop notifications are on in this browser."),
    denied: t("Notifications are blocked for Parley in the browser's settings."),
    default: t("Desktop notifications are off in this browser."),
    unsupported: t("This browser cannot show desktop notifications."),
  };
  status.textContent = texts[permission];
  button.hidden = permission !== "default";
}

button.addEventListener("click", async () => {
  await requestNotifications();
  show();
  // The button is gone once the browser has asked: focus stays on the page, at the answer.
  if (button.hidden) status.focus();
});
// Permission can also change in the browser's own settings.
window.addEventListener("focus", show);
show();
