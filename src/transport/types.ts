/**
 * The connection interface every transport implements (Ansible's exec_command/put_file/fetch_file).
 * Commands arrive as finished shell text; quoting and masking happened before, in src/shell.
 */
export interface ExecOptions {
  /** Bytes fed to the command's standard input, then closed. */
  stdin?: string | Buffer;
  /** Kill the command (close its channel) after this long. */
  timeoutMs?: number;
  /** Run through sudo (`become`). */
  sudo?: boolean;
  env?: Record<string, string>;
  /** Aborting kills the command like a timeout does. */
  signal?: AbortSignal;
  /**
   * Sees the output as it arrives (SSH): what a frame's command printed before its connection was
   * lost still says how it ended (src/engine/executor.ts). A transport that cannot lose a command
   * midway may not call it.
   */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the far side never reported one ("unknown", never taken as 0). */
  code: number | null;
  /** The signal that ended the command, if any (e.g. "KILL", "TERM"). */
  signal: string | null;
  durationMs: number;
  timedOut?: boolean;
}

export interface Transport {
  readonly kind: 'local' | 'ssh';
  /** The inventory host this transport reaches. */
  readonly host: string;
  /** Opens the connection; throws UnreachableError. Idempotent. */
  connect(): Promise<void>;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  put(path: string, data: string | Buffer, mode?: number): Promise<void>;
  get(path: string): Promise<Buffer>;
  /** After a reboot: waits for the old connection to drop, then reconnects with backoff until `timeoutMs`. */
  reconnect(options: { timeoutMs: number; intervalMs?: number }): Promise<void>;
  close(): Promise<void>;
}
