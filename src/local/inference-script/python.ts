import { execFile } from 'node:child_process';
import { PythonNotFoundError } from '../errors.ts';

export interface Python {
  readonly executable: string;
  /** `3.11.2`, say. */
  readonly version: string;
}

/** Where python3 is looked for, in order, unless PIPELINE_PYTHON names one. */
const CANDIDATES = ['python3', '/usr/bin/python3'];
const PROBE = 'import sys, requests; print("%d.%d.%d" % sys.version_info[:3])';

const found = new Map<string, Promise<Python>>();

/**
 * The python3 that runs inference.py scripts: PIPELINE_PYTHON when set, else the first of python3 on the
 * PATH and /usr/bin/python3 that can import requests (the container has it, and scripts use it).
 */
export function findPython(environment: NodeJS.ProcessEnv = process.env): Promise<Python> {
  const override = environment.PIPELINE_PYTHON;
  const key = override ?? '';
  let python = found.get(key);
  if (!python) {
    python = search(override ? [override] : CANDIDATES, override !== undefined);
    found.set(key, python);
    python.catch(() => found.delete(key));
  }
  return python;
}

async function search(candidates: readonly string[], overridden: boolean): Promise<Python> {
  const withoutRequests: string[] = [];
  for (const executable of candidates) {
    const probe = await run(executable);
    if (probe.status === 'ok') return { executable, version: probe.version };
    if (probe.status === 'no requests') withoutRequests.push(executable);
  }
  const how = overridden ? 'PIPELINE_PYTHON' : `${CANDIDATES[0]} on the PATH and ${CANDIDATES[1]}`;
  if (withoutRequests.length > 0) {
    throw new PythonNotFoundError(
      `code/inference.py runs with python3 and its requests package, and ${withoutRequests.join(', ')} cannot import requests: ` +
        'install it (Debian: apt-get install python3-requests; or pip install requests), or set PIPELINE_PYTHON to a python3 that has it',
    );
  }
  throw new PythonNotFoundError(
    `code/inference.py runs with python3, and none was found (tried ${how}): install Python 3 with the requests package ` +
      '(Debian: apt-get install python3 python3-requests), or set PIPELINE_PYTHON to one',
  );
}

function run(
  executable: string,
): Promise<{ status: 'ok'; version: string } | { status: 'no requests' | 'absent' }> {
  return new Promise((resolve) => {
    execFile(executable, ['-c', PROBE], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (!error) resolve({ status: 'ok', version: stdout.trim() });
      else if (/No module named .?requests/.test(stderr)) resolve({ status: 'no requests' });
      else resolve({ status: 'absent' });
    });
  });
}
