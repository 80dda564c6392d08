/**
 * Per-host faults the server applies to commands, kept in `hosts/<host>/faults.json` so the CLI
 * (`runbook lab fault`) and the server share them through the file alone.
 */
import { dirname, join } from 'node:path';
import { readTrimmed, writeFileAtomic } from './config.ts';

export interface HostFaults {
  /** Command word → extra seconds before a command using it starts. */
  slow?: Record<string, number>;
  /** Command words whose commands never start and never answer (until the channel is closed). */
  hang?: string[];
  /**
   * Command words that arm `hangAll` when a command using one starts: that command runs, every
   * command after it hangs. Aims a hang at "the next command", whatever it is (a re-read of a
   * status sent before word for word cannot be singled out by its own words).
   */
  hangAfter?: string[];
  /** The lab host whose commands hang once a `hangAfter` command starts here (default: this one). */
  hangAfterOn?: string;
  /** Every command hangs (set by a `hangAfter` command), until the hang faults are lifted. */
  hangAll?: boolean;
  /** One-shot: the next command runs, then its connection is cut before the exit status is sent. */
  dropConnection?: boolean;
}

export function faultsPath(hostDir: string): string {
  return join(hostDir, 'faults.json');
}

export function readFaults(hostDir: string): HostFaults {
  const text = readTrimmed(faultsPath(hostDir));
  return text ? (JSON.parse(text) as HostFaults) : {};
}

export function writeFaults(hostDir: string, faults: HostFaults): void {
  writeFileAtomic(faultsPath(hostDir), JSON.stringify(faults, null, 2) + '\n');
}

/** True when `word` is used as a command word in `command` (`sleep 1; xe vm-list` uses xe). */
export function usesCommand(command: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s;&|(\`/])${escaped}(?=$|[\\s;&|)\`])`).test(command);
}

/**
 * The folder of the host whose commands hang from now on, when `command` (starting on the host in
 * `hostDir`) uses a `hangAfter` word; undefined when it arms nothing.
 */
export function armedBy(hostDir: string, faults: HostFaults, command: string): string | undefined {
  if (!(faults.hangAfter ?? []).some((word) => usesCommand(command, word))) return undefined;
  return faults.hangAfterOn ? join(dirname(hostDir), faults.hangAfterOn) : hostDir;
}

/** What the server should do to this command: run it, delay it, or hang it. */
export function faultFor(faults: HostFaults, command: string): { hang: boolean; delayMs: number } {
  const hang = faults.hangAll === true || (faults.hang ?? []).some((word) => usesCommand(command, word));
  const delays = Object.entries(faults.slow ?? {}).filter(([word]) => usesCommand(command, word));
  const delayMs = Math.max(0, ...delays.map(([, seconds]) => seconds * 1000));
  return { hang, delayMs };
}
