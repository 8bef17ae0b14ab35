// System Settings dashboard: "unsaved change" markers, fields disabled while their switch is off, folding
// sections, the unsaved-edit guard, keyboard shortcuts, cron presets, model filters and the highlighted
// category. Everything else is plain forms enhanced by htmx; the page works without this script.
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
    // A disabled field is not submitted, so what it shows is never saved.
    if (setting.classList.contains("is-locked") || setting.classList.contains("is-blocked")) return false;
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
    form.querySelectorAll("[data-section]").forEach((section) => {
      const pill = section.querySelector("[data-section-unsaved]");
      const edited = section.querySelectorAll(".setting.is-edited").length;
      pill.hidden = !edited;
      pill.textContent = edited + " unsaved";
    });
  }

  // --- Fields that depend on a switch (data-depends-on: the switch's column; registry.Category.dependency_of)

  function switchBox(column) {
    return document.getElementById("id_" + column);
  }

  // The nearest switch up the chain that is off (its setting element), or null.
  function blockingSwitch(setting) {
    const seen = new Set();
    let column = setting.dataset.dependsOn;
    while (column && !seen.has(column)) {
      seen.add(column);
      const dependency = document.getElementById("setting-" + column);
      const box = switchBox(column);
      if (!dependency || !box) return null;
      if (!box.checked) return dependency;
      column = dependency.dataset.dependsOn;
    }
    return null;
  }

  function applyDependencies(root) {
    root.querySelectorAll(".setting[data-depends-on]:not(.is-locked)").forEach((setting) => {
      const blocker = blockingSwitch(setting);
      setting.classList.toggle("is-blocked", Boolean(blocker));
      setting.querySelectorAll("input, select, textarea, button").forEach((control) => {
        control.disabled = Boolean(blocker);
      });
      const reason = setting.querySelector("[data-blocked-reason]");
      if (blocker) reason.querySelector("[data-blocked-label]").textContent = blocker.dataset.label;
      reason.hidden = !blocker;
      const input = setting.querySelector("[data-control] input, [data-control] select, [data-control] textarea");
      if (input) {
        const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== reason.id);
        input.setAttribute("aria-describedby", (blocker ? [reason.id, ...ids] : ids).join(" "));
      }
    });
  }

  function refreshAll(root) {
    applyDependencies(root);
    root.querySelectorAll(".setting[data-kind]").forEach(refreshSetting);
    root.querySelectorAll(".settings-form").forEach(refreshSummary);
  }

  function onEdit(event) {
    const setting = event.target.closest(".setting[data-kind]");
    if (!setting) return;
    if (setting.dataset.kind === "bool") {
      // A switch may enable or disable others: re-evaluate the whole form.
      refreshAll(setting.closest("form"));
      return;
    }
    refreshSetting(setting);
    refreshSummary(setting.closest("form"));
  }

  // --- Unsaved edits are never lost silently ------------------------------------------------------------

  // From the values, not the is-edited marks: for 20 ms after a swap, htmx's settling leaves the old card's
  // classes on the new card's settings (a click then would be asked about changes already saved or discarded).
  function unsavedCount() {
    return Array.from(document.querySelectorAll(".settings-form .setting[data-kind]")).filter(isEdited).length;
  }

  // True when there is nothing unsaved, or the administrator agrees to drop it.
  function leaveAllowed() {
    const count = unsavedCount();
    if (!count) return true;
    const title = document.getElementById("category-title");
    return window.confirm("You have " + count + " unsaved change" + (count === 1 ? "" : "s") + " in " +
      (title ? title.textContent : "this category") + ". Leave without saving them?");
  }

  window.addEventListener("beforeunload", (event) => {
    if (unsavedCount()) {
      event.preventDefault();
      event.returnValue = "";  // older browsers need it to show their prompt
    }
  });

  // Opening another category (a link of the list) replaces the card: ask first.
  document.addEventListener("htmx:confirm", (event) => {
    const target = event.detail.target;
    const leavesCard = event.detail.verb === "get" && target && target.id === "category-panel" &&
      !event.detail.elt.closest("#category-panel");
    if (!leavesCard || !unsavedCount()) return;
    event.preventDefault();
    if (leaveAllowed()) {
      event.detail.issueRequest(true);
    } else if (event.detail.elt.matches("[data-category-picker]")) {
      markActiveCategory();  // the picker shows the category still open
    }
  });

  // --- Keyboard: Enter saves (the form's first button), Escape discards after confirming ----------------

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    const form = event.target.closest && event.target.closest(".settings-form");
    if (!form || !unsavedCount()) return;
    event.preventDefault();
    const count = unsavedCount();
    if (window.confirm("Discard " + count + " unsaved change" + (count === 1 ? "" : "s") + "?")) {
      form.querySelector("button[name=action][value=discard]").click();
    }
  });

  // --- Foldable sections keep their state while the card is re-rendered (save, reset, reload) ------------

  const FOLDED_KEY = "settings-folded-sections";

  function foldedSections() {
    try {
      return new Set(JSON.parse(sessionStorage.getItem(FOLDED_KEY) || "[]"));
    } catch (error) {
      return new Set();
    }
  }

  function restoreFolds(root) {
    const folded = foldedSections();
    root.querySelectorAll("[data-section]").forEach((section) => {
      // A section with an error to fix always opens.
      if (folded.has(section.id) && !section.querySelector(".setting.has-error")) section.open = false;
    });
  }

  // Recorded on the summary's click (Enter and Space click it too), not on "toggle", which also fires
  // when a re-rendered section is inserted open.
  document.addEventListener("click", (event) => {
    const summary = event.target.closest("[data-section] > summary");
    if (!summary) return;
    const section = summary.parentElement;
    const folded = foldedSections();
    if (section.open) folded.add(section.id);  // about to fold
    else folded.delete(section.id);
    sessionStorage.setItem(FOLDED_KEY, JSON.stringify([...folded]));
  });

  // --- Long lists of choices (CLIP and face models): a filter above the list ---------------------------

  document.addEventListener("input", (event) => {
    const filter = event.target.closest("[data-option-filter]");
    if (!filter) return;
    const select = document.getElementById(filter.dataset.optionFilter);
    const needle = filter.value.trim().toLowerCase();
    let shown = 0;
    select.querySelectorAll("option").forEach((option) => {
      const group = option.parentElement.label || "";
      const match = !needle || option.selected || (option.textContent + " " + group).toLowerCase().includes(needle);
      option.hidden = !match;
      if (match) shown += 1;
    });
    select.querySelectorAll("optgroup").forEach((group) => {
      group.hidden = !group.querySelector("option:not([hidden])");
    });
    const status = document.getElementById(filter.dataset.optionFilter + "-count");
    if (status) status.textContent = needle ? shown + " of " + select.options.length + " shown" : "";
  });

  // The open category is highlighted and scrolled into view inside the list (which scrolls on its own);
  // the phone's category picker shows it too.
  function markActiveCategory() {
    const panel = document.getElementById("category-panel");
    const slug = panel ? panel.dataset.slug : "";
    document.querySelectorAll(".category-link").forEach((link) => {
      const active = link.dataset.slug === slug;
      link.classList.toggle("active", active);
      if (active) {
        link.setAttribute("aria-current", "page");
        keepInView(link);
      } else {
        link.removeAttribute("aria-current");
      }
    });
    const picker = document.querySelector("[data-category-picker]");
    if (picker && slug) picker.value = slug;
  }

  function keepInView(link) {
    const list = link.closest(".category-list");
    if (!list || list.scrollHeight <= list.clientHeight) return;
    const top = link.offsetTop, bottom = top + link.offsetHeight;
    if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - (list.clientHeight - link.offsetHeight) / 2);
    }
  }

  // The phone's picker opens a category as the list's links do (the unsaved-edit guard included).
  document.addEventListener("change", (event) => {
    const picker = event.target.closest("[data-category-picker]");
    if (!picker || !window.htmx) return;
    const panel = document.getElementById("category-panel");
    if (panel && picker.value === panel.dataset.slug) return;
    window.htmx.ajax("GET", picker.dataset.categoryUrl.replace("__slug__", picker.value),
      { source: picker, target: "#category-panel", swap: "outerHTML" });
  });

  const PHONE = window.matchMedia("(max-width: 860px)");

  // On a phone the search and the full list start folded away: the open category comes first.
  function foldDrawerOnPhones() {
    const drawer = document.querySelector("[data-category-drawer]");
    if (drawer && PHONE.matches && !drawer.dataset.query) drawer.open = false;
  }

  // On a wide screen the list ends at the bottom of the window wherever it starts (below the page header
  // at first, at the top once the column sticks), so its own scrolling reaches every entry.
  let fitPending = false;
  function fitCategoryList() {
    fitPending = false;
    const list = document.getElementById("category-list");
    if (!list) return;
    if (PHONE.matches) {
      list.style.maxHeight = "";
      return;
    }
    const drawer = list.closest("[data-category-drawer]");
    if (drawer) drawer.open = true;
    const top = list.getBoundingClientRect().top;
    list.style.maxHeight = Math.max(160, window.innerHeight - Math.max(top, 0) - 16) + "px";
  }
  function scheduleFit() {
    if (fitPending) return;
    fitPending = true;
    window.requestAnimationFrame(fitCategoryList);
  }
  window.addEventListener("scroll", scheduleFit, { passive: true });
  window.addEventListener("resize", scheduleFit);

  // After opening a category from the list or the picker, keyboard focus moves to its title.
  document.addEventListener("htmx:afterSwap", (event) => {
    const requester = event.detail.requestConfig && event.detail.requestConfig.elt;
    const navigated = event.detail.target && event.detail.target.id === "category-panel" &&
      (event.detail.requestConfig.verb || "get") === "get" && !(requester && requester.closest && requester.closest("#category-panel"));
    const title = document.getElementById("category-title");
    if (navigated && title) title.focus({ preventScroll: true });
    if (navigated && requester && requester.matches && requester.matches("[data-category-picker]")) {
      const url = new URL(window.location.href);
      url.searchParams.set("isOpen", requester.value);
      window.history.pushState({}, "", url);
    }
  });

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
    restoreFolds(document);
    refreshAll(document);
    foldDrawerOnPhones();
    fitCategoryList();
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
    const root = event.detail.elt.isConnected ? event.detail.elt : document;
    restoreFolds(root);
    refreshAll(root);
    fitCategoryList();
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
