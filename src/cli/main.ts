import { parseArgs } from 'node:util';
import { PipelineError } from '../core/errors.ts';
import type { SplitType } from '../core/shard/block.ts';
import { SPLIT_TYPES } from '../core/spec/records.ts';
import { checkFiles } from './check.ts';
import { DEFAULT_DATA_DIR, rerunCommand, statusCommand } from './jobs.ts';
import { planCommand } from './plan.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';
import { sweepCommand } from './sweep.ts';
import { upCommand } from './up.ts';
import { type Output, processOutput, UsageError } from './usage.ts';

const HELP = `pipeline: batch inference for TensorFlow models on SageMaker, and the same pipeline on this machine

Usage:
  pipeline run <file...> [options]     run the whole pipeline locally on the files and wait
  pipeline up [options]                the local stack as a service: inbox folder, webhook, nightly
  pipeline status [jobId]              the jobs of a data dir and how they ended
  pipeline rerun <jobId>               run a past job again: same inputs and spec, a new job id
  pipeline serve --model DIR           the local model server alone (TFS REST API, SageMaker contract)
  pipeline check <file...> [options]   read files as the Shard step would and report bad records
  pipeline plan <file...> [options]    what a job would do in the cloud and about what it would cost
  pipeline sweep [options]             find (and with --delete, delete) what stopped runs left behind
  pipeline <command> --help            the options of a command

Exit status: 0 when the job succeeded (check: every record can be scored), 1 when it failed
(check: some records would be quarantined), 2 on a usage error.
`;

const RUN_HELP = `pipeline run <file...> [options]: run the whole pipeline locally on the files and wait

The files are scored by the model with the same state machine and step functions as in the cloud, a
local SageMaker and the local model server (onnxruntime). Results: <out>/<file name>.out (one line per
record, in input order), <out>/_errors.jsonl (records that could not be scored, and why) and
<out>/_summary.json (counts). Progress goes to stderr.

Options:
  --model M          a model folder in TFS layout: <name>/<version>/model.onnx (the highest version serves)
  --job F            a job spec (JSON; see the README); a relative "model" in it is relative to F
  --out DIR          where the results go (default: results/<jobId>, or the data dir's results/<jobId>)
  --data-dir DIR     the folder playing the bucket (default: a fresh temporary one, removed afterwards)
  --model-url URL    score with a running server that speaks the SageMaker container contract
                     (/ping, /invocations), such as TensorFlow Serving's SageMaker image, instead
  --json             print the job's summary as JSON, as the last line of stdout
  -h, --help         this text
`;

const UP_HELP = `pipeline up [options]: the local stack as a long-running service, until Ctrl-C

Over a data dir that plays the bucket: a file dropped into <dir>/inbox/ is scored once its size stops
changing (a sidecar <file>.job.json copied just after it still applies), with the job spec in
<dir>/config/default-job.json; results land in <dir>/results/<jobId>/. The webhook listens on
localhost: POST /runs, signed as the README shows, reruns a job or scores given inputs. The nightly
schedule is <dir>/config/nightly.json: {"schedule": "0 2 * * *", "datasets": [{"name", "prefix", "job"}]}.

Options:
  --data-dir DIR         the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --port N               the webhook's port (default 8080; 0 picks a free one)
  --host H               the address it listens on (default 127.0.0.1)
  --model-url URL        score with a running server that speaks the SageMaker container contract
  --settle-seconds N     how long an inbox job waits for a sidecar before planning (default 2)
  -h, --help             this text

The webhook secret is PIPELINE_WEBHOOK_SECRET, or one made on first start and kept, readable by you
only, in <dir>/config/webhook-secret.
`;

const STATUS_HELP = `pipeline status [jobId] [options]: the jobs of a data dir and how they ended

Without a job id, one line per job (oldest first); with one, that job and where its results are.

Options:
  --data-dir DIR   the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --json           print JSON
  -h, --help       this text
`;

const RERUN_HELP = `pipeline rerun <jobId> [options]: run a past job again, with the same inputs and job spec

The new job gets its own id; its _summary.json names the job it reruns ("rerunOf").

Options:
  --data-dir DIR    the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --out DIR         also copy the results there
  --model-url URL   score with a running server that speaks the SageMaker container contract instead
  --json            print the job's summary as JSON, as the last line of stdout
  -h, --help        this text
`;

const SERVE_HELP = `pipeline serve --model DIR [options]: the local model server alone, like tensorflow_model_server

DIR holds a model in TFS layout, <version>/model.onnx (the highest version serves; its name is DIR's
folder name). It answers GET /ping, POST /invocations, GET /execution-parameters, and the TFS REST API:
POST /v1/models/<name>[/versions/<v>]:predict|classify|regress, GET /v1/models/<name>[/metadata].

Options:
  --model DIR    the model folder
  --port N       the port (default 8080; 0 picks a free one)
  --host H       the address to listen on (default 127.0.0.1)
  -h, --help     this text
`;

