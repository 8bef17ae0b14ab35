// The reference side of bench/thumbnails.py: the same outputs as our thumbnail job, made with sharp
// (libvips) the way Immich makes them — decode once (upright, shrunk to the preview size), then a JPEG
// 1440 preview, a WebP 250 thumbnail and a thumbhash from that one decoded image.
//
//     node bench/thumbnails-sharp.mjs --workers N --rounds R --preview 1440 --thumbnail 250 --quality 80 FILE...
//
// Prints one JSON line: {"rounds": [{"seconds": s, "cpuSeconds": c, "images": n}, ...]}.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { rgbaToThumbHash } from "thumbhash";

const { values: options, positionals: files } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: "string", default: "2" },
    rounds: { type: "string", default: "2" },
    preview: { type: "string", default: "1440" },
    thumbnail: { type: "string", default: "250" },
    quality: { type: "string", default: "80" },
  },
});
const workers = Number(options.workers);
const quality = Number(options.quality);
// One libvips thread per image and `workers` images in flight, as our bench runs one process per core.
sharp.concurrency(1);
sharp.cache(false);

function shortSide(size) {
  // Fit the shorter side to `size` without enlarging (Immich: fit "outside", withoutEnlargement).
  return { width: size, height: size, fit: "outside", withoutEnlargement: true };
}

async function render(file, folder) {
  const stem = join(folder, basename(file));
  const { data, info } = await sharp(file, { limitInputPixels: false })
    .rotate()
    .resize(shortSide(Number(options.preview)))
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const preview = sharp(data, raw)
    .flatten({ background: "#ffffff" })
    .withIccProfile("srgb")
    .jpeg({ quality, chromaSubsampling: "4:4:4" })
    .toFile(`${stem}-preview.jpeg`);
  const thumbnail = sharp(data, raw)
    .resize(shortSide(Number(options.thumbnail)))
    .withIccProfile("srgb")
    .webp({ quality })
    .toFile(`${stem}-thumbnail.webp`);
  const small = await sharp(data, raw)
    .resize(100, 100, { fit: "inside" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  rgbaToThumbHash(small.info.width, small.info.height, small.data);
  await Promise.all([preview, thumbnail]);
}

async function round(folder, batch) {
  const queue = [...batch];
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (queue.length) await render(queue.shift(), folder);
  }));
  const cpu = process.cpuUsage(cpuStarted);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, images: batch.length };
}

const folder = mkdtempSync(join(tmpdir(), "bench-sharp-"));
try {
  await round(folder, files.slice(0, workers * 2)); // warm up: libvips start-up, ICC profiles
  const rounds = [];
  for (let index = 0; index < Number(options.rounds); index += 1) rounds.push(await round(folder, files));
  console.log(JSON.stringify({ sharp: sharp.versions.sharp, vips: sharp.versions.vips, rounds }));
} finally {
  rmSync(folder, { recursive: true, force: true });
}
