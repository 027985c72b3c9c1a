'use strict';
/** Waiting in benchmarks: sleep, and poll a condition until it holds or a deadline passes. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** until resolves once fn() resolves truthy (a throw counts as not yet); it throws naming `what` after timeoutMs. */
async function until(what, fn, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

module.exports = { sleep, until };
