/**
 * Vitest set-up, in every worker: each lab a test starts (through labUp, or a `runbook lab up` it
 * spawns, which inherits the variable) is bound to this worker's process. A worker killed before
 * its afterAll (a timeout, Ctrl-C, kill -9 of the run) leaves no lab server running.
 */
process.env.RUNBOOK_LAB_OWNER_PID = String(process.pid);
