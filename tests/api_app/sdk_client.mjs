// Calls the pinned @immich/sdk for the Python tests (tests/api_app/test_immich_sdk.py): one JSON command a
// line on stdin, {call, args, key?}, answered by one JSON line on stdout, {ok, data} or {ok: false, status,
// data}. A string "file:<path>" among the arguments is sent as that file's content (a Blob).
import { openAsBlob } from "node:fs";
import { basename } from "node:path";
import readline from "node:readline";
import * as sdk from "@immich/sdk";

const baseUrl = process.env.IMMICH_URL;
sdk.init({ baseUrl, apiKey: process.env.IMMICH_API_KEY });

async function withFiles(value) {
  if (typeof value === "string" && value.startsWith("file:")) {
    const path = value.slice(5);
    return new File([await openAsBlob(path)], basename(path));
  }
  if (Array.isArray(value)) return Promise.all(value.map(withFiles));
  if (value && typeof value === "object") {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await withFiles(v)]));
    return Object.fromEntries(entries);
  }
  return value;
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { call, args, key } = JSON.parse(line);
  let answer;
  try {
    const options = key ? { headers: { "x-api-key": key } } : undefined;
    const data = args == null ? await sdk[call](options) : await sdk[call](await withFiles(args), options);
    answer = { ok: true, data: data instanceof Blob ? { blobSize: data.size, type: data.type } : data ?? null };
  } catch (error) {
    answer = { ok: false, status: error.status ?? null, data: error.data ?? String(error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
