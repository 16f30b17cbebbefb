import { describe, expect, it } from 'vitest';
import { checkResourceSpec } from '../../scripts/resource-spec.ts';
import { checkTemplate } from '../../scripts/template-checks.ts';

const role = (statement: Record<string, unknown>) => ({
  Type: 'AWS::IAM::Role',
  Properties: { Policies: [{ PolicyDocument: { Statement: [{ Effect: 'Allow', ...statement }] } }] },
});

function template(extra: Record<string, unknown> = {}) {
  return {
    Resources: {
      DataBucket: {
        Type: 'AWS::S3::Bucket',
        Properties: {
          BucketEncryption: {},
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          LifecycleConfiguration: {
            Rules: [{ Prefix: 'work/' }, { AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
          },
        },
      },
      Policy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          PolicyDocument: {
            Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
          },
        },
      },
      ...extra,
    },
  };
}

describe('checkTemplate', () => {
  it('passes a template that follows the rules', () => {
    expect(
      checkTemplate(
        template({
          // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Sub syntax
          Reader: role({ Action: 's3:GetObject', Resource: { 'Fn::Sub': '${DataBucket.Arn}/inbox/*' } }),
        }),
      ),
    ).toEqual([]);
  });

  it('names wildcard actions, star resources, unconditioned PassRole and dangling references', () => {
    const problems = checkTemplate(
      template({
        Admin: role({ Action: '*', Resource: '*' }),
        S3All: role({ Action: 's3:*', Resource: { Ref: 'Missing' } }),
        Pass: role({ Action: 'iam:PassRole', Resource: { 'Fn::GetAtt': ['Nowhere', 'Arn'] } }),
        Ecr: role({ Action: 'ecr:GetAuthorizationToken', Resource: '*' }),
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'Admin: action * is a wildcard',
        "Admin: resource '*' for *",
        'S3All: action s3:* is a wildcard',
        'S3All: Ref to unknown Missing',
        'Pass: GetAtt of unknown Nowhere',
        'Pass: iam:PassRole without an iam:PassedToService condition',
      ]),
    );
    expect(problems.some((problem) => problem.startsWith('Ecr'))).toBe(false);
  });

  it('names SageMaker permissions on resources not limited to the service name prefix', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Sub syntax
    const account = 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}';
    const problems = checkTemplate(
      template({
        Scoped: role({
          Action: ['sagemaker:CreateEndpoint', 'sagemaker:DeleteEndpoint'],
          Resource: { 'Fn::Sub': `${account}:endpoint/tfbp-dev-*` },
        }),
        Listing: role({ Action: 'sagemaker:ListEndpoints', Resource: '*' }),
        Unscoped: role({
          Action: 'sagemaker:InvokeEndpoint',
          Resource: { 'Fn::Sub': `${account}:endpoint/*` },
        }),
      }),
    );
    expect(problems).toEqual([
      `Unscoped: sagemaker:InvokeEndpoint on ${account}:endpoint/*, not on names with the service's prefix`,
    ]);
  });

  it("names what SageMaker's role reads beyond its prefixes, and the inputs of whole-object jobs it cannot read", () => {
    const reads = (...prefixes: string[]) =>
      role({
        Action: 's3:GetObject',
        Resource: prefixes.map((prefix) => ({ 'Fn::Sub': `\${DataBucket.Arn}/${prefix}` })),
      });
    expect(
      checkTemplate(
        template({ SageMakerExecutionRole: reads('models/*', 'work/*', 'inbox/*', 'datasets/*') }),
      ),
    ).toEqual([]);
    expect(checkTemplate(template({ SageMakerExecutionRole: reads('*', 'work/*') }))).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Sub syntax
      'SageMakerExecutionRole: s3:GetObject on ${DataBucket.Arn}/*, beyond models/*, code/*, work/*, inbox/*, datasets/*',
      'SageMakerExecutionRole: cannot s3:GetObject inbox/*, which whole-object jobs read',
      'SageMakerExecutionRole: cannot s3:GetObject datasets/*, which whole-object jobs read',
    ]);
  });

  it('names a dependency cycle, through Ref, GetAtt, Sub and DependsOn', () => {
    const problems = checkTemplate(
      template({
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['FnRole', 'Arn'] } } },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Sub syntax
        FnRole: { Type: 'AWS::IAM::Role', Properties: { Name: { 'Fn::Sub': '${Permission}-x' } } },
        Permission: { Type: 'AWS::Lambda::Permission', DependsOn: 'Fn', Properties: {} },
      }),
    );
    expect(problems).toContain('dependency cycle: Fn -> FnRole -> Permission -> Fn');
  });

  it('names a public, unencrypted bucket that keeps work files and allows plain HTTP', () => {
    const bad = template();
    bad.Resources.DataBucket.Properties = {} as never;
    bad.Resources.Policy.Properties.PolicyDocument.Statement = [];
    expect(checkTemplate(bad)).toEqual([
      'DataBucket: BlockPublicAcls is not true',
      'DataBucket: BlockPublicPolicy is not true',
      'DataBucket: IgnorePublicAcls is not true',
      'DataBucket: RestrictPublicBuckets is not true',
      'DataBucket: no default encryption',
      'DataBucket: work/ does not expire',
      'DataBucket: incomplete uploads are kept',
      'DataBucket: non-TLS access is not denied',
    ]);
  });

  it('names any other bucket of the stack that is not private, such as the deployment bucket', () => {
    const problems = checkTemplate(
      template({ ServerlessDeploymentBucket: { Type: 'AWS::S3::Bucket', Properties: {} } }),
    );
    expect(problems).toEqual([
      'ServerlessDeploymentBucket: BlockPublicAcls is not true',
      'ServerlessDeploymentBucket: BlockPublicPolicy is not true',
      'ServerlessDeploymentBucket: IgnorePublicAcls is not true',
      'ServerlessDeploymentBucket: RestrictPublicBuckets is not true',
      'ServerlessDeploymentBucket: no default encryption',
    ]);
  });

  it('validates a state machine definition inside Fn::Sub', () => {
    const machine = (definition: object) => ({
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { DefinitionString: { 'Fn::Sub': [JSON.stringify(definition), {}] } },
    });
    expect(
      checkTemplate(template({ Good: machine({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }) })),
    ).toEqual([]);
    const problems = checkTemplate(
      template({ Bad: machine({ StartAt: 'A', States: { A: { Type: 'Pass', Next: 'B' } } }) }),
    );
    expect(problems.some((problem) => problem.startsWith('Bad: invalid ASL'))).toBe(true);
  });
});

