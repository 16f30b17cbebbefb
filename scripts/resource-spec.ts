import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';

/**
 * Checks a template's resources against the CloudFormation resource specification (as published in
 * @aws-cdk/aws-service-spec): every type exists, every property is one the type has (nested property
 * types too), required properties are there, and GetAtt names an attribute the target has.
 */
type Database = Awaited<ReturnType<typeof loadAwsServiceSpec>>;
interface ResourceSpec {
  attributes: Record<string, unknown>;
  properties: Record<string, Property>;
}
interface PropertyType {
  type: string;
  reference?: { $ref: string };
  element?: PropertyType;
  types?: PropertyType[];
}
interface Property {
  type: PropertyType;
  required?: boolean;
}

export async function checkResourceSpec(template: {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}): Promise<string[]> {
  const db = await loadAwsServiceSpec();
  const problems: string[] = [];
  const specs = new Map<string, ResourceSpec>();
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Type.startsWith('Custom::')) continue;
    const found = db.lookup('resource', 'cloudFormationType', 'equals', resource.Type);
    if (found.length !== 1) {
      problems.push(`${name}: unknown resource type ${resource.Type}`);
      continue;
    }
    const spec = found.only() as unknown as ResourceSpec;
    specs.set(name, spec);
    checkProperties(db, `${name} (${resource.Type})`, spec.properties, resource.Properties ?? {}, problems);
  }
  const visit = (value: unknown, where: string): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, where);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Fn::GetAtt') {
        const [target, attribute] = Array.isArray(inner) ? inner : String(inner).split(/\.(.*)/s);
        const spec = specs.get(String(target));
        if (spec && !(String(attribute) in spec.attributes)) {
          problems.push(`${where}: ${target} has no attribute ${attribute}`);
        }
      }
      visit(inner, where);
    }
  };
  for (const [name, resource] of Object.entries(template.Resources)) visit(resource.Properties, name);
  return problems;
}

function checkProperties(
  db: Database,
  where: string,
  spec: Record<string, Property>,
  value: Record<string, unknown>,
  problems: string[],
): void {
  for (const [key, property] of Object.entries(spec)) {
    if (property.required && !(key in value)) problems.push(`${where}: required property ${key} is missing`);
  }
  for (const [key, inner] of Object.entries(value)) {
    const property = spec[key];
    if (!property) {
      problems.push(`${where}: no property ${key}`);
      continue;
    }
    checkValue(db, `${where}.${key}`, property.type, inner, problems);
  }
}

function checkValue(
  db: Database,
  where: string,
  type: PropertyType,
  value: unknown,
  problems: string[],
): void {
  if (isIntrinsic(value)) return;
  if (type.type === 'array' && type.element) {
    if (!Array.isArray(value)) {
      problems.push(`${where}: expected a list`);
      return;
    }
    for (const [k, item] of value.entries()) checkValue(db, `${where}[${k}]`, type.element, item, problems);
  } else if (type.type === 'ref' && type.reference) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${where}: expected an object`);
      return;
    }
    const definition = db.get('typeDefinition', type.reference.$ref) as unknown as {
      properties: Record<string, Property>;
    };
    checkProperties(db, where, definition.properties, value as Record<string, unknown>, problems);
  } else if (type.type === 'union' && type.types) {
    const checks = type.types.map((option) => {
      const found: string[] = [];
      checkValue(db, where, option, value, found);
      return found;
    });
    if (checks.every((found) => found.length > 0)) problems.push(...(checks[0] ?? []));
  }
}

function isIntrinsic(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] ?? '').startsWith('Fn::'));
}
