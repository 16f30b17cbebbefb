import { parseArgs } from 'node:util';
import { PipelineError } from '../core/errors.ts';
import type { SplitType } from '../core/shard/block.ts';
import { SPLIT_TYPES } from '../core/spec/records.ts';
import { checkFiles } from './check.ts';

const HELP = `pipeline: batch inference for TensorFlow models on SageMaker

Usage:
  pipeline check <file...> [options]   read files as the Shard step would and report bad records

Options for check:
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

class UsageError extends PipelineError {
  override readonly name = 'UsageError';
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`pipeline: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...files] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  try {
    if (command !== 'check') throw new UsageError(`unknown command '${command}' (try --help)`);
    if (files.length === 0) throw new UsageError('check needs at least one file');
    const splitType = values['split-type'] as SplitType;
    if (!SPLIT_TYPES.includes(splitType))
      throw new UsageError(`--split-type must be one of ${SPLIT_TYPES.join(', ')}`);
    const maxPayloadMb = Number(values['max-payload-mb']);
    if (!(maxPayloadMb > 0 && maxPayloadMb <= 100))
      throw new UsageError('--max-payload-mb must be a number from 1 to 100');
    const results = await checkFiles(files, {
      contentType: values['content-type'],
      splitType,
      ...(values['input-filter'] !== undefined && { inputFilter: values['input-filter'] }),
      csvHeader: values['csv-header'],
      maxPayloadBytes: Math.floor(maxPayloadMb * 1024 * 1024),
      keep: 10,
    });
    for (const result of results) {
      if (values.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        continue;
      }
      const { records } = result;
      process.stdout.write(
        `${result.file}: ${count(records.in, 'record')}, ${records.sent} can be scored, ${records.errors} would be quarantined` +
          `${records.skipped > 0 ? `, ${count(records.skipped, 'empty line')} skipped` : ''}\n`,
      );
      for (const row of result.errors) {
        const where = row.line !== undefined ? `line ${row.line}` : `byte ${row.offset}`;
        process.stdout.write(`  record ${row.record} (${where}): ${row.reason}\n`);
      }
      if (records.errors > result.errors.length) {
        process.stdout.write(`  ... and ${records.errors - result.errors.length} more\n`);
      }
    }
    return results.some((result) => result.records.errors > 0) ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof PipelineError && error.name === 'JobSpecError')) {
      process.stderr.write(`pipeline: ${error.message}\n`);
      return 2;
    }
    if (error instanceof PipelineError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`pipeline: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'content-type': { type: 'string', default: 'application/jsonlines' },
      'split-type': { type: 'string', default: 'Line' },
      'input-filter': { type: 'string' },
      'csv-header': { type: 'boolean', default: false },
      'max-payload-mb': { type: 'string', default: '6' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
