import type {
  CreateEndpointConfigInput,
  CreateEndpointInput,
  DeleteEndpointConfigInput,
  DeleteEndpointInput,
  DescribeEndpointInput,
} from '@aws-sdk/client-sagemaker';
import { EndpointInvocationError } from '../../core/errors.ts';
import type { EndpointRequest } from '../../core/ports/endpoints.ts';
import { validationError } from '../errors.ts';
import { ContainerClient, type ContainerResponse } from './container-client.ts';
import type { ModelContainer, ModelHost, ModelServer } from './model-host-port.ts';
import { arn, checkInteger, checkName, missing, NAME_PATTERN } from './names.ts';
import type { ResourceRegistry } from './registry.ts';

export interface LocalEndpointsOptions {
  readonly models: ModelHost;
  /** The container of a model that exists, by name. */
  readonly model: (name: string) => ModelContainer | undefined;
  readonly registry?: ResourceRegistry;
}

/** What DescribeEndpoint answers. */
export interface EndpointDescription {
  readonly EndpointName: string;
  readonly EndpointArn: string;
  readonly EndpointConfigName: string;
  readonly EndpointStatus: 'Creating' | 'InService' | 'Failed';
  readonly FailureReason?: string;
  readonly CreationTime: number;
  readonly LastModifiedTime: number;
}

interface EndpointConfig {
  readonly name: string;
  readonly modelName: string;
  /** A serverless endpoint takes at most this many requests at once and throttles the others. */
  readonly maxConcurrency?: number;
}

interface Endpoint {
  readonly name: string;
  readonly config: EndpointConfig;
  status: EndpointDescription['EndpointStatus'];
  failureReason?: string;
  readonly createdAt: number;
  modifiedAt: number;
  readonly server: Promise<ModelServer>;
  client?: ContainerClient;
  inFlight: number;
}

const EXCERPT_CHARS = 200;

/**
 * SageMaker endpoints on one machine: an endpoint config names a model (and a serverless config), and
 * an endpoint serves it from a model server of the ModelHost, started when the endpoint is created and
 * closed when it is deleted. InvokeEndpoint posts to the server's /invocations and answers as
 * SageMaker Runtime does: the model's errors as ModelError, requests over a serverless endpoint's
 * MaxConcurrency throttled.
 */
export class LocalEndpoints {
  readonly #options: LocalEndpointsOptions;
  /** By name in lower case, as SageMaker's names are unique regardless of case. */
  readonly #configs = new Map<string, EndpointConfig>();
  readonly #endpoints = new Map<string, Endpoint>();

  constructor(options: LocalEndpointsOptions) {
    this.#options = options;
  }

