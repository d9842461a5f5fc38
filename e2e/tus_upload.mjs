// Uploads a file with tus-js-client (the tus project's JavaScript client)
// in Node and prints what it did as one JSON object: the upload URL and
// the offset after each chunk.
//
//   node tus_upload.mjs FILE TOKEN (--endpoint URL | --url UPLOAD_URL) [--chunk BYTES] [--title T]
//
// With --endpoint a new upload is created there; with --url an existing
// upload (a direct upload, say) is resumed from the offset its HEAD reports.
import fs from "node:fs";
import path from "node:path";
import * as tus from "tus-js-client";

const [file, token, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest[at + 1] : fallback;
};
const endpoint = option("--endpoint");
const uploadUrl = option("--url");
const chunkSize = Number(option("--chunk", String(1 << 20)));
const title = option("--title", "uploaded with tus-js-client");

const size = fs.statSync(file).size;
const progress = [];
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadUrl,
  uploadSize: size,
  chunkSize,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { title, filename: path.basename(file), visibility: "public" },
  retryDelays: [0, 500, 2000],
  onChunkComplete(_chunk, accepted) {
    progress.push(accepted);
  },
  onError(error) {
    console.error(String(error));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, chunks: progress.length, progress, size }));
  },
});
upload.start();
