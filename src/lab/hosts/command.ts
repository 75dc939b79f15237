import { spawn } from 'node:child_process';
import { CairnError } from '../../core/index.js';
import { DEFAULT_LIMITS } from '../run/limits.js';

/**
 * Runs `ip` and `nft`: the lab's only way to touch the kernel. Every call has a deadline
 * (`commandTimeoutMs`) and a failure is an `IO_ERROR` carrying the command line and its stderr.
 */

/** What a command printed and how it ended. */
export interface CommandResult {
  /** Exit code (null when killed by the deadline). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Runs `command args` and waits for it, feeding `input` on stdin.
 *
 * @returns the result, whatever the exit code
 */
export function runCommand(command: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), DEFAULT_LIMITS.commandTimeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/**
 * Runs a command that must succeed.
 *
 * @throws CairnError `IO_ERROR` naming the command and what it printed on stderr
 */
export async function mustRun(command: string, args: readonly string[], input?: string): Promise<string> {
  const result = await runCommand(command, args, input);
  if (result.code !== 0) {
    throw new CairnError(
      'IO_ERROR',
      `${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || '(no output)'}`,
      { details: { command, args: [...args] } },
    );
  }
  return result.stdout;
}
