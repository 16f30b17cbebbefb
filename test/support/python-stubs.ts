import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Stand-ins for the packages the TensorFlow training container has, written to a folder to put on
 * PYTHONPATH: `tensorflow_hub.load` returns an object naming its handle, with a serving signature (a
 * handle with "missing" in it fails, one with "slow" takes minutes), and `tensorflow.saved_model.save`
 * writes a SavedModel's files with that handle and the signatures saved.
 * Nothing is downloaded and no TensorFlow is needed; the packaging script itself runs unchanged.
 */
export async function pythonStubs(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'python-stubs-'));
  const stubs: Record<string, string> = {
    tensorflow: [
      'import json, os',
      '',
      'class saved_model:',
      '    @staticmethod',
      '    def save(obj, export_dir, signatures=None):',
      '        os.makedirs(os.path.join(export_dir, "variables"), exist_ok=True)',
      '        with open(os.path.join(export_dir, "saved_model.pb"), "w") as f:',
      '            json.dump({"handle": obj.handle, "signatures": sorted(signatures or {})}, f)',
      '',
    ].join('\n'),
    tensorflow_hub: [
      'import time',
      '',
      'class _Loaded:',
      '    def __init__(self, handle):',
      '        self.handle = handle',
      '        self.signatures = {"serving_default": object()}',
      '',
      'def load(handle):',
      '    if "missing" in handle:',
      '        raise ValueError("no model at " + handle)',
      '    if "slow" in handle:',
      '        time.sleep(600)',
      '    return _Loaded(handle)',
      '',
    ].join('\n'),
    tf_keras: '',
  };
  for (const [name, source] of Object.entries(stubs)) {
    await mkdir(join(root, name));
    await writeFile(join(root, name, '__init__.py'), source);
  }
  return root;
}
