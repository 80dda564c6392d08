/**
 * xe's error reporting, as xapi's CLI server renders it (xen-api ocaml/xapi-cli-server/xapi_cli.ml
 * `exception_handler`, cli_util.ml `server_error`): an API error prints its documented sentence and
 * then one `name: value` line per parameter on stderr; a usage error prints the message and
 * "For usage run: 'xe help'". Every error exits 1. The sentences are datamodel_errors.ml's.
 */

/** code → [doc sentence, parameter names] (ocaml/idl/datamodel_errors.ml) */
const DOCS = {
  UUID_INVALID: ['The uuid you supplied was invalid.', ['type', 'uuid']],
  HOST_OFFLINE: ['You attempted an operation which involves a host which could not be contacted.', ['host']],
  HOST_STILL_BOOTING: ['The host toolstack is still initialising. Please wait.', []],
  HOST_UNKNOWN_TO_MASTER: ["The master says the host is not known to it. Perhaps the Host was deleted from the master's database? Perhaps the slave is pointing to the wrong master?", ['host']],
  HOST_IS_SLAVE: ['You cannot make regular API calls directly on a slave. Please pass API calls via the master host.', ['Master IP address']],
  HOST_CANNOT_DESTROY_SELF: ['The pool master host cannot be removed.', ['host']],
  HOST_IS_LIVE: ['This operation cannot be completed because the server is still live.', ['host']],
  HOST_HAS_RESIDENT_VMS: ['This server cannot be forgotten because there are user VMs still running.', ['host']],
  HA_IS_ENABLED: ['The operation could not be performed because HA is enabled on the Pool', []],
  HA_NOT_ENABLED: ['The operation could not be performed because HA is not enabled on the Pool', []],
  HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED: ['This operation cannot be performed because the referenced SR is not properly shared. The SR must both be marked as shared and a currently_attached PBD must exist for each host.', ['SR']],
  HA_HOST_CANNOT_ACCESS_STATEFILE: ['The server could not join the liveset because the HA daemon could not access the heartbeat disk.', []],
  VM_BAD_POWER_STATE: ['You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running. The parameters returned are the VM\'s handle, and the expected and actual VM state at the time of the call.', ['vm', 'expected', 'actual']],
  POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS: ['The server joining the pool cannot already be a master of another pool.', []],
  POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS: ['The server joining the pool cannot have any running VMs.', []],
  NO_HOSTS_AVAILABLE: ['There were no hosts available to complete the specified operation.', []],
  BOOTLOADER_FAILED: ['The bootloader returned an error', ['vm', 'msg']],
  VDI_MISSING: ['This operation cannot be performed because the specified VDI could not be found on the storage substrate', ['sr', 'vdi']],
  VBD_IS_EMPTY: ['Operation could not be performed because the drive is empty', ['vbd']],
  OPERATION_NOT_ALLOWED: ['You attempted an operation that was not allowed.', ['reason']],
  INTERNAL_ERROR: ['The server failed to handle your request, due to an internal error. The given message may give details useful for debugging the problem.', ['message']],
};

export class XeError extends Error {
  /** @param {string} text what goes to stderr (without the final newline) @param {string} [stdout] */
  constructor(text, stdout = '') {
    super(text);
    this.stdout = stdout;
  }
}

/** An API error as the CLI prints it: doc sentence, then `param: value` lines. */
export function apiError(code, ...params) {
  const [doc, names] = DOCS[code] ?? [code, []];
  const lines = [doc];
  params.forEach((value, i) => lines.push(`${names[i] ?? '<extra>'}: ${value}`));
  for (let i = params.length; i < names.length; i++) lines.push(`${names[i]}: <unknown>`);
  return new XeError(lines.join('\n'));
}

/** OCaml `failwith` inside a CLI operation: reported as an internal error carrying the text. */
export function failure(message) {
  return apiError('INTERNAL_ERROR', `Failure: ${message}`);
}

/** Parse-level mistakes (xapi_cli.ml param_error). */
export function usageError(kind, detail) {
  return new XeError(`${kind}: ${detail}\nFor usage run: 'xe help'`);
}

export const unknownCommand = (name) => usageError('Unknown command', name);
export const missingParam = (name) => usageError('Required parameter not found', name);
export const invalidUuid = (type, uuid) => apiError('UUID_INVALID', type, uuid);

/**
 * A rejected login, remote (`-s … -pw`) or made by pool-join against its master: xapi_cli.ml turns
 * SESSION_AUTHENTICATION_FAILED into a usage-style message.
 */
export const authenticationFailed = () => new XeError("Authentication failed\nFor usage run: 'xe help'");

/** The xe client when nothing listens on xapi's socket (ocaml/xe-cli/newcli.ml, Unix_error). */
export const xapiDown = () => new XeError('Error: Connection refused (calling connect )');

/**
 * An error code the CLI has no documentation for (storage backend failures): newcli.ml prints
 * "Error code: …" and "Error parameters: …".
 */
export function rawError(code, params) {
  return new XeError(`Error code: ${code}\nError parameters: ${params.join(', ')}`);
}

export const NO_FORCE = 'This operation is dangerous and may cause data loss. This operation must be forced (use --force).';
