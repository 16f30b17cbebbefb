import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onnxModel } from '../../src/local/onnx/model-file.ts';

/**
 * TF Serving's test model half_plus_three (y = 0.5 x + 3) as an ONNX file whose input declares no
 * shape, so it takes scalars, vectors and matrices as TF Serving's does.
 */
export function halfPlusThree(): Uint8Array {
  return onnxModel({
    inputs: [{ name: 'x' }],
    outputs: [{ name: 'y' }],
    nodes: [
      { opType: 'Mul', inputs: ['x', 'half'], outputs: ['half_x'] },
      { opType: 'Add', inputs: ['half_x', 'three'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'half', dims: [], values: Float32Array.of(0.5) },
      { name: 'three', dims: [], values: Float32Array.of(3) },
    ],
  });
}

/**
 * A model root as the TFS container's tests lay it out: `half_plus_three/00000123/` and `00000124/`,
 * a hidden `.00000111/` that is no version, assets beside the model, and `code/` with the given files.
 */
export async function halfPlusThreeRoot(
  root: string,
  code: Readonly<Record<string, string>> = {},
): Promise<string> {
  for (const version of ['00000123', '00000124']) {
    await mkdir(join(root, 'half_plus_three', version, 'assets'), { recursive: true });
    await writeFile(join(root, 'half_plus_three', version, 'model.onnx'), halfPlusThree());
    await writeFile(join(root, 'half_plus_three', version, 'assets', 'foo.txt'), 'asset\n');
  }
  await mkdir(join(root, 'half_plus_three', '.00000111'), { recursive: true });
  await writeFile(join(root, 'half_plus_three', '.00000111', '.hidden_file'), '');
  for (const [path, text] of Object.entries(code)) {
    await mkdir(join(root, 'code', path, '..'), { recursive: true });
    await writeFile(join(root, 'code', path), text);
  }
  return root;
}
