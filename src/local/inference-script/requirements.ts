import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InferenceScriptError } from '../errors.ts';
import type { Python } from './python.ts';

/**
 * Prints, as JSON, the lines of a requirements file that the Python running it does not satisfy
 * already; a URL, a path or another file (`-r`, `-e`) counts as unsatisfied, since only pip can tell.
 * Lines that only tell pip where to look (`--no-index`, `--find-links ...`) are no requirement.
 */
const UNSATISFIED = `
import json, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
WHERE_TO_LOOK = {"--no-index", "--find-links", "-f", "--index-url", "-i", "--extra-index-url", "--trusted-host",
                 "--pre", "--prefer-binary", "--only-binary", "--no-binary"}
unsatisfied = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split(" #")[0].strip()
    if not line or line.startswith("#") or line.split("=")[0].split()[0] in WHERE_TO_LOOK:
        continue
    try:
        requirement = Requirement(line)
        installed = metadata.version(requirement.name)
        if requirement.marker is None or requirement.marker.evaluate():
            if not requirement.specifier.contains(installed, prereleases=True):
                unsatisfied.append(line)
    except Exception:
        unsatisfied.append(line)
print(json.dumps(unsatisfied))
`;

export interface RequirementsOptions {
  readonly python: Python;
  readonly codeDir: string;
  readonly environment: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

/**
 * Where the packages of code/requirements.txt are, to put on the script's path, as the container's
 * serve.py handles the file: ignored when there is a code/lib/ (the container then logs so), else
 * installed with pip, once per content and Python version, into a cache folder (`pip install --target`).
 * Requirements the Python satisfies already need nothing, as pip would say. Undefined when nothing
 * needs installing; an InferenceScriptError naming what is missing when it cannot be installed.
 */
export async function installRequirements(options: RequirementsOptions): Promise<string | undefined> {
  const { codeDir, python, environment, log } = options;
  const file = join(codeDir, 'requirements.txt');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  if (await isFolder(join(codeDir, 'lib'))) {
    log(`loading modules in ${join(codeDir, 'lib')}, ignoring requirements.txt`);
    return undefined;
  }
  const unsatisfied = await unsatisfiedLines(python, file, environment);
  if (unsatisfied.length === 0) return undefined;

  const key = createHash('sha256').update(`${python.executable}\n${python.version}\n${text}`).digest('hex');
  const target = join(cacheRoot(environment), key.slice(0, 32));
  if (await isFolder(target)) return target;
  log(`installing ${unsatisfied.join(', ')} from ${file} into ${target}`);
  const partial = `${target}.${process.pid}.partial`;
  await mkdir(partial, { recursive: true });
  const pip = await execute(
    python.executable,
    [
      '-m',
      'pip',
      'install',
      '--target',
      partial,
      '-r',
      file,
      '--disable-pip-version-check',
      '--no-input',
      '-q',
    ],
    codeDir,
    environment,
  );
  if (pip.code !== 0) {
    await rm(partial, { recursive: true, force: true });
    const reason = /No module named pip/.test(pip.stderr)
      ? `${python.executable} has no pip`
      : lastLines(pip.stderr);
    throw new InferenceScriptError(
      `${file} needs ${unsatisfied.join(', ')}, which cannot be installed: ${reason}`,
    );
  }
  await rename(partial, target).catch(async () => {
    // Another server installed the same requirements meanwhile: theirs is as good.
    await rm(partial, { recursive: true, force: true });
  });
  return target;
}

async function unsatisfiedLines(
  python: Python,
  file: string,
  environment: NodeJS.ProcessEnv,
): Promise<string[]> {
  const check = await execute(python.executable, ['-c', UNSATISFIED, file], undefined, environment);
  if (check.code !== 0) {
    throw new InferenceScriptError(
      `${file} cannot be read by ${python.executable}: ${lastLines(check.stderr)}`,
    );
  }
  return JSON.parse(check.stdout) as string[];
}

/** PIPELINE_CACHE_DIR, or the user's cache folder. */
function cacheRoot(environment: NodeJS.ProcessEnv): string {
  const base =
    environment.PIPELINE_CACHE_DIR ??
    join(environment.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tf-sagemaker-batch-pipeline');
  return join(base, 'requirements');
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ').trim() || 'no reason given';
}

function execute(
  executable: string,
  args: readonly string[],
  cwd: string | undefined,
  environment: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      executable,
      args,
      { cwd, env: environment, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
