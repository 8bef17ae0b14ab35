// System Settings dashboard: "unsaved change" markers, cron presets and the highlighted category.
// Everything else is plain forms enhanced by htmx; the page works without this script.
(function () {
  "use strict";

  function normalise(text) {
    return (text || "").replace(/\r\n/g, "\n");
  }

  // The field's value in the same text form the server writes into data-saved (views._as_text).
  function currentText(setting) {
    const control = setting.querySelector("[data-control]");
    const kind = setting.dataset.kind;
    if (kind === "bool") {
      return control.querySelector("input[type=checkbox]").checked ? "true" : "false";
    }
    if (kind === "multi") {
      return Array.from(control.querySelectorAll("input[type=checkbox]:checked"), (box) => box.value).sort().join(",");
    }
    const input = control.querySelector("input, select, textarea");
    if (kind === "lines") {
      return normalise(input.value).split("\n").map((line) => line.trim()).filter(Boolean).join("\n");
    }
    if (kind === "secret") {
      const clear = setting.querySelector("[data-clear]");
      return input.value ? "new secret" : clear && clear.checked ? "cleared" : "";
    }
    return normalise(input.value);
  }

  function isEdited(setting) {
    if (setting.classList.contains("is-locked")) return false;
    const saved = normalise(setting.dataset.saved);
    const current = currentText(setting);
    if (setting.dataset.kind === "number" && current.trim() !== "" && saved !== "") {
      const a = Number(current), b = Number(saved);
      if (!Number.isNaN(a) && !Number.isNaN(b)) return a !== b;
    }
    return current !== saved;
  }

  function refreshSetting(setting) {
    const edited = isEdited(setting);
    setting.classList.toggle("is-edited", edited);
    const pill = setting.querySelector("[data-unsaved-pill]");
    if (pill) pill.hidden = !edited;
  }

  function refreshSummary(form) {
    const summary = form && form.querySelector("[data-unsaved-summary]");
    if (!summary) return;
    const count = form.querySelectorAll(".setting.is-edited").length;
    summary.textContent = count ? count + " unsaved change" + (count === 1 ? "" : "s") : "";
  }

  function refreshAll(root) {
    root.querySelectorAll(".setting[data-kind]").forEach(refreshSetting);
    root.querySelectorAll(".settings-form").forEach(refreshSummary);
  }

  function onEdit(event) {
    const setting = event.target.closest(".setting[data-kind]");
    if (!setting) return;
    refreshSetting(setting);
    refreshSummary(setting.closest("form"));
  }

  function markActiveCategory() {
    const panel = document.getElementById("category-panel");
    const slug = panel ? panel.dataset.slug : "";
    document.querySelectorAll(".category-link").forEach((link) => {
      const active = link.dataset.slug === slug;
      link.classList.toggle("active", active);
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
  }

  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);

  document.addEventListener("click", (event) => {
    const preset = event.target.closest("[data-cron-preset]");
    if (!preset) return;
    const input = document.getElementById(preset.dataset.target);
    if (!input) return;
    input.value = preset.dataset.cronPreset;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("DOMContentLoaded", () => {
    refreshAll(document);
    markActiveCategory();
  });

  // After Save (or a refused save) the outcome is at the top of the card: bring it into view. Per-field
  // resets and cron previews leave the scroll position alone.
  function revealOutcome() {
    const messages = document.querySelector("#category-panel [data-scroll-here]");
    if (!messages) return;
    const top = messages.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.6) messages.scrollIntoView({ block: "start" });
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    refreshAll(event.detail.elt.isConnected ? event.detail.elt : document);
    markActiveCategory();
    if (event.detail.target && event.detail.target.id === "category-panel") revealOutcome();
  });
})();

// Storage template: choosing a preset fills the Template field, as typing would (the preview and the
// "unsaved" marker follow). The tools are loaded by htmx, so the listener is delegated.
document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-template-preset]");
  const input = select && select.value && document.getElementById(select.dataset.target);
  if (!input || input.disabled || input.readOnly) return;
  input.value = select.value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
});