  async createEndpointConfig(input: CreateEndpointConfigInput): Promise<{ EndpointConfigArn: string }> {
    const name = checkName('endpointConfigName', input.EndpointConfigName);
    const [variant, ...others] = input.ProductionVariants ?? [];
    if (!variant) throw missing('productionVariants');
    if (others.length > 0) throw validationError('Local mode serves one production variant per endpoint.');
    const modelName = variant.ModelName;
    if (modelName === undefined) throw missing('productionVariants.1.member.modelName');
    if (!this.#options.model(modelName))
      throw validationError(`Could not find model "${arn('model', modelName)}".`);
    const serverless = variant.ServerlessConfig;
    if (serverless) {
      checkInteger(
        'productionVariants.1.member.serverlessConfig.memorySizeInMB',
        serverless.MemorySizeInMB,
        1024,
        6144,
      );
      checkInteger(
        'productionVariants.1.member.serverlessConfig.maxConcurrency',
        serverless.MaxConcurrency,
        1,
        200,
      );
      if ((serverless.MemorySizeInMB ?? 0) % 1024 !== 0) {
        throw validationError('MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120 or 6144.');
      }
    }
    const exists = () =>
      validationError(
        `Cannot create already existing endpoint configuration "${arn('endpoint-config', name)}".`,
      );
    if (this.#configs.has(name.toLowerCase())) throw exists();
    if (this.#options.registry && !(await this.#options.registry.add('endpoint-config', name)))
      throw exists();
    this.#configs.set(name.toLowerCase(), {
      name,
      modelName,
      ...(serverless?.MaxConcurrency !== undefined && { maxConcurrency: serverless.MaxConcurrency }),
    });
    return { EndpointConfigArn: arn('endpoint-config', name) };
  }

  /**
   * Creates the endpoint and starts its model server. SageMaker answers at once and the endpoint is
   * Creating until it is InService or Failed; the local server starts in moments, so this answers once
   * it is one or the other, and DescribeEndpoint tells which.
   */
  async createEndpoint(input: CreateEndpointInput): Promise<{ EndpointArn: string }> {
    const name = checkName('endpointName', input.EndpointName);
    if (input.EndpointConfigName === undefined) throw missing('endpointConfigName');
    const config = this.#configs.get(input.EndpointConfigName.toLowerCase());
    if (!config) {
      throw validationError(
        `Could not find endpoint configuration "${arn('endpoint-config', input.EndpointConfigName)}".`,
      );
    }
    const container = this.#options.model(config.modelName);
    if (!container) throw validationError(`Could not find model "${arn('model', config.modelName)}".`);
    const exists = () =>
      validationError(`Cannot create already existing endpoint "${arn('endpoint', name)}".`);
    if (this.#endpoints.has(name.toLowerCase())) throw exists();
    if (this.#options.registry && !(await this.#options.registry.add('endpoint', name))) throw exists();
    const now = Date.now();
    const endpoint: Endpoint = {
      name,
      config,
      status: 'Creating',
      createdAt: now,
      modifiedAt: now,
      server: this.#options.models.start(container),
      inFlight: 0,
    };
    this.#endpoints.set(name.toLowerCase(), endpoint);
    try {
      endpoint.client = new ContainerClient((await endpoint.server).url);
      endpoint.status = 'InService';
    } catch (error) {
      endpoint.status = 'Failed';
      endpoint.failureReason = `ClientError: the model server for model ${config.modelName} could not start: ${(error as Error).message}`;
    }
    endpoint.modifiedAt = Date.now();
    return { EndpointArn: arn('endpoint', name) };
  }

  /** Called through the AWS SDK integration (`aws-sdk:sagemaker:describeEndpoint`), and named as it names errors. */
  async describeEndpoint(input: DescribeEndpointInput): Promise<EndpointDescription> {
    const endpoint = this.#endpoint(input.EndpointName);
    return {
      EndpointName: endpoint.name,
      EndpointArn: arn('endpoint', endpoint.name),
      EndpointConfigName: endpoint.config.name,
      EndpointStatus: endpoint.status,
      ...(endpoint.failureReason !== undefined && { FailureReason: endpoint.failureReason }),
      CreationTime: endpoint.createdAt,
      LastModifiedTime: endpoint.modifiedAt,
    };
  }

  /** Called through the AWS SDK integration; deletes an endpoint another process recorded and left, too. */
  async deleteEndpoint(input: DeleteEndpointInput): Promise<Record<string, never>> {
    const name = input.EndpointName ?? '';
    const endpoint = this.#endpoints.get(name.toLowerCase());
    const recorded = await this.#forget('endpoint', name);
    if (!endpoint && !recorded)
      throw validationError(`Could not find endpoint "${arn('endpoint', name)}".`, 'sdk');
    if (!endpoint) return {};
    this.#endpoints.delete(name.toLowerCase());
    await closeEndpoint(endpoint);
    return {};
  }

  /** Called through the AWS SDK integration; deletes a config another process recorded and left, too. */
  async deleteEndpointConfig(input: DeleteEndpointConfigInput): Promise<Record<string, never>> {
    const name = input.EndpointConfigName ?? '';
    const config = this.#configs.get(name.toLowerCase());
    const recorded = await this.#forget('endpoint-config', name);
    if (!config && !recorded) {
      throw validationError(
        `Could not find endpoint configuration "${arn('endpoint-config', name)}".`,
        'sdk',
      );
    }
    this.#configs.delete(name.toLowerCase());
    return {};
  }

  /** InvokeEndpoint: the response body of the endpoint's container. */
  async invoke(request: EndpointRequest): Promise<Buffer> {
    const endpoint = this.#endpoints.get(request.endpoint.toLowerCase());
    if (!endpoint?.client || endpoint.status !== 'InService') {
      throw new EndpointInvocationError(
        `ValidationError: Endpoint ${request.endpoint} of account 000000000000 not found.`,
        false,
      );
    }
    const limit = endpoint.config.maxConcurrency;
    if (limit !== undefined && endpoint.inFlight >= limit) {
      throw new EndpointInvocationError(
        `ThrottlingException: endpoint ${endpoint.name} is at its MaxConcurrency of ${limit}`,
        true,
      );
    }
    endpoint.inFlight++;
    let response: ContainerResponse;
    try {
      response = await endpoint.client.send('POST', '/invocations', {
        body: request.body,
        headers: { 'Content-Type': request.contentType, Accept: request.accept },
        timeoutMs: request.timeoutMs,
        signal: request.signal,
      });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw new EndpointInvocationError(`ModelError: ${(error as Error).message}`, true, { cause: error });
    } finally {
      endpoint.inFlight--;
    }
    const { status, body } = response;
    if (status >= 200 && status < 300) return body;
    const excerpt = body
      .toString('utf8', 0, Math.min(body.length, EXCERPT_CHARS * 4))
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, EXCERPT_CHARS);
    const kind = status >= 500 ? 'server' : 'client';
    throw new EndpointInvocationError(
      `ModelError: Received ${kind} error (${status}) from primary with message "${excerpt}"`,
      status >= 500 || status === 408 || status === 429,
    );
  }

  /** The endpoints and endpoint configs that exist, by name. */
  names(): { endpoints: string[]; endpointConfigs: string[] } {
    return {
      endpoints: [...this.#endpoints.values()].map((endpoint) => endpoint.name),
      endpointConfigs: [...this.#configs.values()].map((config) => config.name),
    };
  }

  /** Closes every endpoint's server: the endpoints go with this process (a registry still records them). */
  async close(): Promise<void> {
    const endpoints = [...this.#endpoints.values()];
    this.#endpoints.clear();
    for (const endpoint of endpoints) await closeEndpoint(endpoint);
  }

  #endpoint(name: string | undefined): Endpoint {
    const endpoint = this.#endpoints.get((name ?? '').toLowerCase());
    if (!endpoint) throw validationError(`Could not find endpoint "${arn('endpoint', name ?? '')}".`, 'sdk');
    return endpoint;
  }

  async #forget(kind: 'endpoint' | 'endpoint-config', name: string): Promise<boolean> {
    const { registry } = this.#options;
    return registry !== undefined && NAME_PATTERN.test(name) ? registry.remove(kind, name) : false;
  }
}

async function closeEndpoint(endpoint: Endpoint): Promise<void> {
  endpoint.client?.close();
  const [started] = await Promise.allSettled([endpoint.server]);
  if (started.status === 'fulfilled') await started.value.close();
}
