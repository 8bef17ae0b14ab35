// The album page: files dropped onto it are uploaded (Immich's POST /api/assets) and added to the album.
// Plain DOM; the page reloads to show them.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function upload(url, file) {
    const body = new FormData();
    body.append("assetData", file, file.name);
    const response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(`${file.name}: ${answer.message || response.status}`);
    return answer.id;
  }

  async function addToAlbum(zone, ids) {
    const body = new FormData();
    ids.forEach((id) => body.append("ids", id));
    body.append("album", zone.dataset.albumId);
    const response = await fetch(zone.dataset.addUrl, { method: "POST", body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || `Adding to the album failed (${response.status}).`);
    return answer;
  }

  function initDrop(zone) {
    const status = zone.querySelector("[data-album-drop-status]");
    zone.addEventListener("dragover", (event) => {
      if (!Array.from(event.dataTransfer.types).includes("Files")) return;
      event.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dropping"));
    zone.addEventListener("drop", async (event) => {
      const files = Array.from(event.dataTransfer.files);
      if (!files.length) return;
      event.preventDefault();
      zone.classList.remove("dropping");
      const ids = [];
      const problems = [];
      for (const [index, file] of files.entries()) {
        status.textContent = `Uploading ${index + 1} of ${files.length}: ${file.name}…`;
        try { ids.push(await upload(zone.dataset.uploadUrl, file)); } catch (error) { problems.push(error.message); }
      }
      try {
        if (ids.length) await addToAlbum(zone, ids);
      } catch (error) { problems.push(error.message); }
      if (problems.length) { status.textContent = `Added ${ids.length}. Not added: ${problems.join("; ")}`; return; }
      window.location.reload();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-album-drop]").forEach(initDrop);
  });
})();
