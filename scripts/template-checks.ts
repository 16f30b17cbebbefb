import validator from 'asl-validator';

/**
 * Offline checks of the packaged CloudFormation template: the state machine's definition is valid
 * ASL, every Ref, GetAtt and ${} in Sub names something that exists, the IAM policies are least
 * privilege, and the bucket is private, encrypted and TLS-only. Each problem is one line.
 */
type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** Where AWS accepts no narrower resource than '*' for an action. */
const STAR_RESOURCE_ALLOWED = new Set([
  'ecr:GetAuthorizationToken',
  'cloudwatch:PutMetricData',
  'sagemaker:ListModels',
  'sagemaker:ListEndpoints',
  'sagemaker:ListEndpointConfigs',
]);
const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::Region',
  'AWS::Partition',
  'AWS::StackName',
  'AWS::URLSuffix',
  'AWS::NoValue',
  'AWS::StackId',
]);

export function checkTemplate(template: Template): string[] {
  return [
    ...checkReferences(template),
    ...checkCycles(template),
    ...checkStateMachines(template),
    ...checkPolicies(template),
    ...checkSageMakerReads(template),
    ...checkBucketsPrivate(template),
    ...checkBucket(template),
  ];
}

/** What each resource depends on: DependsOn, Ref, GetAtt and the names in Sub. */
function dependencies(template: Template): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [name, resource] of Object.entries(template.Resources)) {
    const targets = new Set<string>([(resource as { DependsOn?: string | string[] }).DependsOn ?? []].flat());
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) {
        for (const item of value) visit(item);
        return;
      }
      if (typeof value !== 'object' || value === null) return;
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'Ref' && typeof inner === 'string') targets.add(inner);
        if (key === 'Fn::GetAtt')
          targets.add(String(Array.isArray(inner) ? inner[0] : String(inner).split('.')[0]));
        if (key === 'Fn::Sub') {
          const [text] = Array.isArray(inner) ? inner : [inner];
          for (const match of String(text).matchAll(/\$\{([^!}][^}.]*)/g)) targets.add(match[1] ?? '');
        }
        visit(inner);
      }
    };
    visit(resource.Properties);
    graph.set(name, new Set([...targets].filter((target) => target in template.Resources)));
  }
  return graph;
}

function checkCycles(template: Template): string[] {
  const graph = dependencies(template);
  const state = new Map<string, 'visiting' | 'done'>();
  const problems: string[] = [];
  const walk = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.push(`dependency cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const next of graph.get(name) ?? []) walk(next, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of graph.keys()) walk(name, []);
  return problems;
}

function checkReferences(template: Template): string[] {
  const problems: string[] = [];
  const known = (name: string): boolean => name in template.Resources || PSEUDO.has(name);
  const visit = (value: unknown, where: string, locals: Set<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, where, locals);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string' && !known(inner))
        problems.push(`${where}: Ref to unknown ${inner}`);
      if (key === 'Fn::GetAtt') {
        const target = Array.isArray(inner) ? inner[0] : String(inner).split('.')[0];
        if (typeof target === 'string' && !known(target))
          problems.push(`${where}: GetAtt of unknown ${target}`);
      }
      if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, {}];
        const names = new Set([...locals, ...Object.keys((variables as object) ?? {})]);
        for (const match of String(text).matchAll(/\$\{([^!}][^}]*)\}/g)) {
          const name = (match[1] ?? '').split('.')[0] ?? '';
          if (!names.has(name) && !known(name)) problems.push(`${where}: Sub refers to unknown ${name}`);
        }
        visit(variables, where, locals);
        continue;
      }
      visit(inner, where, locals);
    }
  };
  for (const [name, resource] of Object.entries(template.Resources))
    visit(resource.Properties, name, new Set());
  return problems;
}

function checkStateMachines(template: Template): string[] {
  const problems: string[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = resource.Properties?.DefinitionString;
    const text = Array.isArray((definition as { 'Fn::Sub'?: unknown })?.['Fn::Sub'])
      ? String((definition as { 'Fn::Sub': unknown[] })['Fn::Sub'][0])
      : typeof definition === 'string'
        ? definition
        : JSON.stringify(definition);
    // Substitutions become a syntactically valid ARN, so that the ARN checks still apply.
    const resolved = text.replace(/\$\{[^}]+\}/g, 'arn:aws:lambda:us-east-1:123456789012:function:resolved');
    const result = validator(JSON.parse(resolved), { checkPaths: true, checkArn: true });
    for (const error of result.errors) problems.push(`${name}: invalid ASL: ${JSON.stringify(error)}`);
  }
  return problems;
}

interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

function checkPolicies(template: Template): string[] {
  const problems: string[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const policies = (resource.Properties?.Policies ?? []) as {
      PolicyDocument: { Statement: Statement[] };
    }[];
    for (const statement of policies.flatMap((policy) => policy.PolicyDocument.Statement)) {
      if (statement.Effect !== 'Allow') continue;
      const actions = [statement.Action ?? []].flat();
      for (const action of actions) {
        if (action === '*' || action.endsWith(':*')) problems.push(`${name}: action ${action} is a wildcard`);
      }
      const resources = [statement.Resource ?? []].flat();
      if (resources.includes('*') && !actions.every((action) => STAR_RESOURCE_ALLOWED.has(action))) {
        problems.push(`${name}: resource '*' for ${actions.join(', ')}`);
      }
      if (actions.includes('iam:PassRole') && !statement.Condition?.StringEquals?.['iam:PassedToService']) {
        problems.push(`${name}: iam:PassRole without an iam:PassedToService condition`);
      }
      const sageMaker = actions.filter(
        (action) => action.startsWith('sagemaker:') && !STAR_RESOURCE_ALLOWED.has(action),
      );
      for (const resource of sageMaker.length > 0 ? resources.map(resourceText) : []) {
        if (!NAME_PREFIXED.test(resource)) {
          problems.push(
            `${name}: ${sageMaker.join(', ')} on ${resource}, not on names with the service's prefix`,
          );
        }
      }
    }
  }
  return problems;
}

