import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { denseNetwork } from '../../src/local/onnx/model-file.ts';

/**
 * Writes `<folder>/<version>/model.onnx`, a model that answers each row [x, y] with [factor·x, factor·y]:
 * answers a test can work out by hand. Returns the folder.
 */
export async function scalingModel(folder: string, version: number, factor: number): Promise<string> {
  await mkdir(join(folder, String(version)), { recursive: true });
  const model = denseNetwork({
    inputName: 'features',
    outputName: 'scaled',
    layers: [
      {
        weights: Float32Array.from([factor, 0, 0, factor]),
        bias: new Float32Array(2),
        inputs: 2,
        outputs: 2,
        activation: 'none',
      },
    ],
  });
  await writeFile(join(folder, String(version), 'model.onnx'), model);
  return folder;
}
