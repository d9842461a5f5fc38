// One live stream of the signed-in caller's video events, `GET
// /api/v1/events`, read with `fetch` so the bearer token is sent (an
// EventSource cannot send headers) and parsed as Server-Sent Events. The
// server ends the stream when the access token expires; it is reopened
// with a fresh token, after a growing pause when it failed.

import { accessToken, hasSession } from "./session.js";

const FIRST_PAUSE_MS = 1000;
const LONGEST_PAUSE_MS = 30_000;

/**
 * Calls `onEvent(type, data)` for every event until `signal` aborts;
 * `onState("open" | "reconnecting")` reports the connection.
 */
export async function followEvents(onEvent, { signal, onState = () => {} } = {}) {
  let pause = FIRST_PAUSE_MS;
  while (!signal?.aborted && hasSession()) {
    try {
      const response = await fetch("/api/v1/events", {
        headers: { Authorization: `Bearer ${await accessToken()}`, Accept: "text/event-stream" },
        signal,
      });
      if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
      onState("open");
      pause = FIRST_PAUSE_MS;
      await readMessages(response.body, onEvent);
    } catch (error) {
      if (signal?.aborted) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }
  }
}

/** Parses SSE messages from `body` until it ends. */
async function readMessages(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) {
        try {
          onEvent(type, JSON.parse(data.join("\n")));
        } catch {
          // Not JSON: not one of ours.
        }
      }
    }
  }
}
