import { readFile } from 'node:fs/promises';
import { checkResourceSpec } from './resource-spec.ts';
import { checkTemplate } from './template-checks.ts';

// `npm run validate`: checks the template `npm run package` wrote, offline.
const path = process.argv[2] ?? '.serverless/cloudformation-template-update-stack.json';
const template = JSON.parse(await readFile(path, 'utf8'));
const problems = [...checkTemplate(template), ...(await checkResourceSpec(template))];
for (const problem of problems) process.stderr.write(`${problem}\n`);
process.stdout.write(`${path}: ${problems.length === 0 ? 'valid' : `${problems.length} problems`}\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