describe('checkResourceSpec', () => {
  it('names unknown types, unknown and missing properties, wrong shapes and unknown attributes', async () => {
    const problems = await checkResourceSpec({
      Resources: {
        Bucket: {
          Type: 'AWS::S3::Bucket',
          Properties: { BucketEncryption: { ServerSideEncryptionConfiguration: 'AES256' }, Colour: 'red' },
        },
        Role: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'p' }] } },
        Thing: { Type: 'AWS::Nope::Thing' },
        Function: {
          Type: 'AWS::Lambda::Function',
          Properties: { Role: { 'Fn::GetAtt': ['Bucket', 'Colour'] }, Code: { ZipFile: 'x' } },
        },
      },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Bucket (AWS::S3::Bucket).BucketEncryption.ServerSideEncryptionConfiguration: expected a list',
        'Bucket (AWS::S3::Bucket): no property Colour',
        'Role (AWS::IAM::Role): required property AssumeRolePolicyDocument is missing',
        'Role (AWS::IAM::Role).Policies[0]: required property PolicyDocument is missing',
        'Thing: unknown resource type AWS::Nope::Thing',
        'Function: Bucket has no attribute Colour',
      ]),
    );
  });

  it('accepts valid resources, with intrinsic functions standing for values', async () => {
    const template = {
      Resources: {
        Bucket: { Type: 'AWS::S3::Bucket', Properties: { VersioningConfiguration: { Status: 'Enabled' } } },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Sub syntax
        Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Sub': '${AWS::StackName}-q' } } },
      },
    };
    expect(await checkResourceSpec(template)).toEqual([]);
  });
});
