// Real-time HLS (ffmpeg.realtime.enabled): the <video> streams the master playlist, through the vendored hls.js
// where Media Source Extensions exist (the same player everywhere, native HLS or not), else natively (iOS).
// A browser with neither, or a stream that fails (e.g. real-time transcoding was turned off since), keeps or
// falls back to the playback URL.
(() => {
  const video = document.querySelector("video[data-hls-src]");
  if (!video) {
    return;
  }
  const playback = video.getAttribute("src");
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) {
        const position = video.currentTime;
        hls.destroy();
        video.addEventListener("loadedmetadata", () => { video.currentTime = position; }, { once: true });
        video.src = playback;
        video.dataset.player = "playback";
      }
    });
    // Leaving the page ends the session at once (ffmpeg stopped, segments removed); the server also ends
    // sessions nobody asks anything of.
    window.addEventListener("pagehide", () => {
      const session = (hls.levels[0]?.uri || "").match(/\/video\/hls\/([0-9a-f]{32})\//);
      hls.destroy();
      if (session) {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        fetch(video.dataset.hlsSrc.replace(/master\.m3u8$/, session[1]), {
          method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRFToken": csrf },
        });
      }
    }, { once: true });
    video.removeAttribute("src");
    hls.loadSource(video.dataset.hlsSrc);
    hls.attachMedia(video);
    video.dataset.player = "hls.js";
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.addEventListener("error", () => {
      video.src = playback;
      video.dataset.player = "playback";
    }, { once: true });
    video.src = video.dataset.hlsSrc;
    video.dataset.player = "native";
  }
})();
