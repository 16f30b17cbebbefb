import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findModel } from '../../../src/local/model-server/model-dir.ts';

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

describe('findModel', () => {
  it('serves the highest numbered version that holds a model.onnx, named after the folder', async () => {
    await place(
      'iris/1/model.onnx',
      'iris/2/model.onnx',
      'iris/10/model.onnx',
      'iris/11/saved_model.pb',
      'iris/notes.txt',
    );

    expect(await findModel(join(root, 'iris'))).toEqual({
      name: 'iris',
      version: 10,
      file: join(root, 'iris', '10', 'model.onnx'),
    });
  });

  it('explains the layout when there is no version folder with a model.onnx', async () => {
    await place('empty/readme.md');

    await expect(findModel(join(root, 'empty'))).rejects.toMatchObject({
      name: 'ModelLayoutError',
      message: expect.stringContaining(
        'has no <version>/model.onnx; expected TensorFlow Serving layout <name>/<version>/model.onnx',
      ),
    });
  });

  it('says that a SavedModel does not run locally', async () => {
    await place('hub/3/saved_model.pb');

    await expect(findModel(join(root, 'hub'))).rejects.toThrow(
      'version 3 is a TensorFlow SavedModel, which runs only in the cloud; convert it to ONNX',
    );
  });

  it('tells what to pass when given a version folder or a loose model.onnx', async () => {
    await place('iris/1/model.onnx', 'loose/model.onnx');

    await expect(findModel(join(root, 'iris', '1'))).rejects.toThrow(
      'it is a version folder: pass the folder above it',
    );
    await expect(findModel(join(root, 'loose'))).rejects.toThrow(
      `model.onnx lies directly in it: move it to ${join(root, 'loose', '1', 'model.onnx')}`,
    );
  });

  it('says when the folder cannot be read', async () => {
    await expect(findModel(join(root, 'missing'))).rejects.toMatchObject({
      name: 'ModelLayoutError',
      message: expect.stringContaining('missing cannot be read'),
    });
  });
});
