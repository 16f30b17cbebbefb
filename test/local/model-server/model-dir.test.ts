import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readModelLayout } from '../../../src/local/model-server/model-dir.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-dir-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function place(...files: string[]): Promise<void> {
  for (const file of files) {
    await mkdir(join(root, file, '..'), { recursive: true });
    await writeFile(join(root, file), '');
  }
}

const versions = (...numbers: number[]) =>
  numbers.map((version) => ({ version, file: expect.stringContaining(`model.onnx`) as unknown }));

describe('readModelLayout', () => {
  it('serves every all-digit version, highest first, leading zeros dropped, named after the folder', async () => {
    await place(
      'iris/1/model.onnx',
      'iris/00000123/model.onnx',
      'iris/10/model.onnx',
      'iris/10/saved_model.pb',
      'iris/.00000111/model.onnx',
      'iris/notes.txt',
    );

    const layout = await readModelLayout(join(root, 'iris'), 'iris', undefined);

    expect(layout.models).toEqual([{ name: 'iris', versions: versions(123, 10, 1) }]);
    expect(layout.models[0]?.versions[0]?.file).toBe(join(root, 'iris', '00000123', 'model.onnx'));
    expect(layout.defaultModel.name).toBe('iris');
    expect(layout.codeDir).toBeUndefined();
  });

  it('reads a model root as model.tar.gz lays it out: <name>/<version>/ folders and code/', async () => {
    await place(
      'half_plus_three/00000123/model.onnx',
      'half_plus_three/00000124/model.onnx',
      'other/1/model.onnx',
      'code/inference.py',
      'code/lib/dummy/__init__.py',
    );

    const layout = await readModelLayout(root, 'model', 'half_plus_three');

    expect(layout.models.map((model) => model.name)).toEqual(['half_plus_three', 'other']);
    expect(layout.defaultModel.versions.map((v) => v.version)).toEqual([124, 123]);
    expect(layout.codeDir).toBe(join(root, 'code'));
  });

  it('asks for the default model when the root holds several, and refuses one it does not hold', async () => {
    await place('a/1/model.onnx', 'b/1/model.onnx');

    await expect(readModelLayout(root, 'model', undefined)).rejects.toThrow(
      'holds several models (a, b): set SAGEMAKER_TFS_DEFAULT_MODEL_NAME',
    );
    await expect(readModelLayout(root, 'model', 'c')).rejects.toThrow(
      'the default model is c (SAGEMAKER_TFS_DEFAULT_MODEL_NAME), but',
    );
  });

  it('refuses a version without a model.onnx, saying a SavedModel runs only in the cloud', async () => {
    await place('hub/1/model.onnx', 'hub/3/saved_model.pb');

    await expect(readModelLayout(join(root, 'hub'), 'hub', undefined)).rejects.toMatchObject({
      name: 'ModelLayoutError',
      message: expect.stringContaining(
        `version 3 (${join(root, 'hub', '3')}) is a TensorFlow SavedModel, which runs only in the cloud`,
      ),
    });
  });

  it('refuses two folders that are the same version', async () => {
    await place('m/7/model.onnx', 'm/007/model.onnx');

    await expect(readModelLayout(join(root, 'm'), 'm', undefined)).rejects.toThrow(
      'are both version 7 (leading zeros are dropped)',
    );
  });

  it('explains the layout when there is no version folder, and what to pass instead', async () => {
    await place('empty/readme.md', 'iris/1/model.onnx', 'loose/model.onnx');

    await expect(readModelLayout(join(root, 'empty'), 'empty', undefined)).rejects.toMatchObject({
      name: 'ModelLayoutError',
      message: expect.stringContaining('has no <version>/model.onnx; expected TensorFlow Serving layout'),
    });
    await expect(readModelLayout(join(root, 'iris', '1'), '1', undefined)).rejects.toThrow(
      'it is a version folder: pass the folder above it',
    );
    await expect(readModelLayout(join(root, 'loose'), 'loose', undefined)).rejects.toThrow(
      `model.onnx lies directly in it: move it to ${join(root, 'loose', '1', 'model.onnx')}`,
    );
    await expect(readModelLayout(join(root, 'missing'), 'missing', undefined)).rejects.toThrow(
      'missing cannot be read',
    );
  });
});