/** What SageMaker's role may read: models, code, the job's work files and the inputs it reads where they are. */
const SAGEMAKER_READS = ['models/*', 'code/*', 'work/*', 'inbox/*', 'datasets/*'];
/** What it must read: a whole-object job's manifest lists objects of the inbox and of datasets. */
const SAGEMAKER_MUST_READ = ['work/*', 'inbox/*', 'datasets/*'];

/** SageMaker's role reads the objects whole-object jobs list in their manifests, and nothing else. */
function checkSageMakerReads(template: Template): string[] {
  const role = template.Resources.SageMakerExecutionRole;
  if (!role) return [];
  const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  const reads = policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => statement.Effect === 'Allow' && [statement.Action].flat().includes('s3:GetObject'))
    .flatMap((statement) => [statement.Resource ?? []].flat().map(resourceText));
  const problems: string[] = [];
  for (const resource of reads) {
    if (!SAGEMAKER_READS.some((prefix) => resource.endsWith(`/${prefix}`))) {
      problems.push(
        `SageMakerExecutionRole: s3:GetObject on ${resource}, beyond ${SAGEMAKER_READS.join(', ')}`,
      );
    }
  }
  for (const prefix of SAGEMAKER_MUST_READ) {
    if (!reads.some((resource) => resource.endsWith(`/${prefix}`))) {
      problems.push(`SageMakerExecutionRole: cannot s3:GetObject ${prefix}, which whole-object jobs read`);
    }
  }
  return problems;
}

/** A SageMaker resource ARN of one kind whose names start with a prefix: `...:endpoint/tfbp-dev-*`. */
const NAME_PREFIXED = /:sagemaker:.*:[a-z-]+\/[^/*]+-\*$/;

/** A resource as written: a string, or the text of a Fn::Sub. */
function resourceText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const sub = (resource as { 'Fn::Sub'?: unknown } | null)?.['Fn::Sub'];
  const text = Array.isArray(sub) ? sub[0] : sub;
  return typeof text === 'string' ? text : JSON.stringify(resource);
}

/** Every bucket of the stack (the data bucket, the deployment bucket) is private and encrypted. */
function checkBucketsPrivate(template: Template): string[] {
  const problems: string[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::S3::Bucket') continue;
    const block = resource.Properties?.PublicAccessBlockConfiguration as Record<string, boolean> | undefined;
    for (const flag of [
      'BlockPublicAcls',
      'BlockPublicPolicy',
      'IgnorePublicAcls',
      'RestrictPublicBuckets',
    ]) {
      if (block?.[flag] !== true) problems.push(`${name}: ${flag} is not true`);
    }
    if (!resource.Properties?.BucketEncryption) problems.push(`${name}: no default encryption`);
  }
  return problems;
}

function checkBucket(template: Template): string[] {
  const problems: string[] = [];
  const bucket = template.Resources.DataBucket?.Properties;
  if (!bucket) return ['DataBucket: missing'];
  const rules =
    (
      bucket.LifecycleConfiguration as {
        Rules?: { Prefix?: string; AbortIncompleteMultipartUpload?: unknown }[];
      }
    )?.Rules ?? [];
  if (!rules.some((rule) => rule.Prefix === 'work/')) problems.push('DataBucket: work/ does not expire');
  if (!rules.some((rule) => rule.AbortIncompleteMultipartUpload))
    problems.push('DataBucket: incomplete uploads are kept');
  const policies = Object.values(template.Resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
  const denies = policies.flatMap(
    (p) => (p.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement ?? [],
  );
  if (
    !denies.some(
      (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition ?? {}).includes('aws:SecureTransport'),
    )
  ) {
    problems.push('DataBucket: non-TLS access is not denied');
  }
  return problems;
}
