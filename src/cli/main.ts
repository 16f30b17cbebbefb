import { parseArgs } from 'node:util';
import { JobSpecError, PipelineError } from '../core/errors.ts';
import { checkCommand } from './check.ts';
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
import { DEFAULT_DATA_DIR, rerunCommand, statusCommand } from './jobs.ts';
import { packageCommand } from './package.ts';
import { planCommand } from './plan.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';
import { sweepCommand } from './sweep.ts';
import { upCommand } from './up.ts';
import { type Output, processOutput } from './usage.ts';

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
    },
    run: (values, files, output) =>
      runCommand(
        {
          files,
          ...(typeof values.model === 'string' && { model: values.model }),
          ...(typeof values.job === 'string' && { jobFile: values.job }),
          ...(typeof values.out === 'string' && { out: values.out }),
          ...(typeof values['data-dir'] === 'string' && { dataDir: values['data-dir'] }),
          ...(typeof values['model-url'] === 'string' && { modelUrl: values['model-url'] }),
          json: values.json === true,
        },
        output,
      ),
  },
  up: {
    help: UP_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'model-url': { type: 'string' },
      'settle-seconds': { type: 'string', default: '2' },
    },
    run: (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`up takes no file (got ${extra.join(' ')})`);
      const settleSeconds = Number(values['settle-seconds']);
      if (!(settleSeconds >= 0 && settleSeconds <= 3600))
        throw new UsageError('--settle-seconds must be a number from 0 to 3600');
      return upCommand(
        {
          dataDir: String(values['data-dir']),
          port: portOf(values.port),
          host: String(values.host),
          settleSeconds,
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
    run: (values, [jobId, ...extra], output) => {
      if (extra.length > 0) throw new UsageError('status takes at most one job id');
      return statusCommand(String(values['data-dir']), jobId, values.json === true, output);
    },
  },
  rerun: {
    help: RERUN_HELP,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      out: { type: 'string' },
      'model-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    run: (values, [jobId, ...extra], output) => {
      if (jobId === undefined || extra.length > 0) throw new UsageError('rerun takes one job id');
      return rerunCommand(
        {
          dataDir: String(values['data-dir']),
          jobId,
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
    run: (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`serve takes no file (got ${extra.join(' ')}); use --model`);
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError('--port must be a port number from 0 to 65535');
      return serveCommand(
        {
          model: typeof values.model === 'string' ? values.model : undefined,
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
    run: (values, [modelDir, ...extra], output) => {
      if (modelDir === undefined || extra.length > 0) throw new UsageError('package takes one model folder');
      return packageCommand(
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
    run: (values, files, output) =>
      checkCommand(
        {
          files,
          contentType: String(values['content-type']),
          splitType: String(values['split-type']),
          ...(typeof values['input-filter'] === 'string' && { inputFilter: values['input-filter'] }),
          csvHeader: values['csv-header'] === true,
          maxPayloadMb: Number(values['max-payload-mb']),
          json: values.json === true,
        },
        output,
      ),
  },
  plan: {
    help: PLAN_HELP,
    options: {
      model: { type: 'string' },
      job: { type: 'string' },
      'data-dir': { type: 'string' },
      'records-per-second': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    run: (values, files, output) => {
      const rate = values['records-per-second'];
      const recordsPerSecond = rate === undefined ? undefined : Number(rate);
      if (recordsPerSecond !== undefined && !(recordsPerSecond > 0))
        throw new UsageError('--records-per-second must be a number over 0');
      return planCommand(
        {
          files,
          ...(typeof values.model === 'string' && { model: values.model }),
          ...(typeof values.job === 'string' && { jobFile: values.job }),
          ...(typeof values['data-dir'] === 'string' && { dataDir: values['data-dir'] }),
          ...(recordsPerSecond !== undefined && { recordsPerSecond }),
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
    run: (values, extra, output) => {
      if (extra.length > 0) throw new UsageError(`sweep takes no argument (got ${extra.join(' ')})`);
      const olderThanHours = Number(values['older-than-hours']);
      if (!(olderThanHours >= 0 && olderThanHours <= 24 * 365))
        throw new UsageError('--older-than-hours must be a number of hours from 0 to 8760');
      return sweepCommand(
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
    output.stderr(`pipeline: unknown command '${name}' (try --help)\n`);
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
    output.stderr(`pipeline ${name}: ${(error as Error).message}\n\n${command.help}`);
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
      output.stderr(`pipeline ${name}: job spec ${error.message}\n`);
      return 2;
    }
    if (error instanceof PipelineError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      output.stderr(`pipeline ${name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

function portOf(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be a port number from 0 to 65535');
  return port;
}
