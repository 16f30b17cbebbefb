import { createHash } from 'node:crypto';
import type { Executions } from '../ports/executions.ts';
import { INBOX } from '../steps/layout.ts';

export interface UploadedObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly versionId?: string;
  /**
   * S3's order of the events on a key: the same for an event delivered again, different for every new
   * upload, even of the same bytes (an empty `_SUCCESS` always has the same ETag).
   */
  readonly sequencer?: string;
}

/**
 * How long an inbox job waits before it is planned (a Wait state), so that a sidecar `<input>.job.json`
 * uploaded just after its file is still read, and so that a batch's last parts, uploaded in parallel
 * with its marker, are listed.
 */
export const SIDECAR_GRACE_SECONDS = 15;

/** The file Hadoop and Spark write into an output folder once every part of it is written. */
export const BATCH_MARKER = '_SUCCESS';

export interface InboxResult {
  readonly started: { key: string; executionArn: string }[];
  readonly repeated: { key: string; executionArn: string }[];
  readonly skipped: { key: string; reason: string }[];
}

/** S3 writes keys in event notifications URL-encoded, with '+' for a space. */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * One execution per uploaded object version: the name is derived from the bucket, the key and the
 * version (or ETag), so S3 delivering the same event again, or twice at once, starts nothing more.
 *
 * A file directly under `inbox/` is a job of its own. Files in a folder `inbox/<batch>/` (at any depth)
 * start nothing: the marker `inbox/<batch>/_SUCCESS` starts one job over the whole folder, once. A
 * `_SUCCESS` deeper down starts nothing (the batch's own marker decides), nor does one directly in the
 * inbox. Sidecars (`*.job.json`, a batch's is `inbox/<batch>.job.json`), folder markers and empty files
 * start nothing; a sidecar uploaded up to SIDECAR_GRACE_SECONDS after its file or marker still applies,
 * as the execution waits that long before planning.
 */
export async function startForUploads(
  objects: readonly UploadedObject[],
  executions: Executions,
): Promise<InboxResult> {
  const result: InboxResult = { started: [], repeated: [], skipped: [] };
  for (const object of objects) {
    const job = jobInput(object);
    if ('skipped' in job) {
      result.skipped.push({ key: object.key, reason: job.skipped });
      continue;
    }
    const input = {
      inputs: [job.input],
      source: {
        bucket: object.bucket,
        key: object.key,
        etag: object.etag,
        ...(object.versionId && { versionId: object.versionId }),
      },
      settleSeconds: SIDECAR_GRACE_SECONDS,
    };
    const { executionArn, started } = await executions.start(executionName(object), input);
    (started ? result.started : result.repeated).push({ key: object.key, executionArn });
  }
  return result;
}

/**
 * The batch folder `inbox/<batch>/` an object belongs to, at any depth below it; undefined for an
 * object directly in the inbox or outside it.
 */
export function batchOf(key: string): string | undefined {
  if (!key.startsWith(INBOX)) return undefined;
  const slash = key.indexOf('/', INBOX.length);
  return slash === -1 ? undefined : key.slice(0, slash + 1);
}

/** The input of the job an upload starts: itself, its batch's folder, or none and why. */
function jobInput(object: UploadedObject): { input: string } | { skipped: string } {
  if (!object.key.startsWith(INBOX)) return { skipped: 'not in the inbox' };
  if (object.key.endsWith('/')) return { skipped: 'a folder marker' };
  const batch = batchOf(object.key);
  if (batch !== undefined) {
    if (object.key === `${batch}${BATCH_MARKER}`) return { input: batch };
    if (object.key.endsWith(`/${BATCH_MARKER}`)) {
      return {
        skipped: `a ${BATCH_MARKER} marker inside batch ${batch}: only ${batch}${BATCH_MARKER} starts it`,
      };
    }
    return { skipped: `part of batch ${batch}, waiting for its ${BATCH_MARKER} marker` };
  }
  if (object.key.endsWith('.job.json'))
    return { skipped: 'a job spec sidecar, read when its input is planned' };
  if (object.key === `${INBOX}${BATCH_MARKER}`) {
    return {
      skipped: `a ${BATCH_MARKER} marker outside a batch folder: only ${INBOX}<batch>/${BATCH_MARKER} starts a batch`,
    };
  }
  if (object.size === 0) return { skipped: 'empty' };
  return { input: object.key };
}

/**
 * `inbox-<readable part of the file name (a batch's folder name)>-<hash>`: at most 80 characters of
 * [A-Za-z0-9-_], as Step Functions requires, and the same for the same upload (its version, else its
 * event sequencer, else its ETag).
 */
export function executionName(object: UploadedObject): string {
  const version = object.versionId ?? object.sequencer ?? object.etag.replace(/"/g, '');
  const hash = createHash('sha256')
    .update(`${object.bucket}\n${object.key}\n${version}`)
    .digest('hex')
    .slice(0, 20);
  const parts = object.key.split('/');
  const named = parts.at(-1) === BATCH_MARKER && parts.length > 2 ? parts.at(-2) : parts.at(-1);
  const readable = (named ?? '')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `inbox-${readable ? `${readable}-` : ''}${hash}`;
}
