#!/usr/bin/env node
/**
 * What XenServer's open-iscsi init script does to the sessions, for the lab's service tool to call
 * after it flips the service state: `stop` logs every session out; `start` logs in to every node
 * record (node.startup = automatic in the lab's /etc/iscsi/iscsid.conf) whose portal answers.
 * Usage: node lab/sim/xen/iscsi-service.mjs stop|start   (LAB_ROOT and LAB_HOST from the env)
 */
import { addSession, canReach, loadArray } from './storage.mjs';
import { loadHost, updateHost } from './store.mjs';

const [action] = process.argv.slice(2);
const labRoot = process.env.LAB_ROOT ?? '';
const host = process.env.LAB_HOST ?? '';

if (loadHost(labRoot, host) && (action === 'stop' || action === 'start')) {
  const array = loadArray(labRoot);
  updateHost(labRoot, host, (state) => {
    if (action === 'stop') {
      state.iscsi.sessions = [];
      return;
    }
    for (const node of state.iscsi.nodes) {
      const live = state.iscsi.sessions.some((s) => s.portal === node.portal && s.target === node.target && s.visible);
      if (live || !canReach(array, state, node.portal)) continue;
      state.iscsi.sessions = state.iscsi.sessions.filter((s) => s.portal !== node.portal);
      addSession(state, array, node.portal);
    }
  });
}
