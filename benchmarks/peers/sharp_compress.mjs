// Compress files with sharp's own encoders in their own format, reporting bytes and CPU.
// stdin: {"quality": Q, "concurrency": C, "jobs": [{"input": path, "output": path, "format": f}]}
// stdout: {"sizes": [bytes per job, -1 if it failed], "errors": [...], "cpu_seconds": s,
//          "wall_seconds": s}; CPU is this process's (all libvips threads), from the first
//          job on: loading Node and sharp is not counted.
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const sharp = require(process.env.SHARP_MODULE || "sharp");

// One libvips thread per image; the benchmark's concurrency gives the parallelism, as
// pixpress's worker processes do.
sharp.concurrency(1);
sharp.cache(false);

// GIF has no quality in sharp: below 90 the palette shrinks with the quality and the
// inter-frame error grows, above it the input palette is reused (what sharp does by default).
// sharp turns `colours` into a bit depth of 1, 2, 4 or 8, so 16..128 colours all give 16.
function gifOptions(quality) {
  if (quality >= 90) {
    return { reuse: true, interFrameMaxError: Math.max(0, (100 - quality) / 2) };
  }
  const colours = Math.max(16, Math.min(256, Math.round(16 * 2 ** ((quality - 50) / 10))));
  return { reuse: false, colours, interFrameMaxError: (100 - quality) / 5 };
}

function encoder(image, format, quality) {
  switch (format) {
    case "jpeg":
      return image.jpeg({ quality, mozjpeg: true });
    case "png":
      return image.png({ palette: true, quality });
    case "webp":
      return image.webp({ quality });
    case "gif":
      return image.gif(gifOptions(quality));
    case "avif":
      return image.avif({ quality });
    default:
      throw new Error(`unsupported format ${format}`);
  }
}

async function one(job, quality) {
  const animated = job.format === "gif" || job.format === "webp";
  const image = sharp(job.input, { animated, limitInputPixels: false });
  await encoder(image, job.format, quality).toFile(job.output);
  return (await stat(job.output)).size;
}

const request = JSON.parse(readFileSync(0, "utf8"));
const sizes = new Array(request.jobs.length).fill(-1);
const errors = [];
const cpuStart = process.cpuUsage();
const wallStart = process.hrtime.bigint();
let next = 0;
async function lane() {
  while (next < request.jobs.length) {
    const index = next++;
    try {
      sizes[index] = await one(request.jobs[index], request.quality);
    } catch (error) {
      errors.push(`${request.jobs[index].input}: ${error.message}`);
    }
  }
}
await Promise.all(Array.from({ length: Math.max(1, request.concurrency || 1) }, lane));
const cpu = process.cpuUsage(cpuStart);
const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
process.stdout.write(
  JSON.stringify({ sizes, errors, cpu_seconds: (cpu.user + cpu.system) / 1e6, wall_seconds: wall }),
);