const CHECK_HELP = `pipeline check <file...> [options]: read files as the Shard step would and report bad records

Options:
  --content-type T     application/jsonlines (default), application/json, text/csv,
                       application/x-tfrecord, application/x-recordio, or any other type
  --split-type S       Line (default), RecordIO, TFRecord or None
  --input-filter P     a JSONPath filter, as in the job spec's dataProcessing.inputFilter
  --csv-header         the first CSV record is a header
  --max-payload-mb N   the request size limit (maxPayloadInMB, default 6)
  --json               print one JSON summary per file instead of text
  -h, --help           this text

Exit status: 0 when every record can be scored, 1 when some would be quarantined, 2 on a usage error.
`;

const SWEEP_HELP = `pipeline sweep [options]: find what stopped or crashed runs left in a data dir, and delete it

A stopped execution runs no cleanup, and a killed process none either. This finds, older than the
grace period and owned by no running execution (one whose process is still alive):
  - models (and endpoints) the local SageMaker created and nobody deleted, as the scheduled orphan
    sweeper finds them in the cloud;
  - work/<jobId>/ folders, which a lifecycle rule expires in the cloud;
  - half-written files (*.partial) whose writing process has died.
It only lists them (a dry run) unless given --delete.

Options:
  --data-dir DIR          the folder playing the bucket (default ${DEFAULT_DATA_DIR})
  --older-than-hours N    the grace period (default 6); 0 also takes what a job starting right now
                          may have just created
  --delete                delete what is found
  --json                  print what was found (or deleted) and kept, and why, as JSON
  -h, --help              this text

Exit status: 0 whether or not anything was found, 1 when something could not be deleted, 2 on a usage
error.
`;

const PLAN_HELP = `pipeline plan <file...> [options]: what a job would do in the cloud, and about what it would cost

Reads the files as the Shard step would (nothing is written, nothing runs) and tells: the records to
score and those that would be quarantined, the shards, whether a transform job or a serverless endpoint
would score them (a job of fewer records than endpointMaxRecords goes to an endpoint), on which
instances, in how many requests, the packaging of a tfhub: model, and the estimated instance-minutes
and cost. Prices come from the table in src/core/prices.ts, whose date is printed; time is estimated
from --records-per-second, which depends on the model: measure it with pipeline run.

Options:
  --model M                 the model (a tfhub: handle is packaged first)
  --job F                   a job spec (JSON), as for pipeline run
  --data-dir DIR            a data dir whose config/default-job.json applies under --job
  --records-per-second N    records one instance (or the endpoint) scores a second (default 100)
  --json                    print the estimate and each file's counts as JSON
  -h, --help                this text

Exit status: 0, or 2 on a usage error.
`;

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
    run: (values, files, output) => checkCommand(values, files, output),
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
    output.stdout(HELP);
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
    if (error instanceof UsageError || (error instanceof PipelineError && error.name === 'JobSpecError')) {
      output.stderr(`pipeline ${name}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof PipelineError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      output.stderr(`pipeline ${name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

async function checkCommand(
  values: Record<string, unknown>,
  files: string[],
  output: Output,
): Promise<number> {
  if (files.length === 0) throw new UsageError('check needs at least one file');
  const splitType = values['split-type'] as SplitType;
  if (!SPLIT_TYPES.includes(splitType))
    throw new UsageError(`--split-type must be one of ${SPLIT_TYPES.join(', ')}`);
  const maxPayloadMb = Number(values['max-payload-mb']);
  if (!(maxPayloadMb > 0 && maxPayloadMb <= 100))
    throw new UsageError('--max-payload-mb must be a number from 1 to 100');
  const inputFilter = values['input-filter'];
  const results = await checkFiles(files, {
    contentType: String(values['content-type']),
    splitType,
    ...(typeof inputFilter === 'string' && { inputFilter }),
    csvHeader: values['csv-header'] === true,
    maxRecordBytes: Math.floor(maxPayloadMb * 1024 * 1024),
    keep: 10,
  });
  for (const result of results) {
    if (values.json) {
      output.stdout(`${JSON.stringify(result)}\n`);
      continue;
    }
    const { records } = result;
    output.stdout(
      `${result.file}: ${count(records.in, 'record')}, ${records.sent} can be scored, ${records.errors} would be quarantined` +
        `${records.skipped > 0 ? `, ${count(records.skipped, 'empty line')} skipped` : ''}\n`,
    );
    for (const row of result.errors) {
      const where = row.line !== undefined ? `line ${row.line}` : `byte ${row.offset}`;
      output.stdout(`  record ${row.record} (${where}): ${row.reason}\n`);
    }
    if (records.errors > result.errors.length) {
      output.stdout(`  ... and ${records.errors - result.errors.length} more\n`);
    }
  }
  return results.some((result) => result.records.errors > 0) ? 1 : 0;
}

function portOf(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be a port number from 0 to 65535');
  return port;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
