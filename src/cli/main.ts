import { Command } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerInit } from './commands/init.js';
import { registerKeys } from './commands/keys.js';
import { registerRemote } from './commands/remote.js';
import { registerStart } from './commands/start.js';
import { registerVerify } from './commands/verify.js';
import { registerRecords } from './commands/records.js';
import { registerDrugs } from './commands/drugs.js';
import { registerOversight } from './commands/oversight.js';

/** The `medchain` command line. */
export function buildProgram(): Command {
  const program = new Command('medchain')
    .description('MedChain (医链): a patient-centred consortium ledger for a county medical alliance')
    .version('0.1.0')
    .showHelpAfterError();
  registerInit(program);
  registerStart(program);
  registerVerify(program);
  registerKeys(program);
  registerRemote(program);
  registerRecords(program);
  registerDrugs(program);
  registerOversight(program);
  registerBench(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
