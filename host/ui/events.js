// Server-sent events over fetch(). EventSource cannot send an Authorization header and
// the token must never go in a URL, so the stream is read with a reader and parsed here
// (the text/event-stream format: `event:`/`data:` lines, a blank line ends an event,
// lines starting with `:` are keep-alive comments).
//
// When the server has no such stream (404, an older server), the callers fall back to
// polling the REST API; every update says where it came from ("stream" or "poll").

import { ApiError, authHeaders, get, signedOut } from "./api.js";

const FINAL = ["completed", "failed", "cancelled"];

export function isFinal(job) {
  return FINAL.includes(job?.status);
}

/** Parses one event block into { event, data }; null for comments only. */
function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/** Reads the stream at `path`, calling `onEvent(name, parsedData)` per event, until the
 *  server closes it or `signal` aborts. Throws ApiError when the server refuses it. */
export async function readStream(path, onEvent, signal) {
  const response = await fetch(path, {
    headers: authHeaders({ Accept: "text/event-stream" }),
    signal,
    cache: "no-store",
  });
  if (response.status === 401) {
    signedOut();
    throw new ApiError(401, null);
  }
  if (!response.ok || !(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.ok ? 404 : response.status, body);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (!parsed) continue;
      let data = parsed.data;
      try {
        data = JSON.parse(parsed.data);
      } catch {
        // not JSON: passed on as text
      }
      onEvent(parsed.event, data);
    }
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Follows one job until it ends: `handlers.job(job, source, ended)` on every change
 *  (`ended` for the stream's `end`, whose job carries every log line), `handlers.progress({done,total}, source)`, `handlers.log(line, source)`.
 *  Uses `GET /api/v1/scheduler/jobs/{id}/events`; polls `GET /api/v1/scheduler/jobs/{id}`
 *  every second when the server has no stream. */
export async function watchJob(id, handlers, signal) {
  const base = `/api/v1/scheduler/jobs/${encodeURIComponent(id)}`;
  try {
    let ended = false;
    await readStream(`${base}/events`, (event, data) => {
      if (event === "job") handlers.job?.(data, "stream");
      else if (event === "progress") handlers.progress?.(data, "stream");
      else if (event === "log") handlers.log?.(data, "stream");
      else if (event === "end") {
        ended = true;
        handlers.job?.(data, "stream", true);
      }
    }, signal);
    if (ended || signal?.aborted) return;
  } catch (err) {
    if (signal?.aborted) return;
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  // No stream (or it closed early): poll until the job is final.
  while (!signal?.aborted) {
    const { data } = await get(base, undefined, signal);
    handlers.job?.(data, "poll");
    if (isFinal(data)) return;
    await sleep(1000, signal);
  }
}

/** Follows the account's jobs: `onJob(job, source)` whenever one is created, changes
 *  status or progresses. Without a stream, calls `onPoll()` every `everyMs` instead. */
export async function watchJobs(query, onJob, onPoll, signal, everyMs = 3000) {
  const params = new URLSearchParams(query).toString();
  const path = `/api/v1/scheduler/events${params ? `?${params}` : ""}`;
  try {
    await readStream(path, (event, data) => {
      if (event === "job") onJob(data, "stream");
    }, signal);
    return;
  } catch (err) {
    if (signal?.aborted) return;
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  while (!signal?.aborted) {
    await sleep(everyMs, signal);
    if (!signal?.aborted) await onPoll();
  }
}
