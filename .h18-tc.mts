import ts from 'typescript';
import { join } from 'node:path';
const REPO = process.cwd();
const file = join(REPO, 'runbooks/leap-second.ts');
const config = ts.readConfigFile(join(REPO, 'tsconfig.json'), ts.sys.readFile);
const options = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO).options;
const mode = process.argv[2];
let t = performance.now();
const opts = { ...options, noEmit: true, typeRoots: [join(REPO, 'node_modules', '@types')] };
if (mode === 'full') {
  const program = ts.createProgram([file], opts);
  console.log('program', Math.round(performance.now() - t)); t = performance.now();
  const d = ts.getPreEmitDiagnostics(program);
  console.log('diags', d.length, Math.round(performance.now() - t), 'files', program.getSourceFiles().length);
} else {
  const o = { ...opts, incremental: true, tsBuildInfoFile: '/tmp/h18-tc.tsbuildinfo' };
  const host = ts.createIncrementalCompilerHost(o);
  const program = ts.createIncrementalProgram({ rootNames: [file], options: o, host });
  console.log('program', Math.round(performance.now() - t)); t = performance.now();
  const d = [...program.getConfigFileParsingDiagnostics(), ...program.getSyntacticDiagnostics(), ...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...program.getSemanticDiagnostics()];
  console.log('diags', d.length, Math.round(performance.now() - t));
  t = performance.now();
  program.emit();
  console.log('emit(buildinfo)', Math.round(performance.now() - t));
}
