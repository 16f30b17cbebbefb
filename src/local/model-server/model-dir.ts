import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ModelLayoutError } from '../errors.ts';

export interface ModelVersion {
  /** The model folder's name, which requests use. */
  readonly name: string;
  readonly version: number;
  /** The version's model.onnx. */
  readonly file: string;
}

const LAYOUT =
  'expected TensorFlow Serving layout <name>/<version>/model.onnx, for example models/iris/1/model.onnx';
const VERSION = /^\d+$/;

/**
 * The version to serve from a model folder in TensorFlow Serving layout: the highest numbered
 * subfolder that holds a model.onnx. Anything else beside it (a SavedModel, other files) is ignored.
 */
export async function findModel(modelDir: string): Promise<ModelVersion> {
  const dir = resolve(modelDir);
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new ModelLayoutError(`model folder ${modelDir} cannot be read; ${LAYOUT}`, { cause: error });
  });
  const versions = entries
    .filter((entry) => entry.isDirectory() && VERSION.test(entry.name))
    .map((entry) => Number(entry.name))
    .sort((a, b) => b - a);
  for (const version of versions) {
    const file = join(dir, String(version), 'model.onnx');
    if (await isFile(file)) return { name: basename(dir), version, file };
  }
  throw new ModelLayoutError(
    `model folder ${modelDir} has no <version>/model.onnx${await hint(dir, versions)}; ${LAYOUT}`,
  );
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** What was found instead, when that tells the user what to change. */
async function hint(dir: string, versions: readonly number[]): Promise<string> {
  if (await isFile(join(dir, 'model.onnx'))) {
    return VERSION.test(basename(dir))
      ? ' (it is a version folder: pass the folder above it)'
      : ` (model.onnx lies directly in it: move it to ${join(dir, '1', 'model.onnx')})`;
  }
  for (const version of versions) {
    if (await isFile(join(dir, String(version), 'saved_model.pb'))) {
      return ` (version ${version} is a TensorFlow SavedModel, which runs only in the cloud; convert it to ONNX, for example with tf2onnx, as ${version}/model.onnx)`;
    }
  }
  return '';
}
