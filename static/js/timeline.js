// Timeline selection, deletion and "add to album", confirmation of destructive forms, and the MapLibre maps of the
// photo pages. Plain DOM, no framework; htmx loads further timeline pages into #timeline.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // Forms with data-confirm ask before submitting (empty trash, delete permanently).
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // A loaded thumbnail replaces its thumbhash placeholder (load events do not bubble: capture them).
  function dropPlaceholder(image) {
    if (image.matches && image.matches(".tile img.thumb")) {
      const placeholder = image.parentElement.querySelector("img.placeholder");
      if (placeholder) placeholder.remove();
    }
  }
  document.addEventListener("load", (event) => dropPlaceholder(event.target), true);
  // This script is deferred: thumbnails that loaded while the page was parsed fired before the listener.
  document.querySelectorAll(".tile img.thumb").forEach((image) => {
    if (image.complete && image.naturalWidth > 0) dropPlaceholder(image);
  });

  function initTimeline(timeline) {
    const selected = new Set();
    let anchor = null; // the last tile clicked, start of a shift-click range
    const bar = document.querySelector("[data-selection-bar]");
    const errorBox = document.querySelector("[data-photos-error]");
    const trashEnabled = timeline.dataset.trashEnabled === "true";
    const tiles = () => Array.from(timeline.querySelectorAll(".tile"));

    function render() {
      tiles().forEach((tile) => tile.classList.toggle("selected", selected.has(tile.dataset.assetId)));
      timeline.classList.toggle("selecting", selected.size > 0);
      bar.hidden = selected.size === 0;
      bar.querySelector("[data-selection-count]").textContent = `${selected.size} selected`;
    }

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = !message;
    }

    function toggle(tile) {
      const id = tile.dataset.assetId;
      if (selected.has(id)) selected.delete(id); else selected.add(id);
      anchor = tile;
    }

    function selectRange(tile) {
      const all = tiles();
      const from = anchor && all.includes(anchor) ? all.indexOf(anchor) : all.indexOf(tile);
      const to = all.indexOf(tile);
      const [start, end] = from <= to ? [from, to] : [to, from];
      all.slice(start, end + 1).forEach((t) => selected.add(t.dataset.assetId));
      anchor = tile;
    }

    timeline.addEventListener("click", (event) => {
      const tile = event.target.closest(".tile");
      if (!tile) return;
      const onCheck = event.target.classList.contains("check");
      if (event.shiftKey) selectRange(tile);
      else if (onCheck || selected.size > 0 || event.ctrlKey || event.metaKey) toggle(tile);
      else return; // a plain click with nothing selected opens the photo
      event.preventDefault();
      render();
    });

    async function post(url, ids, extra) {
      const body = new FormData();
      ids.forEach((id) => body.append("ids", id));
      Object.entries(extra || {}).forEach(([key, value]) => body.append(key, value));
      return fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" });
    }

    function removeTiles(ids) {
      ids.forEach((id) => {
        const tile = timeline.querySelector(`.tile[data-asset-id="${id}"]`);
        if (tile) tile.remove();
        selected.delete(id);
      });
      timeline.querySelectorAll(".justified").forEach((row) => {
        if (row.children.length) return;
        const heading = row.previousElementSibling;
        if (heading && heading.classList.contains("day-heading")) heading.remove();
        row.remove();
      });
    }

    async function deleteSelection(force) {
      const ids = Array.from(selected);
      if (!ids.length) return;
      const count = `${ids.length} item${ids.length === 1 ? "" : "s"}`;
      const extra = {};
      if (force) {
        if (!window.confirm(`Permanently delete ${count}? They will not go to the trash and cannot be restored.`)) return;
        Object.assign(extra, { force: "1", confirmed: "1" });
      } else if (!trashEnabled) {
        if (!window.confirm(`The trash is disabled: permanently delete ${count}? This cannot be undone.`)) return;
        extra.confirmed = "1";
      }
      let response = await post(timeline.dataset.deleteUrl, ids, extra);
      if (response.status === 409) { // the trash was disabled since this page loaded
        const answer = await response.json();
        if (!window.confirm(answer.message)) return;
        response = await post(timeline.dataset.deleteUrl, ids, { ...extra, confirmed: "1" });
      }
      if (!response.ok) { showError(`Delete failed (${response.status}).`); return; }
      showError("");
      removeTiles(ids);
      render();
    }

    async function shareSelection() {
      const ids = Array.from(selected);
      if (!ids.length) return;
      const response = await post(timeline.dataset.shareUrl, ids, {});
      const answer = await response.json();
      if (!response.ok) { showError(answer.message); return; }
      const box = document.querySelector("[data-share-result]");
      box.querySelector("[data-share-link]").value = answer.url;
      box.hidden = false;
    }

    // "Add to album": pick one of the albums the user may add to, or name a new one.
    const picker = document.querySelector("[data-album-picker]");
    const albumChoice = picker && picker.querySelector("[data-album-choice]");
    const newAlbumField = picker && picker.querySelector("[data-new-album-field]");

    async function openAlbumPicker() {
      if (!selected.size) return;
      const response = await fetch(timeline.dataset.albumPickerUrl, { credentials: "same-origin" });
      if (!response.ok) { showError(`Could not list the albums (${response.status}).`); return; }
      const answer = await response.json();
      albumChoice.replaceChildren(new Option("New album…", ""),
        ...answer.albums.map((album) => new Option(`${album.name} (${album.count})`, album.id)));
      newAlbumField.hidden = false;
      picker.hidden = false;
      picker.querySelector("[data-new-album-name]").focus();
    }

    async function addToAlbum() {
      const ids = Array.from(selected);
      const newName = picker.querySelector("[data-new-album-name]").value.trim();
      if (!albumChoice.value && !newName) { showError("Name the new album, or pick an album."); return; }
      const response = await post(timeline.dataset.albumAddUrl, ids,
        albumChoice.value ? { album: albumChoice.value } : { new_name: newName });
      const answer = await response.json();
      if (!response.ok) { showError(answer.message); return; }
      showError("");
      picker.hidden = true;
      const result = document.querySelector("[data-album-result]");
      const link = document.createElement("a");
      link.href = answer.album.url; link.textContent = answer.album.name;
      const already = answer.duplicates ? ` (${answer.duplicates} already there)` : "";
      result.replaceChildren(`Added ${answer.added} to `, link, already);
      result.hidden = false;
      selected.clear(); render();
    }

    if (picker) {
      albumChoice.addEventListener("change", () => { newAlbumField.hidden = Boolean(albumChoice.value); });
      picker.addEventListener("click", (event) => {
        if (event.target.dataset.action === "add-to-album-confirm") addToAlbum();
        if (event.target.dataset.action === "add-to-album-cancel") picker.hidden = true;
      });
    }

    bar.addEventListener("click", (event) => {
      const action = event.target.dataset.action;
      if (action === "clear") { selected.clear(); render(); }
      if (action === "delete") deleteSelection(false);
      if (action === "share") shareSelection();
      if (action === "add-to-album") openAlbumPicker();
    });
    document.addEventListener("click", (event) => {
      if (event.target.dataset.action !== "copy-link") return;
      const input = document.querySelector("[data-share-link]");
      input.select();
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).catch(() => {});
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { selected.clear(); render(); }
      if (event.key === "Delete" && selected.size) { event.preventDefault(); deleteSelection(event.ctrlKey || event.metaKey); }
    });
    // Pages loaded by infinite scroll keep the selection marks.
    document.body.addEventListener("htmx:afterSwap", render);
  }

  // --- Maps (MapLibre GL JS, loaded only on pages with a map) ---------------------------------------
  function styleFor(container) {
    const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    return dark ? container.dataset.darkStyle : container.dataset.lightStyle;
  }

  function initMap(container) {
    if (!window.maplibregl) return;
    const markers = JSON.parse(document.getElementById(container.dataset.markersId).textContent);
    const map = new window.maplibregl.Map({ container, style: styleFor(container), center: [0, 20], zoom: 1,
      attributionControl: true });
    const bounds = new window.maplibregl.LngLatBounds();
    // Markers are [asset id, latitude, longitude], compact for maps of many thousands of photos.
    markers.forEach(([id, lat, lon]) => {
      let options = {}; // no id (the asset's own page): MapLibre's default pin
      if (id) {
        const element = document.createElement("a");
        element.className = "map-marker";
        element.href = `/photos/${id}/`;
        const img = document.createElement("img");
        img.src = `/api/assets/${id}/thumbnail?size=thumbnail`; img.alt = "";
        element.appendChild(img);
        options = { element };
      }
      new window.maplibregl.Marker(options).setLngLat([lon, lat]).addTo(map);
      bounds.extend([lon, lat]);
    });
    if (markers.length) map.fitBounds(bounds, { padding: 60, maxZoom: Number(container.dataset.maxZoom || 14), animate: false });
    if (window.matchMedia) {
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => map.setStyle(styleFor(container)));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const timeline = document.querySelector("[data-timeline]");
    if (timeline) initTimeline(timeline);
    document.querySelectorAll("[data-map]").forEach(initMap);
  });
})();
