import { parseArgs } from 'node:util';
import { describeError, Rng } from '../../core/index.js';
import { MEMBERSHIP_PRESETS, type MembershipPreset } from '../../node/config-fields.js';
import { NEMESIS_KINDS, type NemesisKind } from '../nemesis/faults.js';
import { DEFAULT_LIMITS } from './limits.js';
import { recheck } from './recheck.js';
import { type LabOptions, type LabReport, runLab, WORKLOADS, type WorkloadName } from './run-lab.js';

/**
 * `npm run lab -- <workload> [flags]`: parses the command line, runs the lab with progress on
 * stderr, prints the result on stdout (text, or one JSON object with `--json`).
 *
 * Exit codes: 0 valid; 1 a violation or a failed run; 2 a bad command line; 3 the lab cannot run
 * here (not root, no namespaces, no nft), said in one line; 130 interrupted.
 */

export const LAB_HELP = `usage: npm run lab -- <workload> [flags]

workloads: ${WORKLOADS.join(', ')}

  --nodes N          agents, each in its own network namespace (default 3, at most ${DEFAULT_LIMITS.maxNodes})
  --nemesis LIST     faults, comma-separated: ${NEMESIS_KINDS.join(',')} (default all; "none" for none)
  --duration S       seconds of faults (default 60)
  --seed S           root seed of the schedule (default random, printed)
  --loss P           loss rate of a loss fault, percent (default 10)
  --preset NAME      agents' membership preset: ${MEMBERSHIP_PRESETS.join(', ')} (default local)
  --max-skew-ms MS   largest clock skew (default 60000)
  --log-dir DIR      where the run's log directory is made (default $TMPDIR/cairn-lab-runs)
  --json             the result as one JSON object on stdout

usage: npm run lab -- check <log dir> [--shadow-ms MS] [--detect-bound-ms MS] [--suspicion-window-ms MS] [--json]
  checks a finished run's saved history (history.json) again, without running anything
`;

/** A command line error: printed with the usage, exit 2. */
export class LabUsageError extends Error {}

function int(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new LabUsageError(`--${name} must be an integer ${min}-${max}, got "${text}"`);
  return n;
}

/** The options of a command line (without progress and signal). */
export function parseLabArgs(
  args: readonly string[],
): (Omit<LabOptions, 'progress' | 'signal'> & { json: boolean }) | 'help' {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        nodes: { type: 'string' },
        nemesis: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        loss: { type: 'string' },
        preset: { type: 'string' },
        'max-skew-ms': { type: 'string' },
        'log-dir': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new LabUsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help === true) return 'help';
  const [workload, ...rest] = parsed.positionals;
  if (workload === undefined) throw new LabUsageError(`name a workload: ${WORKLOADS.join(', ')}`);
  if (!(WORKLOADS as readonly string[]).includes(workload)) {
    throw new LabUsageError(`unknown workload "${workload}"; the lab has ${WORKLOADS.join(', ')}`);
  }
  if (rest.length > 0) throw new LabUsageError(`unexpected argument "${rest[0]}"`);
  const nemesisText = (v.nemesis as string | undefined) ?? NEMESIS_KINDS.join(',');
  const nemesis =
    nemesisText === 'none'
      ? []
      : [
          ...new Set(
            nemesisText
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
          ),
        ];
  for (const k of nemesis) {
    if (!(NEMESIS_KINDS as readonly string[]).includes(k)) {
      throw new LabUsageError(
        `unknown fault "${k}" in --nemesis; the faults are ${NEMESIS_KINDS.join(', ')}`,
      );
    }
  }
  const preset = (v.preset as string | undefined) ?? 'local';
  if (!(MEMBERSHIP_PRESETS as readonly string[]).includes(preset)) {
    throw new LabUsageError(`--preset must be one of ${MEMBERSHIP_PRESETS.join(', ')}, got "${preset}"`);
  }
  const logDir = v['log-dir'] as string | undefined;
  return {
    workload: workload as WorkloadName,
    nodes: int('nodes', v.nodes as string | undefined, 3, 1, DEFAULT_LIMITS.maxNodes),
    nemesis: nemesis as NemesisKind[],
    durationS: int('duration', v.duration as string | undefined, 60, 0, DEFAULT_LIMITS.maxDurationS),
    seed: int('seed', v.seed as string | undefined, Rng.randomSeed(), 0, Number.MAX_SAFE_INTEGER),
    lossPercent: int('loss', v.loss as string | undefined, 10, 1, 100),
    preset: preset as MembershipPreset,
    maxSkewMs: int('max-skew-ms', v['max-skew-ms'] as string | undefined, 60_000, 1000, 86_400_000),
    ...(logDir === undefined ? {} : { logRoot: logDir }),
    json: v.json === true,
  };
}

