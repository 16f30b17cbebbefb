import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelLayoutError } from './errors.ts';
import { findPython } from './inference-script/python.ts';
import { type PackedFolder, packTarGz } from './tar/pack.ts';

const VERSION = /^\d+$/;
const MODEL_FILES = ['saved_model.pb', 'model.onnx'];

/** Finds the handlers python_service.py looks for, without running the script: names bound at its top level. */
const CHECK_SCRIPT = `
import ast, sys
source = open(sys.argv[1], encoding="utf-8").read()
tree = compile(source, sys.argv[1], "exec", ast.PyCF_ONLY_AST)
names = set()
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(node.name)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
print(" ".join(sorted(names)))
`;

export interface PackageOptions {
  /** A model folder: version folders (or `<name>/<version>/` folders), and maybe code/. */
  readonly modelDir: string;
  /** code/ to package instead of the model folder's own. */
  readonly codeDir?: string;
  readonly out: string;
}

/**
 * Writes the model.tar.gz the SageMaker TFS container expects (version folders, or `<name>/<version>/`
 * folders, at its root, and `code/`), after checking it: every all-digit version folder holds a
 * saved_model.pb or a model.onnx, and code/inference.py compiles under python3 and defines handler or
 * both input_handler and output_handler. A broken rule is a ModelLayoutError naming it. Returns what
 * was packed.
 */
export async function packageModel(options: PackageOptions): Promise<string[]> {
  const modelDir = resolve(options.modelDir);
  const entries = await readdir(modelDir, { withFileTypes: true }).catch((error: unknown) => {
    throw new ModelLayoutError(`model folder ${options.modelDir} cannot be read`, { cause: error });
  });
  const versions = entries
    .filter((entry) => entry.isDirectory() && VERSION.test(entry.name))
    .map((e) => e.name);
  const models: string[] = [];
  if (versions.length === 0) {
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === 'code' || entry.name.startsWith('.')) continue;
      const inner = await readdir(join(modelDir, entry.name), { withFileTypes: true });
      if (inner.some((child) => child.isDirectory() && VERSION.test(child.name))) models.push(entry.name);
    }
  }
  if (versions.length === 0 && models.length === 0) {
    throw new ModelLayoutError(
      `${options.modelDir} has no version folder: a model needs <version>/ folders (all digits, such as 1 or 00000123), or <name>/<version>/ folders`,
    );
  }
  for (const folder of [
    ...versions.map((v) => join(modelDir, v)),
    ...(await modelVersions(modelDir, models)),
  ]) {
    if (!(await holdsModel(folder))) {
      throw new ModelLayoutError(`version folder ${folder} holds neither saved_model.pb nor model.onnx`);
    }
  }
  const codeDir = options.codeDir ? resolve(options.codeDir) : join(modelDir, 'code');
  const hasCode = await isFolder(codeDir);
  if (options.codeDir && !hasCode) throw new ModelLayoutError(`--code ${options.codeDir} is not a folder`);
  if (hasCode) await checkScript(join(codeDir, 'inference.py'));
  const folders: PackedFolder[] = [
    ...[...versions, ...models].sort().map((name) => ({ source: join(modelDir, name), name })),
    ...(hasCode ? [{ source: codeDir, name: 'code' }] : []),
  ];
  await packTarGz(folders, options.out);
  return folders.map((folder) => `${folder.name}/`);
}

async function modelVersions(modelDir: string, models: readonly string[]): Promise<string[]> {
  const folders: string[] = [];
  for (const model of models) {
    for (const entry of await readdir(join(modelDir, model), { withFileTypes: true })) {
      if (entry.isDirectory() && VERSION.test(entry.name)) folders.push(join(modelDir, model, entry.name));
    }
  }
  return folders;
}

async function holdsModel(folder: string): Promise<boolean> {
  for (const file of MODEL_FILES)
    if ((await stat(join(folder, file)).catch(() => undefined))?.isFile()) return true;
  return false;
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function checkScript(script: string): Promise<void> {
  if (!(await stat(script).catch(() => undefined))?.isFile()) {
    throw new ModelLayoutError(
      `${script} is missing: code/ goes with an inference.py, which the container runs`,
    );
  }
  const python = await findPython();
  const names = await new Promise<string[]>((done, fail) => {
    execFile(python.executable, ['-c', CHECK_SCRIPT, script], (error, stdout, stderr) => {
      if (!error) done(stdout.trim().split(/\s+/));
      else {
        const reason = stderr.trim().split('\n').slice(-1)[0] ?? String(error);
        fail(new ModelLayoutError(`${script} does not compile under python3: ${reason}`));
      }
    });
  });
  const defines = (name: string) => names.includes(name);
  if (!defines('handler') && !(defines('input_handler') && defines('output_handler'))) {
    throw new ModelLayoutError(
      `${script} must define handler(data, context), or both input_handler(data, context) and output_handler(response, context)`,
    );
  }
}
