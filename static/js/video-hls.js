// Real-time HLS (ffmpeg.realtime.enabled): where the browser has no native HLS, hls.js (vendored) plays the
// master playlist through Media Source Extensions. Browsers with native HLS, or without MSE, keep the
// <video>'s playback URL; so does a player whose stream fails (e.g. real-time transcoding was turned off).
(() => {
  const video = document.querySelector("video[data-hls-src]");
  if (!video || !window.Hls || !Hls.isSupported() || video.canPlayType("application/vnd.apple.mpegurl")) {
    return;
  }
  const playback = video.getAttribute("src");
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) {
      hls.destroy();
      video.src = playback;
    }
  });
  video.removeAttribute("src");
  hls.loadSource(video.dataset.hlsSrc);
  hls.attachMedia(video);
  video.dataset.player = "hls.js";
})();
