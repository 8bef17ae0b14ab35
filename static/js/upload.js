// Upload page: every chosen or dropped file goes in its own request (two at a time) so that the page shows
// each file's progress and result, and an overall bar over every byte of the batch.
(function () {
  "use strict";
  const PARALLEL = 2;

  function init() {
    const root = document.getElementById("upload");
    if (!root) return;
    const form = document.getElementById("upload-form");
    const input = document.getElementById("upload-input");
    const overall = document.getElementById("upload-progress");
    const summary = document.getElementById("upload-summary");
    const list = document.getElementById("upload-list");
    const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    const endpoint = root.dataset.endpoint;

    input.addEventListener("change", () => { start(Array.from(input.files)); input.value = ""; });
    form.addEventListener("dragover", (event) => { event.preventDefault(); form.classList.add("over"); });
    form.addEventListener("dragleave", () => form.classList.remove("over"));
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      form.classList.remove("over");
      start(Array.from(event.dataTransfer.files));
    });

    // An XMP sidecar chosen with its photo (photo.jpg.xmp or photo.xmp) goes in the photo's request; one
    // matching no photo is sent on its own, and the server says why it is refused.
    function withSidecars(chosen) {
      const isSidecar = (file) => file.name.toLowerCase().endsWith(".xmp");
      const sidecars = new Map(chosen.filter(isSidecar).map((file) => [file.name.toLowerCase(), file]));
      const paired = chosen.filter((file) => !isSidecar(file)).map((file) => {
        const name = file.name.toLowerCase();
        const stem = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : name;
        const key = sidecars.has(name + ".xmp") ? name + ".xmp" : stem + ".xmp";
        const sidecar = sidecars.get(key) || null;
        sidecars.delete(key);
        return { file, sidecar };
      });
      return paired.concat(Array.from(sidecars.values(), (file) => ({ file, sidecar: null })));
    }

    function start(chosen) {
      if (!chosen.length) return;
      const items = withSidecars(chosen);
      const files = items.map((item) => item.file);
      const total = files.reduce((sum, file) => sum + file.size, 0) || 1;
      const loaded = new Array(files.length).fill(0);
      const counts = { created: 0, duplicate: 0, refused: 0, error: 0 };
      let next = 0, finished = 0;
      overall.hidden = false;
      overall.value = 0;
      summary.textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`;
      root.dataset.state = "uploading";
      const rows = files.map((file, index) => {
        const row = document.createElement("li");
        const name = document.createElement("span");
        const sidecar = items[index].sidecar;
        name.textContent = sidecar ? `${file.name} + ${sidecar.name}` : file.name;  // text, never HTML
        const bar = document.createElement("progress");
        bar.max = 100; bar.value = 0;
        const result = document.createElement("span");
        result.className = "result";
        result.textContent = "Waiting…";
        row.append(name, bar, result);
        list.prepend(row);
        return { row, bar, result };
      });

      function update() { overall.value = Math.round(100 * loaded.reduce((a, b) => a + b, 0) / total); }

      function done(index, status, text) {
        rows[index].row.dataset.status = status;
        rows[index].result.textContent = text;
        rows[index].bar.value = 100;
        loaded[index] = files[index].size;
        counts[status] += 1;
        finished += 1;
        update();
        if (finished === files.length) {
          overall.value = 100;
          root.dataset.state = "done";
          summary.textContent = `Done: ${counts.created} uploaded, ${counts.duplicate} duplicate` +
            `${counts.duplicate === 1 ? "" : "s"} skipped, ${counts.refused + counts.error} refused.`;
        } else {
          send();
        }
      }

      function send() {
        if (next >= files.length) return;
        const index = next++;
        const file = files[index];
        const data = new FormData();
        data.append("files", file, file.name);
        if (items[index].sidecar) data.append("sidecar", items[index].sidecar, items[index].sidecar.name);
        data.append("lastModified", String(file.lastModified || ""));
        const request = new XMLHttpRequest();
        request.open("POST", endpoint);
        request.setRequestHeader("X-CSRFToken", csrf);
        request.setRequestHeader("Accept", "application/json");  // faults (disk full...) answer JSON too
        request.responseType = "json";
        rows[index].result.textContent = "Uploading…";
        request.upload.addEventListener("progress", (event) => {
          if (!event.lengthComputable) return;
          rows[index].bar.value = Math.round(100 * event.loaded / event.total);
          loaded[index] = file.size * event.loaded / event.total;
          update();
        });
        request.addEventListener("load", () => {
          const answer = request.response && request.response.results && request.response.results[0];
          if (request.status !== 200 || !answer) {
            done(index, "error", `Failed: ${(request.response && request.response.message) || "server error " + request.status}`);
          } else if (answer.status === "created") {
            done(index, "created", "Uploaded");
          } else if (answer.status === "duplicate") {
            done(index, "duplicate", "Duplicate: already in your library, not stored again");
          } else {
            done(index, "refused", `Refused: ${answer.reason}`);
          }
        });
        request.addEventListener("error", () => done(index, "error", "Failed: the connection was lost"));
        request.send(data);
      }

      for (let i = 0; i < Math.min(PARALLEL, files.length); i++) send();
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
