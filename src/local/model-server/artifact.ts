import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ModelLayoutError } from '../errors.ts';
import { extractTarGz } from '../tar/extract.ts';
import { type ModelLayout, readModelLayout } from './model-dir.ts';

/** A model as `--model` gives it, ready to serve; `close` removes what unpacking it wrote. */
export interface ModelArtifact extends ModelLayout {
  close(): Promise<void>;
}

/** What a model.tar.gz may unpack to at most, unless told otherwise. */
export const MAX_UNPACKED_BYTES = 16 * 1024 ** 3;

export interface OpenModelOptions {
  /** The model requests get when they name none (SAGEMAKER_TFS_DEFAULT_MODEL_NAME). */
  readonly defaultModelName?: string;
  readonly maxUnpackedBytes?: number;
}

const ARCHIVE = /\.(tar\.gz|tgz)$/;

/**
 * A model folder, a model root as model.tar.gz lays it out, or the .tar.gz itself, unpacked into a
 * temporary folder. Version folders at the root of a folder take the folder's name; at the root of an
 * archive they are the model `model`, as in the SageMaker TFS container, which unpacks it to /opt/ml/model.
 */
export async function openModel(path: string, options: OpenModelOptions = {}): Promise<ModelArtifact> {
  const info = await stat(path).catch((error: unknown) => {
    throw new ModelLayoutError(`model ${path} does not exist`, { cause: error });
  });
  if (info.isDirectory()) {
    const layout = await readModelLayout(path, basename(path), options.defaultModelName);
    return { ...layout, close: async () => undefined };
  }
  if (!ARCHIVE.test(path)) {
    throw new ModelLayoutError(
      `model ${path} is a file, but not a .tar.gz: give a model folder or a model.tar.gz`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'pipeline-model-'));
  const close = () => rm(root, { recursive: true, force: true });
  try {
    await extractTarGz(path, root, { maxBytes: options.maxUnpackedBytes ?? MAX_UNPACKED_BYTES });
    const layout = await readModelLayout(root, 'model', options.defaultModelName);
    return { ...layout, close };
  } catch (error) {
    await close();
    if (error instanceof ModelLayoutError) {
      throw new ModelLayoutError(error.message.replaceAll(root, `${path}:`), { cause: error });
    }
    throw error;
  }
}
