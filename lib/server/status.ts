/**
 * What `ghcpw status` reports: gathered in the server (its pool, counters and settings, added to what
 * lib/server/server.ts reports about itself), and printed by the client as a table or as JSON.
 *
 * @module
 */

import type { Compiler } from "../compile/compile.ts";
import { formatDuration } from "../duration.ts";
import { roundedSums } from "../time_sums.ts";
import type { Server } from "./server.ts";

/** Settings of the server that the status shows. */
export interface StatusSettings {
  logFile: string | null;
  idleTimeoutMs: number;
}

/** The pool's and the compiler's part of the status, with the totals a person looks for first. */
export async function statusFields(
  server: Server,
  compiler: Compiler,
  settings: StatusSettings,
): Promise<Record<string, unknown>> {
  const pool = compiler.pool;
  const workers = await Promise.all(pool.workers.map(async (w) => ({
    pid: w.pid,
    // "busy": compiling; "idle": waiting for a request; "between": checked or recycled between requests.
    state: !w.alive ? "dead" : w.serving ? "busy" : pool.isIdle(w) ? "idle" : "between",
    requests: w.requestsServed,
    rssBytes: await w.residentBytes(),
    lastRecycleReason: pool.recycleReasonOf(w),
    share: w.share,
    // What it held after its last request (null before its first).
    ...w.holdings ??
      {
        interfaceSets: null,
        interfaces: null,
        packages: null,
        codePackages: null,
        heap: null,
      },
  })));
  const s = server.stats;
  const memory = Deno.memoryUsage();
  return {
    logFile: settings.logFile,
    idleTimeoutSeconds: settings.idleTimeoutMs / 1000,
    workerLimits: { maxRequests: pool.maxRequests, maxRssBytes: pool.maxRssBytes },
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    workers,
    totals: {
      requests: s.requests,
      warmHits: pool.stats.warmHits,
      // Invocations the server ran on the real ghc: modes workers do not serve, and deferrals.
      fallbacks: compiler.stats.direct + compiler.stats.deferred,
      errors: s.failures + s.timeouts,
      timeouts: s.timeouts,
      cancelled: s.clientsGone,
      workerFailures: pool.stats.workerFailures,
      retries: pool.stats.retries,
      workersStarted: pool.stats.workersStarted,
      workerMs: Math.round(pool.stats.workerMs),
      // Where that time went by the workers' own account (lib/plugin/Ghcpw/Stages.hs): the stages of a
      // request partition the time between the worker reading it and answering, so they sum to a little
      // less than workerMs, which also counts the pipes.
      stagesMs: roundedSums(pool.stats.stagesMs),
      // Collections stop whichever stage is in force: part of the stages' time, not beside it.
      gcMs: Math.round(pool.stats.gcMs),
      // The server's own parts of the requests (see Server.timesMs, PoolStats.poolMs, CompileStats.timesMs).
      serverMs: roundedSums({ ...server.timesMs, ...pool.stats.poolMs, ...compiler.stats.timesMs }),
      rejectedConnections: s.protocolErrors + s.refused + s.mismatched,
    },
    lastRecycle: pool.stats.lastRecycle ?? null,
    pool: { ...pool.stats },
    compile: { ...compiler.stats },
    incremental: compiler.incremental === undefined ? null : {
      byDefault: compiler.incremental.enabled,
      ...compiler.incremental.stats,
      cacheBytes: compiler.incremental.store.sizeBytes,
      cacheLimitBytes: compiler.incremental.store.limitBytes,
      cacheDir: compiler.incremental.store.root,
    },
  };
}

/** Time sums as mean ms per request, largest first: "frontend 40.1, codegen 30.2, ...". */
function perRequest(sums: Record<string, number>, requests: number): string {
  return Object.entries(sums).sort(([, a], [, b]) => b - a)
    .map(([part, ms]) => `${part} ${(ms / requests).toFixed(1)}`).join(", ") + " ms per request";
}

/** A byte count in mebibytes, rounded, for people; "?" when unknown. */
export function mib(bytes: unknown): string {
  return typeof bytes === "number" ? `${Math.round(bytes / 2 ** 20)} MiB` : "?";
}

