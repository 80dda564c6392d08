/** Types for ha-daemon.mjs (the HA daemon's xhad.conf on each armed member). */
export declare const DEFAULT_HA_TIMEOUT: number;
export declare function xhadConfPath(labRoot: string, host: string): string;
export declare function deriveTimeouts(timeout: number): [string, number][];
export declare function xhadConfText(db: unknown, hostUuid: string): string;
export declare function syncXhadConf(labRoot: string, db: unknown, host: string, armed: boolean): void;
