import type {
  CreateEndpointConfigInput,
  CreateEndpointInput,
  CreateModelInput,
  CreateTrainingJobRequest,
  CreateTransformJobRequest,
  DeleteEndpointConfigInput,
  DeleteEndpointInput,
  DeleteModelInput,
  DescribeEndpointInput,
} from '@aws-sdk/client-sagemaker';
import type { EndpointInvoker, EndpointRequest } from '../../core/ports/endpoints.ts';
import type { ObjectStore } from '../../core/ports/object-store.ts';
import type { SageMakerJobs } from '../../core/ports/sagemaker-jobs.ts';
import { validationError } from '../errors.ts';
import { type EndpointDescription, LocalEndpoints } from './endpoints.ts';
import type { ModelHost } from './model-host-port.ts';
import { LocalModel } from './models.ts';
import { arn, checkName, NAME_PATTERN } from './names.ts';
import type { ResourceRegistry } from './registry.ts';
import { LocalTrainingJobs, type TrainingJobDescription, type TrainingOptions } from './training.ts';
import {
  LocalTransformJobs,
  type TransformJobDescription,
  type TransformProgress,
} from './transform-jobs.ts';

export interface LocalSageMakerOptions {
  /** Where s3:// URLs point. */
  readonly store: ObjectStore;
  /** s3://<bucket>/<key> as a key of the store; throws for a URL outside it. */
  readonly keyOf: (url: string) => string;
  readonly models: ModelHost;
  /** Called as a transform job's requests complete. */
  readonly onProgress?: (event: TransformProgress) => void;
  /** Where the models created are recorded until deleted, for other processes to see (`pipeline sweep`). */
  readonly registry?: ResourceRegistry;
  /** How training jobs run their scripts here. */
  readonly training?: TrainingOptions;
}

/**
 * SageMaker on one machine, for the state machine's SageMaker tasks: models, and transform jobs that
 * run SageMaker Batch Transform's data plane against a model server from the ModelHost. Calls fail as
 * Step Functions reports SageMaker's failures: a refused call as `SageMaker.*Exception`, a `.sync`
 * job that fails or is stopped as `States.TaskFailed`.
 */
export class LocalSageMaker implements SageMakerJobs, EndpointInvoker {
  readonly #options: LocalSageMakerOptions;
  /** By name in lower case: SageMaker names are unique regardless of case, as their ARNs show. */
  readonly #models = new Map<string, LocalModel>();

  readonly #transformJobs: LocalTransformJobs;
  readonly #endpoints: LocalEndpoints;
  readonly #training: LocalTrainingJobs;

  constructor(options: LocalSageMakerOptions) {
    this.#options = options;
    this.#transformJobs = new LocalTransformJobs({
      store: options.store,
      keyOf: options.keyOf,
      model: (name) => this.#models.get(name.toLowerCase()),
      ...(options.onProgress && { onProgress: options.onProgress }),
    });
    this.#endpoints = new LocalEndpoints({
      models: options.models,
      model: (name) => this.#models.get(name.toLowerCase())?.container,
      ...(options.registry && { registry: options.registry }),
    });
    this.#training = new LocalTrainingJobs({
      store: options.store,
      keyOf: options.keyOf,
      ...options.training,
    });
  }

  async createModel(input: CreateModelInput): Promise<{ ModelArn: string }> {
    const name = checkName('modelName', input.ModelName);
    const container = input.PrimaryContainer;
    if (!container)
      throw validationError('A PrimaryContainer is required: local mode runs one container per model.');
    const exists = () => validationError(`Cannot create already existing model "${arn('model', name)}".`);
    if (this.#models.has(name.toLowerCase())) throw exists();
    if (this.#options.registry && !(await this.#options.registry.add('model', name))) throw exists();
    this.#models.set(
      name.toLowerCase(),
      new LocalModel(
        name,
        {
          image: container.Image ?? '',
          modelDataUrl: container.ModelDataUrl ?? '',
          environment: { ...container.Environment },
        },
        this.#options.models,
      ),
    );
    return { ModelArn: arn('model', name) };
  }

  /**
   * Called through the AWS SDK integration (`aws-sdk:sagemaker:deleteModel`), and named as it names
   * errors. A model another process recorded (and left behind) is deleted too.
   */
  async deleteModel(input: DeleteModelInput): Promise<Record<string, never>> {
    const name = input.ModelName ?? '';
    const model = this.#models.get(name.toLowerCase());
    const recorded =
      NAME_PATTERN.test(name) && this.#options.registry !== undefined
        ? await this.#options.registry.remove('model', name)
        : false;
    if (!model && !recorded) throw validationError(`Could not find model "${arn('model', name)}".`, 'sdk');
    if (!model) return {};
    this.#models.delete(name.toLowerCase());
    await model.delete();
    return {};
  }

  /** The models that exist, by name: with a registry, those it records, whichever process made them. */
  models(): string[] {
    return this.#options.registry?.names('model') ?? [...this.#models.values()].map((model) => model.name);
  }

  /** `createTransformJob.sync`: runs a Batch Transform job on the model's server (see LocalTransformJobs). */
  createTransformJob(input: CreateTransformJobRequest): Promise<TransformJobDescription> {
    return this.#transformJobs.create(input);
  }

  /** `createTrainingJob.sync`: runs a script-mode job with the machine's Python (see LocalTrainingJobs). */
  createTrainingJob(input: CreateTrainingJobRequest): Promise<TrainingJobDescription> {
    return this.#training.create(input);
  }

  createEndpointConfig(input: CreateEndpointConfigInput): Promise<{ EndpointConfigArn: string }> {
    return this.#endpoints.createEndpointConfig(input);
  }

  createEndpoint(input: CreateEndpointInput): Promise<{ EndpointArn: string }> {
    return this.#endpoints.createEndpoint(input);
  }

  describeEndpoint(input: DescribeEndpointInput): Promise<EndpointDescription> {
    return this.#endpoints.describeEndpoint(input);
  }

  deleteEndpoint(input: DeleteEndpointInput): Promise<Record<string, never>> {
    return this.#endpoints.deleteEndpoint(input);
  }

  deleteEndpointConfig(input: DeleteEndpointConfigInput): Promise<Record<string, never>> {
    return this.#endpoints.deleteEndpointConfig(input);
  }

  /** SageMaker Runtime's InvokeEndpoint, on a local endpoint. */
  invokeEndpoint(request: EndpointRequest): Promise<Buffer> {
    return this.#endpoints.invoke(request);
  }

  /** The endpoints and endpoint configs that exist, by name. */
  endpoints(): { endpoints: string[]; endpointConfigs: string[] } {
    return this.#endpoints.names();
  }

  /** Stops the transform job if it is running and waits until it has let go of its requests and outputs. */
  stopTransformJob(name: string): Promise<boolean> {
    return this.#transformJobs.stop(name);
  }

  /** Stops the training job if it is running and waits until its process has ended. */
  stopTrainingJob(name: string): Promise<boolean> {
    return this.#training.stop(name);
  }

  /**
   * Stops every running job, endpoint and model server; models stay, and start a server again when a job
   * needs one.
   */
  async close(): Promise<void> {
    await this.#transformJobs.close();
    await this.#training.close();
    await this.#endpoints.close();
    for (const model of this.#models.values()) await model.closeServers();
  }
}
