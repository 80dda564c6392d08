import { describeMarkdown, describeText } from '../report/describe.ts';
import { loadRunbook } from './load-runbook.ts';
import type { Io } from './options.ts';

/** `runbook describe NAME [--format md]`: steps, params and host vars; Markdown is a change-ticket checklist. */
export async function describeCommand(args: { name: string; format: 'text' | 'md' }, io: Io): Promise<number> {
  const runbook = await loadRunbook(args.name, io.cwd);
  io.stdout.write(args.format === 'md' ? describeMarkdown(runbook) : describeText(runbook));
  return 0;
}
