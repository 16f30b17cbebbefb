import * as z from 'zod/mini';
import type { Executions } from '../core/ports/executions.ts';
import { decodeEventKey, startForUploads } from '../core/triggers/inbox.ts';
import { lambdaHandler, logger } from './lambda.ts';

// An S3 event notification (ObjectCreated), as S3 sends it: keys URL-encoded.
const s3Event = z.object({
  Records: z.array(
    z.object({
      s3: z.object({
        bucket: z.object({ name: z.string() }),
        object: z.object({
          key: z.string(),
          size: z.optional(z.number()),
          eTag: z.optional(z.string()),
          versionId: z.optional(z.string()),
          sequencer: z.optional(z.string()),
        }),
      }),
    }),
  ),
});

export const createIngestHandler = (dependencies: () => { readonly executions: Executions }) =>
  lambdaHandler(s3Event, async (event) => {
    const objects = event.Records.map(({ s3 }) => ({
      bucket: s3.bucket.name,
      key: decodeEventKey(s3.object.key),
      size: s3.object.size ?? 0,
      etag: s3.object.eTag ?? '',
      ...(s3.object.versionId !== undefined && { versionId: s3.object.versionId }),
      ...(s3.object.sequencer !== undefined && { sequencer: s3.object.sequencer }),
    }));
    const result = await startForUploads(objects, dependencies().executions);
    logger.info('inbox', {
      started: result.started.length,
      repeated: result.repeated.length,
      skipped: result.skipped,
    });
    return result;
  });
