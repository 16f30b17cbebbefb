import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { ModelLayoutError } from '../errors.ts';

/** One version of a model: the number requests use, and its model.onnx. */
export interface ModelVersion {
  readonly version: number;
  readonly file: string;
}

export interface ServedModel {
  /** The name requests use: the folder holding the version folders. */
  readonly name: string;
  /** Every version, highest first: all of them serve, the first when a request names none. */
  readonly versions: readonly ModelVersion[];
}

/** What a model root (a model folder, or what a model.tar.gz unpacks to) holds. */
export interface ModelLayout {
  readonly models: readonly ServedModel[];
  /** The model a request that names none gets. */
  readonly defaultModel: ServedModel;
  /** `code/`, when it holds an inference.py. */
  readonly codeDir?: string;
}

const LAYOUT =
  'expected TensorFlow Serving layout <name>/<version>/model.onnx, for example models/iris/1/model.onnx, ' +
  'or what a model.tar.gz holds: <version>/ or <name>/<version>/ folders and an optional code/';
const VERSION = /^\d+$/;
const MODEL_FILES = ['model.onnx', 'saved_model.pb'];

/**
 * The models of a model root, found as the SageMaker TFS container finds them: a folder whose
 * all-digit subfolders hold a model is a model, named after that folder (`rootName` for version folders
 * at the root itself); each all-digit subfolder is a version, leading zeros dropped (`00000123` is 123).
 * Hidden and other folders are ignored. Locally every version needs a model.onnx. The default model is
 * `defaultName` when given, else the only one.
 */
export async function readModelLayout(
  root: string,
  rootName: string,
  defaultName: string | undefined,
): Promise<ModelLayout> {
  const dir = resolve(root);
  const top = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new ModelLayoutError(`model folder ${root} cannot be read; ${LAYOUT}`, { cause: error });
  });
  const folders = await modelFolders(dir, top);
  if (folders.length === 0) {
    throw new ModelLayoutError(
      `model folder ${root} has no <version>/model.onnx${await hint(dir)}; ${LAYOUT}`,
    );
  }
  const models: ServedModel[] = [];
  for (const folder of folders) {
    const name = folder === dir ? rootName : basename(folder);
    const twin = models.find((model) => model.name === name);
    if (twin) {
      throw new ModelLayoutError(
        `model folder ${root} holds two models named ${name}: ${relative(dir, folder)}`,
      );
    }
    models.push({ name, versions: await versionsOf(folder, root) });
  }
  return {
    models,
    defaultModel: chooseDefault(models, defaultName, root),
    ...((await isFile(join(dir, 'code', 'inference.py'))) && { codeDir: join(dir, 'code') }),
  };
}

/** The folders holding version folders with a model in them, the root first, then the rest in name order. */
async function modelFolders(dir: string, top: readonly Dirent[]): Promise<string[]> {
  if (await holdsVersions(dir, top)) return [dir];
  const found: string[] = [];
  const walk = async (folder: string, entries: readonly Dirent[]): Promise<void> => {
    for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || VERSION.test(entry.name)) continue;
      if (folder === dir && entry.name === 'code') continue;
      const path = join(folder, entry.name);
      const children = await readdir(path, { withFileTypes: true });
      if (await holdsVersions(path, children)) found.push(path);
      else await walk(path, children);
    }
  };
  await walk(dir, top);
  return found;
}

async function holdsVersions(folder: string, entries: readonly Dirent[]): Promise<boolean> {
  for (const entry of entries) {
    if (!entry.isDirectory() || !VERSION.test(entry.name)) continue;
    for (const file of MODEL_FILES) if (await isFile(join(folder, entry.name, file))) return true;
  }
  return false;
}

async function versionsOf(folder: string, root: string): Promise<ModelVersion[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const versions: (ModelVersion & { folder: string })[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !VERSION.test(entry.name)) continue;
    const version = Number(entry.name);
    const where = join(folder, entry.name);
    if (!Number.isSafeInteger(version)) {
      throw new ModelLayoutError(`version folder ${where} is too large a number for a version`);
    }
    const same = versions.find((known) => known.version === version);
    if (same) {
      throw new ModelLayoutError(
        `version folders ${same.folder} and ${where} are both version ${version} (leading zeros are dropped)`,
      );
    }
    const file = join(where, 'model.onnx');
    if (!(await isFile(file))) {
      const savedModel = await isFile(join(where, 'saved_model.pb'));
      throw new ModelLayoutError(
        savedModel
          ? `version ${version} (${where}) is a TensorFlow SavedModel, which runs only in the cloud; convert it to ONNX, for example with tf2onnx, as ${file} (the SavedModel may stay beside it)`
          : `version folder ${where} has no model.onnx; in ${root} every all-digit folder is a version, and each one serves`,
      );
    }
    versions.push({ version, file, folder: where });
  }
  return versions.sort((a, b) => b.version - a.version).map(({ version, file }) => ({ version, file }));
}

function chooseDefault(models: readonly ServedModel[], name: string | undefined, root: string): ServedModel {
  const names = models.map((model) => model.name).join(', ');
  if (name !== undefined) {
    const named = models.find((model) => model.name === name);
    if (!named) {
      throw new ModelLayoutError(
        `the default model is ${name} (SAGEMAKER_TFS_DEFAULT_MODEL_NAME), but ${root} holds ${names}`,
      );
    }
    return named;
  }
  const [only, ...others] = models;
  if (only === undefined || others.length > 0) {
    throw new ModelLayoutError(
      `${root} holds several models (${names}): set SAGEMAKER_TFS_DEFAULT_MODEL_NAME (the job spec's modelName) to the one requests get when they name none`,
    );
  }
  return only;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** What was found instead, when that tells the user what to change. */
async function hint(dir: string): Promise<string> {
  if (await isFile(join(dir, 'model.onnx'))) {
    return VERSION.test(basename(dir))
      ? ' (it is a version folder: pass the folder above it)'
      : ` (model.onnx lies directly in it: move it to ${join(dir, '1', 'model.onnx')})`;
  }
  return '';
}
