import { describe, expect, it } from 'vitest';
import { API, makeProject, runCli } from './helpers.ts';

/** A runbook with a syntax error on line 5 (a missing comma), next to one that is fine. */
const BROKEN = `import { defineRunbook, command, cmd } from '${API}';
export default defineRunbook({
  name: 'broken', summary: 'does not parse',
}).steps([
    command({ id: 'a' title: 'x', run: () => cmd\`true\` }),
  ]);
`;
const FINE = `import { defineRunbook, command, cmd } from '${API}';
export default defineRunbook({ name: 'fine', summary: 'parses' }).steps([command({ id: 'a', title: 'x', run: () => cmd\`true\` })]);
`;

describe('runbook list with a runbook that does not parse', () => {
  it('keeps the file:line:col of the syntax error on the broken runbook\'s line, and lists the rest', async () => {
    const project = makeProject({ 'package.json': '{ "type": "module" }\n', 'runbooks/broken.ts': BROKEN, 'runbooks/fine.ts': FINE });
    const list = await runCli(['list'], { cwd: project });
    expect(list.code).toBe(1);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^broken\s+BROKEN: \S*runbooks\/broken\.ts:5:22: cannot load: syntax error: Expected "}" but found "title"$/);
    expect(lines[1]).toMatch(/^fine\s+parses \(1 steps\)$/);
  });
});
