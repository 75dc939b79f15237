import { readFileSync } from 'node:fs';

/**
 * Process lifecycle helpers for long-running commands: signals, following the parent's death,
 * bounded waits, and output that is flushed before the process exits.
 */

/** Standard streams and environment of a command, injectable for tests. */
export interface CliIo {
  /** Where results go (one JSON line with `--json`). */
  stdout: NodeJS.WritableStream;
  /** Where messages, progress and errors go. */
  stderr: NodeJS.WritableStream;
  /** Environment variables. */
  env: NodeJS.ProcessEnv;
  /** Working directory for relative paths. */
  cwd: string;
}

/** The process's own streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Writes `text` and resolves once the stream has taken it (so a following exit loses nothing). */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

/** The signals that ask a command to stop: Ctrl-C, a supervisor's stop, a closed terminal. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Calls `handler` on SIGINT, SIGTERM or SIGHUP. Later signals call it again, so the handler must
 * be idempotent (a terminal's Ctrl-C reaches the whole process group, so one Ctrl-C can arrive
 * twice: from the terminal and forwarded by a parent).
 *
 * @returns a function that removes the handlers
 */
export function onStopSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, handler);
  };
}

/**
 * The current parent pid. Node 20's `process.ppid` is read once at startup and never changes, so
 * on Linux this reads `/proc/self/stat` (field 4); elsewhere it falls back to `process.ppid`.
 */
export function currentParentPid(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Field 2 (comm) is in parentheses and may contain spaces; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    return Number.isSafeInteger(ppid) ? ppid : process.ppid;
  } catch {
    return process.ppid;
  }
}

/** Options of {@link watchParent}. */
export interface WatchParentOptions {
  /** The stream whose end means the parent is gone; default `process.stdin`. */
  stdin?: NodeJS.ReadableStream;
  /** How often to compare the parent pid, in ms; default 500. */
  pollMs?: number;
}

/**
 * Calls `onGone` once when the parent process is gone, by three independent signs:
 *
 * 1. stdin ends: the parent holds the write end of our stdin pipe, and the kernel closes it when
 *    the parent dies for any reason, SIGKILL included. This is immediate and is the main sign.
 * 2. the IPC channel disconnects, when the parent spawned us with one.
 * 3. the parent pid changes (we were re-parented to init or a subreaper): a backstop, polled,
 *    for the case where stdin is not a pipe from the parent.
 *
 * Linux has no portable way for a Node process to ask for a parent-death signal
 * (`prctl(PR_SET_PDEATHSIG)` is not exposed), hence these three.
 *
 * @returns a function that stops watching
 */
export function watchParent(onGone: (reason: string) => void, options: WatchParentOptions = {}): () => void {
  const stdin = options.stdin ?? process.stdin;
  const startPpid = currentParentPid();
  let done = false;
  const fire = (reason: string) => {
    if (done) return;
    done = true;
    stop();
    onGone(reason);
  };
  const onEnd = () => fire('stdin closed');
  const onDisconnect = () => fire('IPC channel to the parent closed');
  const onData = () => {};
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.on('close', onEnd);
  stdin.on('error', onEnd);
  stdin.resume();
  const ipc = process.channel !== undefined;
  if (ipc) process.on('disconnect', onDisconnect);
  const timer = setInterval(() => {
    const now = currentParentPid();
    if (now !== startPpid) fire(`parent process ${startPpid} exited (parent is now ${now})`);
  }, options.pollMs ?? 500);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    stdin.off('error', onEnd);
    stdin.pause();
    if (ipc) process.off('disconnect', onDisconnect);
  }
  return () => {
    done = true;
    stop();
  };
}

/**
 * Waits for `promise` at most `ms` milliseconds.
 *
 * @returns `{ done: true, value }`, or `{ done: false }` on timeout; rejects when `promise` does
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
