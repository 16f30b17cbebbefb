import { parseArgs } from 'node:util';
import { closestName } from '../core/closest-name.ts';
import { JobSpecError, PipelineError, WHOLE_SPEC } from '../core/errors.ts';
import { SPLIT_TYPES, type SplitType } from '../core/spec/split-types.ts';
import { UsageError } from './errors.ts';
import {
  CHECK_HELP,
  PACKAGE_HELP,
  PIPELINE_HELP,
  PLAN_HELP,
  RERUN_HELP,
  RUN_HELP,
  SERVE_HELP,
  STATUS_HELP,
  SWEEP_HELP,
  UP_HELP,
} from './help.ts';
import { DEFAULT_DATA_DIR, type Output, processOutput } from './usage.ts';

interface Command {
  readonly help: string;
  readonly options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  readonly run: (values: Record<string, unknown>, positionals: string[], output: Output) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    help: RUN_HELP,
    options: {
      model: { type: 'string' },
      job: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      'model-url': { type: 'string' },
      json: { type: 'boolean', default: false },
      timings: { type: 'boolean', default: false },
    },
    run: async (values, files, output) => {
      if (files.length === 0) throw new UsageError('run needs at least one input file or folder');
      return (await import('./run.ts')).runCommand(
        {
          files,
          ...(typeof values.model === 'string' && { model: values.model }),
          ...(typeof values.job === 'string' && { jobFile: values.job }),
          ...(typeof values.out === 'string' && { out: values.out }),
          ...(typeof values['data-dir'] === 'string' && { dataDir: values['data-dir'] }),
          ...(typeof values['model-url'] === 'string' && { modelUrl: values['model-url'] }),
          json: values.json === true,
          timings: values.timings === true,
        },
        output,
      );
    },
  },
  up: {
    help: UP_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'model-url': { type: 'string' },
      'settle-seconds': { type: 'string', default: '2' },
      'grace-seconds': { type: 'string', default: '30' },
    },
    run: async (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`up takes no file (got ${extra.join(' ')})`);
      return (await import('./up.ts')).upCommand(
        {
          dataDir: String(values['data-dir']),
          port: portOf(values.port),
          host: String(values.host),
          settleSeconds: secondsOf('--settle-seconds', values['settle-seconds']),
          graceSeconds: secondsOf('--grace-seconds', values['grace-seconds']),
          ...(typeof values['model-url'] === 'string' && { modelUrl: values['model-url'] }),
        },
        output,
      );
    },
  },
  status: {
    help: STATUS_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      json: { type: 'boolean', default: false },
    },
    run: async (values, [jobId, ...extra], output) => {
      if (extra.length > 0) throw new UsageError('status takes at most one job id');
      return (await import('./jobs.ts')).statusCommand(
        String(values['data-dir']),
        jobId,
        values.json === true,
        output,
      );
    },
  },
  rerun: {
    help: RERUN_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      out: { type: 'string' },
      'model-url': { type: 'string' },
      'new-id': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    run: async (values, [jobId, ...extra], output) => {
      if (jobId === undefined || extra.length > 0) throw new UsageError('rerun takes one job id');
      return (await import('./jobs.ts')).rerunCommand(
        {
          dataDir: String(values['data-dir']),
          jobId,
          newId: values['new-id'] === true,
          json: values.json === true,
          ...(typeof values.out === 'string' && { out: values.out }),
          ...(typeof values['model-url'] === 'string' && { modelUrl: values['model-url'] }),
        },
        output,
      );
    },
  },
  serve: {
    help: SERVE_HELP,
    options: {
      model: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
    },
    run: async (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`serve takes no file (got ${extra.join(' ')}); use --model`);
      if (typeof values.model !== 'string')
        throw new UsageError('serve needs --model <folder or model.tar.gz>');
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError('--port must be a port number from 0 to 65535');
      return (await import('./serve.ts')).serveCommand(
        {
          model: values.model,
          port,
          host: String(values.host),
        },
        output,
      );
    },
  },
  package: {
    help: PACKAGE_HELP,
    options: {
      code: { type: 'string' },
      out: { type: 'string', default: 'model.tar.gz' },
    },
    run: async (values, [modelDir, ...extra], output) => {
      if (modelDir === undefined || extra.length > 0) throw new UsageError('package takes one model folder');
      return (await import('./package.ts')).packageCommand(
        {
          modelDir,
          out: String(values.out),
          ...(typeof values.code === 'string' && { codeDir: values.code }),
        },
        output,
      );
    },
  },
  check: {
    help: CHECK_HELP,
    options: {
      'content-type': { type: 'string', default: 'application/jsonlines' },
      'split-type': { type: 'string', default: 'Line' },
      'input-filter': { type: 'string' },
      'csv-header': { type: 'boolean', default: false },
      'max-payload-mb': { type: 'string', default: '6' },
      json: { type: 'boolean', default: false },
    },
    run: async (values, files, output) => {
      if (files.length === 0) throw new UsageError('check needs at least one file');
      const splitType = String(values['split-type']);
      if (!(SPLIT_TYPES as readonly string[]).includes(splitType))
        throw new UsageError(`--split-type must be one of ${SPLIT_TYPES.join(', ')}`);
      const maxPayloadMb = Number(values['max-payload-mb']);
      if (!(Number.isInteger(maxPayloadMb) && maxPayloadMb >= 1 && maxPayloadMb <= 100))
        throw new UsageError('--max-payload-mb must be a whole number from 1 to 100');
      return (await import('./check.ts')).checkCommand(
        {
          files,
          contentType: String(values['content-type']),
          splitType: splitType as SplitType,
          ...(typeof values['input-filter'] === 'string' && { inputFilter: values['input-filter'] }),
          csvHeader: values['csv-header'] === true,
          maxPayloadMb,
          json: values.json === true,
        },
        output,
      );
    },
  },
  plan: {
    help: PLAN_HELP,
    options: {
      model: { type: 'string' },
      job: { type: 'string' },
      'data-dir': { type: 'string' },
      'records-per-second': { type: 'string' },
      calibrate: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    run: async (values, files, output) => {
      if (files.length === 0) throw new UsageError('plan needs at least one input file or folder');
      if (values.calibrate === true && values['records-per-second'] !== undefined)
        throw new UsageError(
          '--calibrate measures the rate that --records-per-second gives: give one of them',
        );
      const rate = values['records-per-second'];
      const recordsPerSecond = rate === undefined ? undefined : Number(rate);
      if (recordsPerSecond !== undefined && !(recordsPerSecond > 0))
        throw new UsageError('--records-per-second must be a number over 0');
      return (await import('./plan.ts')).planCommand(
        {
          files,
          ...(typeof values.model === 'string' && { model: values.model }),
          ...(typeof values.job === 'string' && { jobFile: values.job }),
          ...(typeof values['data-dir'] === 'string' && { dataDir: values['data-dir'] }),
          ...(recordsPerSecond !== undefined && { recordsPerSecond }),
          calibrate: values.calibrate === true,
          json: values.json === true,
        },
        output,
      );
    },
  },
  sweep: {
    help: SWEEP_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      'older-than-hours': { type: 'string', default: '6' },
      delete: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    run: async (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`sweep takes no argument (got ${extra.join(' ')})`);
      const olderThanHours = Number(values['older-than-hours']);
      if (!(olderThanHours >= 0 && olderThanHours <= 24 * 365))
        throw new UsageError('--older-than-hours must be a number of hours from 0 to 8760');
      return (await import('./sweep.ts')).sweepCommand(
        {
          dataDir: String(values['data-dir']),
          olderThanHours,
          delete: values.delete === true,
          json: values.json === true,
        },
        output,
      );
    },
  },
};

