/** File transfer over SFTP: atomic writes (staged, then renamed over the target) and whole-file reads. */
import type { SFTPWrapper } from 'ssh2';
import { stagingPath } from './remote-command.ts';

/**
 * Writes a staging file beside the target, sets its mode, then renames it over the target with
 * OpenSSH's posix-rename, so a connection lost mid-write never leaves a torn file (a half-written
 * grub.conf is an unbootable host). The staging file is removed if anything fails.
 */
export async function sftpWrite(sftp: SFTPWrapper, path: string, data: Buffer, mode: number): Promise<void> {
  const staging = stagingPath(path);
  const step = (call: (done: (error?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => call((error) => (error ? reject(error) : resolve())));
  try {
    await step((done) => sftp.writeFile(staging, data, { mode: 0o600 }, done));
    // open(2)'s mode passes through the umask: set it explicitly before the file becomes visible
    await step((done) => sftp.chmod(staging, mode, done));
    await step((done) => sftp.ext_openssh_rename(staging, path, done));
  } catch (error) {
    await step((done) => sftp.unlink(staging, done)).catch(() => undefined);
    throw error;
  }
}

/** A whole remote file, read over SFTP. */
export function sftpRead(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sftp.readFile(path, (error, data) => (error ? reject(error) : resolve(data)));
  });
}
