/** How each shipped runbook is driven on the lab (as test/runbooks/*.test.ts drive them), with the secrets it needs. */
import { join } from 'node:path';
import type { RunbookLab } from '../runbooks/lab-helpers.ts';

export interface RunbookDrive {
  runbook: string;
  args: (lab: RunbookLab) => string[];
  env?: NodeJS.ProcessEnv;
}

export const RUNBOOK_DRIVES: RunbookDrive[] = [
  { runbook: 'leap-second', args: () => [] },
  { runbook: 'iscsi-reconnect', args: () => [] },
  { runbook: 'iscsi-reverse-reset', args: () => ['-l', 'xs-02'] },
  { runbook: 'hvm-to-pv', args: () => ['--param', 'guestTools=false'] },
  { runbook: 'pv-to-hvm', args: () => [] },
  {
    runbook: 'rebuild-rejoin-host',
    args: (lab) => ['--limit', 'xs-03', '--param', `knownHosts=${join(lab.stateDir, 'known_hosts')}`],
    env: { RUNBOOK_PARAM_poolPassword: 'xenroot' },
  },
  { runbook: 'xenapp-gold-image', args: () => ['-l', 'xenapp-01'] },
  // The lab's XenApp VM runs (no gold sealed yet): the deploy stops at gold-ready, having touched nothing.
  {
    runbook: 'xenapp-clone-deploy',
    args: () => ['-l', 'xenapp-01', '--param', 'goldVm=XenApp', '--param', 'domain=corp.example.com', '--param', 'domainUser=CORP\\joiner'],
    env: { RUNBOOK_PARAM_domainPassword: 'Pa55w0rd' },
  },
  { runbook: 'ha-enable-timeout', args: () => ['--param', 'timeout=90'] },
  { runbook: 'pool-master-failover', args: () => ['--param', 'newMaster=xs-02', '--param', 'mode=planned'] },
  { runbook: 'management-mtu', args: () => [] },
  { runbook: 'vdi-not-found', args: () => ['--limit', 'xs-02', '--param', 'vm=ubuntu-01'] },
  { runbook: 'host-crash-triage', args: () => [] },
];
