// Compress one image with pixpress over gRPC: node compress.mjs INPUT OUTPUT [QUALITY]
//
// PIXPRESS_API_KEY: the key (`pixpress-server keys create`); PIXPRESS_SERVER: host:port
// (default localhost:50051); PIXPRESS_PROTO_DIR: where pixpress/v1/*.proto are (default this
// repository's proto/; from an installed wheel, the `proto` folder beside pixpress/__init__.py).
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const CHUNK_BYTES = 256 * 1024; // well under gRPC's 4 MiB message limit

const [input, output, quality = "80"] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node compress.mjs INPUT OUTPUT [QUALITY]");
  process.exit(2);
}
const server = process.env.PIXPRESS_SERVER || "localhost:50051";
const protoDir =
  process.env.PIXPRESS_PROTO_DIR || fileURLToPath(new URL("../../proto", import.meta.url));

if (!existsSync(join(protoDir, "pixpress", "v1", "compress.proto"))) {
  console.error(`no pixpress/v1/compress.proto under ${protoDir}: set PIXPRESS_PROTO_DIR`);
  process.exit(2);
}
const definition = protoLoader.loadSync("pixpress/v1/compress.proto", {
  includeDirs: [protoDir],
  keepCase: true, // field names as in the .proto: input_size, output_size, action_id
  longs: Number, // uint64 sizes as numbers (exact below 2^53 bytes)
  enums: String, // IMAGE_FORMAT_JPEG, not 1
  defaults: true,
  oneofs: true, // each message says which `payload` it carries
});
const pixpress = grpc.loadPackageDefinition(definition).pixpress.v1;
const client = new pixpress.CompressService(server, grpc.credentials.createInsecure());

const metadata = new grpc.Metadata();
if (process.env.PIXPRESS_API_KEY) {
  metadata.set("authorization", `Bearer ${process.env.PIXPRESS_API_KEY.trim()}`);
}

// One bidirectional stream: options first, then the image in chunks; back come the action
// id, the result, then the compressed image in chunks.
const call = client.Compress(metadata);
const out = createWriteStream(output);
let result;
call.on("data", (response) => {
  if (response.payload === "action_id") console.error(`action ${response.action_id}`);
  else if (response.payload === "result") result = response.result;
  else out.write(response.chunk);
});
const ended = new Promise((resolve, reject) => {
  call.on("end", resolve);
  call.on("error", reject);
});

async function send() {
  call.write({ options: { quality: Number(quality) } });
  for await (const chunk of createReadStream(input, { highWaterMark: CHUNK_BYTES })) {
    // wait while the stream is full, unless the call ends (an error) first
    if (!call.write({ chunk })) await Promise.race([once(call, "drain"), ended]);
  }
  call.end();
}

try {
  await Promise.all([send(), ended]);
} catch (error) {
  // error.code is the gRPC status number; grpc.status maps it to its name
  const name = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code);
  console.error(`${input}: ${name ?? "ERROR"}: ${error.details ?? error.message}`);
  out.destroy();
  rmSync(output, { force: true });
  process.exit(1);
}
out.end();
await finished(out);
client.close();
const saved = 100 * (1 - result.output_size / result.input_size);
console.log(
  `${input}: ${result.format} ${result.input_size} -> ${result.output_size} bytes ` +
    `(${saved.toFixed(1)}% saved, quality ${result.quality}, action ${result.action_id})`,
);