function figureLines(figures: Record<string, unknown>, indent = '  '): string[] {
  return Object.entries(figures).map(([k, value]) =>
    typeof value === 'object' && value !== null
      ? `${indent}${k}: ${
          Object.entries(value)
            .map(([a, b]) => `${a} ${String(b)}`)
            .join(', ') || '-'
        }`
      : `${indent}${k}: ${String(value)}`,
  );
}

/** The result as text for a person. */
export function formatReport(r: LabReport): string {
  const lines: string[] = [];
  const what = r.seed >= 0 ? `${r.workload}, seed ${r.seed}` : r.workload;
  switch (r.outcome) {
    case 'unavailable':
      return `lab skipped: ${r.error}\n`;
    case 'valid':
      lines.push(`result: VALID (${what})`);
      break;
    case 'invalid': {
      const v = r.violations[0]!;
      lines.push(`result: INVALID (${what}): ${r.violations.length} violation(s)`);
      lines.push(`first violation [${v.kind}] at ${(v.at / 1000).toFixed(1)}s: ${v.message}`);
      if (v.around.length > 0) lines.push('events around it:');
      for (const e of v.around) lines.push(`  ${(e.at / 1000).toFixed(3).padStart(9)}s ${e.text}`);
      break;
    }
    case 'failed':
    case 'aborted':
      lines.push(`result: ${r.outcome.toUpperCase()} (${what}): ${r.error}`);
      break;
  }
  lines.push('figures:', ...figureLines(r.figures));
  if (r.cleanupProblems.length > 0) lines.push(`cleanup problems: ${r.cleanupProblems.join('; ')}`);
  lines.push(`log: ${r.logDir}`, `repeat: ${r.command}`);
  return `${lines.join('\n')}\n`;
}

/** Exit code of a report. */
export function exitCode(r: LabReport): number {
  switch (r.outcome) {
    case 'valid':
      return 0;
    case 'invalid':
    case 'failed':
      return 1;
    case 'aborted':
      return 130;
    case 'unavailable':
      return 3;
  }
}

/** `check <dir>`: re-checks a saved run. */
function checkMain(args: readonly string[]): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        'shadow-ms': { type: 'string' },
        'detect-bound-ms': { type: 'string' },
        'suspicion-window-ms': { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    if (parsed.positionals.length !== 1) throw new LabUsageError('check takes one log directory');
  } catch (err) {
    process.stderr.write(`lab: ${(err as Error).message}\n\n${LAB_HELP}`);
    return 2;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const overrides: { shadowMs?: number; detectBoundMs?: number; suspicionWindowMs?: number } = {};
  try {
    if (v['shadow-ms'] !== undefined)
      overrides.shadowMs = int('shadow-ms', v['shadow-ms'] as string, 0, 0, 86_400_000);
    if (v['detect-bound-ms'] !== undefined) {
      overrides.detectBoundMs = int('detect-bound-ms', v['detect-bound-ms'] as string, 0, 0, 86_400_000);
    }
    if (v['suspicion-window-ms'] !== undefined) {
      const text = v['suspicion-window-ms'] as string;
      overrides.suspicionWindowMs = int('suspicion-window-ms', text, 0, 0, 86_400_000);
    }
  } catch (err) {
    process.stderr.write(`lab: ${(err as Error).message}\n`);
    return 2;
  }
  let report: LabReport;
  try {
    report = recheck(parsed.positionals[0]!, overrides);
  } catch (err) {
    process.stderr.write(`lab: ${describeError(err)}\n`);
    return 1;
  }
  process.stdout.write(v.json === true ? `${JSON.stringify(report)}\n` : formatReport(report));
  return exitCode(report);
}

/** Runs the command line; returns the exit code. */
export async function labMain(args: readonly string[]): Promise<number> {
  if (args[0] === 'check') return checkMain(args.slice(1));
  let options: ReturnType<typeof parseLabArgs>;
  try {
    options = parseLabArgs(args);
  } catch (err) {
    if (!(err instanceof LabUsageError)) throw err;
    process.stderr.write(`lab: ${err.message}\n\n${LAB_HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(LAB_HELP);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nlab: ${signal}: healing and tearing down\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { json, ...rest } = options;
    const report = await runLab({
      ...rest,
      progress: (line) => process.stderr.write(`${line}\n`),
      signal: stop.signal,
    });
    process.stdout.write(json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return exitCode(report);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