/** A server's status as a table for people. */
export function formatStatus(status: Record<string, unknown>): string {
  // deno-lint-ignore no-explicit-any
  const s = status as any;
  const lines: string[] = [];
  lines.push(
    `ghcpw ${s.version} server, pid ${s.pid}, up ${formatDuration((s.uptimeSeconds ?? 0) * 1000)}` +
      (s.stopping ? " (stopping)" : ""),
  );
  lines.push(`  socket    ${s.socket}`);
  lines.push(`  key       ${s.key ?? "-"} (GHC ${s.ghcVersion}, ${s.ghc})`);
  lines.push(`  log       ${s.logFile ?? "stderr (foreground)"}`);
  const idle = s.idleTimeoutSeconds > 0 ? formatDuration(s.idleTimeoutSeconds * 1000) : "never";
  const timeout = s.requestTimeoutSeconds > 0 ? formatDuration(s.requestTimeoutSeconds * 1000) : "none";
  lines.push(`  limits    exits after ${idle} idle; request timeout ${timeout}`);
  const limits = s.workerLimits;
  // A server of an earlier ghcpw does not report them.
  if (limits) {
    lines.push(
      `  recycle   a worker after ${limits.maxRequests} requests, or above ${
        mib(limits.maxRssBytes)
      } resident`,
    );
  }
  lines.push(`  memory    ${mib(s.rssBytes)} (server)`);
  const t = s.totals ?? {};
  lines.push(
    `  requests  ${t.requests} (warm hits ${t.warmHits}, fallbacks ${t.fallbacks}, errors ${t.errors}); ` +
      `cancelled ${t.cancelled}, timeouts ${t.timeouts}, worker failures ${t.workerFailures}, ` +
      `rejected connections ${t.rejectedConnections}`,
  );
  // A server of an earlier ghcpw does not report it.
  const served = s.pool?.requests ?? 0;
  if (typeof t.workerMs === "number" && served > 0) {
    lines.push(
      `  workers   ${formatDuration(t.workerMs)} compiling, ${Math.round(t.workerMs / served)} ms per ` +
        `request on average` +
        (typeof t.gcMs === "number" ? `, of which ${Math.round(t.gcMs / served)} ms collecting garbage` : ""),
    );
    for (const [label, sums] of [["stages", t.stagesMs], ["server", t.serverMs]] as const) {
      // A server of an earlier ghcpw does not report them.
      if (sums && Object.keys(sums).length > 0) {
        lines.push(`  ${label.padEnd(9)} ${perRequest(sums, served)}`);
      }
    }
  }
  const inc = s.incremental;
  if (inc) {
    const size = inc.cacheBytes === null ? "not measured yet" : mib(inc.cacheBytes);
    lines.push(
      `  cache     incremental builds ${inc.byDefault ? "on" : "opt-in (GHCPW_INCREMENTAL=1)"}: ` +
        `${inc.builds} builds, ${inc.hits} hits, ${inc.modulesRestored} modules restored, ` +
        `${inc.modulesRecompiled} compiled, ${inc.warningsReplayed} warnings replayed, ` +
        `${inc.redoneClean} builds redone clean; size ${size} of ${mib(inc.cacheLimitBytes)}`,
    );
  } else if (inc === null) {
    lines.push("  cache     incremental builds off (--no-incremental)");
  }
  lines.push("");
  const rows = [[
    "PID",
    "STATE",
    "REQUESTS",
    "RSS",
    "SHARE",
    "IFACE SETS",
    "IFACES",
    "PACKAGES",
    "LIVE",
    "MAX LIVE",
    "HEAP",
    "GCS",
    "ALLOCATED",
    "LAST RECYCLE REASON",
  ]];
  const known = (n: unknown) => typeof n === "number" ? String(n) : "-";
  for (const w of s.workers ?? []) {
    const heap = w.heap ?? {};
    rows.push([
      String(w.pid),
      w.state,
      String(w.requests),
      mib(w.rssBytes),
      w.share || "?",
      known(w.interfaceSets),
      known(w.interfaces),
      Array.isArray(w.packages) ? String(w.packages.length) : "-",
      w.heap ? mib(heap.liveBytes) : "-",
      w.heap ? mib(heap.maxLiveBytes) : "-",
      w.heap ? mib(heap.bytes) : "-",
      w.heap ? String(heap.collections) : "-",
      w.heap ? mib(heap.allocatedBytes) : "-",
      w.lastRecycleReason ?? "-",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) lines.push("  " + row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  for (const w of s.workers ?? []) {
    if (Array.isArray(w.packages) && w.packages.length > 0) {
      lines.push(`  worker ${w.pid} keeps interfaces of: ${w.packages.join(", ")}`);
    }
    if (Array.isArray(w.codePackages) && w.codePackages.length > 0) {
      lines.push(`  worker ${w.pid} keeps loaded code of: ${w.codePackages.join(", ")}`);
    }
  }
  const last = s.lastRecycle;
  if (last) {
    const ago = last.at ? `, ${formatDuration(Date.now() - last.at)} ago` : "";
    lines.push("");
    lines.push(
      `  last recycled worker ${last.pid} (${last.reason}${ago}): ${String(last.detail).split("\n")[0]}`,
    );
    const tail: string[] = last.stderrTail ?? [];
    if (tail.length > 0) {
      lines.push("  its last stderr lines:");
      for (const line of tail.slice(-10)) lines.push(`    ${line}`);
    }
  }
  return lines.join("\n");
}
