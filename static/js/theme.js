// The colour theme: the system's (prefers-color-scheme) until the user picks one with the
// header's toggle; the choice is kept in localStorage and applied here, in <head>, before
// the page is painted (a plain script, not a module: modules run only after parsing).
(() => {
  const KEY = "parley:theme";
  const root = document.documentElement;
  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  function apply() {
    let choice = null;
    try {
      choice = localStorage.getItem(KEY);
    } catch {
      // Storage disabled: follow the system.
    }
    if (choice === "light" || choice === "dark") root.dataset.theme = choice;
    else delete root.dataset.theme;
  }

  const shown = () => root.dataset.theme ?? (dark.matches ? "dark" : "light");

  /** The toggle names the other theme; pressed means the dark theme is on. */
  function label(button) {
    const isDark = shown() === "dark";
    const text = isDark ? button.dataset.labelLight : button.dataset.labelDark;
    button.setAttribute("aria-pressed", String(isDark));
    button.title = text;
    button.querySelector("[data-theme-label]").textContent = text;
  }

  apply();
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    label(button);
    button.hidden = false;
    button.addEventListener("click", () => {
      root.dataset.theme = shown() === "dark" ? "light" : "dark";
      try {
        localStorage.setItem(KEY, root.dataset.theme);
      } catch {
        // Not remembered, but this page still switches.
      }
      label(button);
    });
    dark.addEventListener("change", () => label(button));
    // Another tab switched the theme.
    window.addEventListener("storage", (event) => {
      if (event.key !== KEY) return;
      apply();
      label(button);
    });
  });
})();