export async function main(argv: readonly string[], output: Output = processOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    output.stdout(PIPELINE_HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    const meant = closestName(name, Object.keys(COMMANDS));
    output.stderr(
      `pipeline: unknown command '${name}'${meant ? `; did you mean ${meant}?` : ''} (try --help)\n`,
    );
    return 2;
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    const meant = meantOption(error, Object.keys(command.options ?? {}));
    output.stderr(`pipeline ${name}: ${(error as Error).message}${meant}\n\n${command.help}`);
    return 2;
  }
  if (parsed.values.help) {
    output.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals, output);
  } catch (error) {
    if (error instanceof UsageError) {
      output.stderr(`pipeline ${name}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof JobSpecError) {
      const where = error.field === WHOLE_SPEC ? 'job spec' : `job spec ${error.field}`;
      output.stderr(`pipeline ${name}: ${where}: ${error.reason}\n`);
      return 2;
    }
    if (error instanceof PipelineError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      output.stderr(`pipeline ${name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

function secondsOf(flag: string, value: unknown): number {
  const seconds = Number(value);
  if (!(seconds >= 0 && seconds <= 3600)) throw new UsageError(`${flag} must be a number from 0 to 3600`);
  return seconds;
}

function portOf(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be a port number from 0 to 65535');
  return port;
}

/** For an option parseArgs does not know, the one of `options` it most likely meant, as a sentence. */
function meantOption(error: unknown, options: readonly string[]): string {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return '';
  const given = /'--?([^'=]+)/.exec((error as Error).message)?.[1];
  const meant = given === undefined ? undefined : closestName(given, options);
  return meant ? `\nDid you mean --${meant}?` : '';
}
