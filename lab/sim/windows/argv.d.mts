/** Types of argv.mjs: the Microsoft C runtime's argv parsing of a command line. */
export function msvcrtArgv(line: string): string[];
