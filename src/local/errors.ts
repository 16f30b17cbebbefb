import { randomUUID } from 'node:crypto';
import { PipelineError } from '../core/errors.ts';

/**
 * Local mode's typed errors, in one place: the local SageMaker's (named as Step Functions names
 * SageMaker's), the training jobs', the model server's and its client's, the local runner's.
 */

/**
 * How a SageMaker call reaches the state machine: the optimized integrations (`sagemaker:createModel`,
 * `sagemaker:createTransformJob.sync`) go through the SDK for Java 1.x, the AWS SDK integrations
 * (`aws-sdk:sagemaker:deleteModel`) through the SDK for Java 2.x, and each names errors its own way.
 */
export type SageMakerIntegration = 'optimized' | 'sdk';

/**
 * SageMaker refused a call, named as Step Functions names it: `SageMaker.AmazonSageMakerException`
 * for an optimized integration and `SageMaker.SageMakerException` for an AWS SDK one (SageMaker's
 * ValidationException is not a modelled exception, so both SDKs report their service-wide class).
 * The message carries SageMaker's own error code, as the service's does.
 */
export class SageMakerApiError extends PipelineError {
  override readonly name: string;
  /** SageMaker's error code, such as `ValidationException`. */
  readonly code: string;

  constructor(integration: SageMakerIntegration, code: string, message: string) {
    const requestId = randomUUID();
    super(
      integration === 'optimized'
        ? `${message} (Service: AmazonSageMaker; Status Code: 400; Error Code: ${code}; Request ID: ${requestId}; Proxy: null)`
        : `${message} (Service: SageMaker, Status Code: 400, Request ID: ${requestId})`,
    );
    this.name =
      integration === 'optimized' ? 'SageMaker.AmazonSageMakerException' : 'SageMaker.SageMakerException';
    this.code = code;
  }
}

export function validationError(message: string, integration: SageMakerIntegration = 'optimized') {
  return new SageMakerApiError(integration, 'ValidationException', message);
}

/**
 * A `.sync` job that ended Failed or Stopped, as Step Functions reports it: `States.TaskFailed`, with
 * the job's FailureReason (`ClientError: ...`) leading the message.
 */
export class SageMakerJobError extends PipelineError {
  override readonly name = 'States.TaskFailed';
  readonly job: string;
  readonly status: 'Failed' | 'Stopped';

  constructor(job: string, status: 'Failed' | 'Stopped', message: string, options?: ErrorOptions) {
    super(message, options);
    this.job = job;
    this.status = status;
  }
}

/** Why a transform job failed: its message is the job's FailureReason. */
export class TransformFailure extends PipelineError {
  override readonly name = 'TransformFailure';
}

/** Why a training job failed: its message is the job's FailureReason. */
export class TrainingFailure extends PipelineError {
  override readonly name = 'TrainingFailure';
}

/** The model folder is not in TensorFlow Serving layout, `<name>/<version>/model.onnx`. */
export class ModelLayoutError extends PipelineError {
  override readonly name = 'ModelLayoutError';
}

/** A model.tar.gz holds an entry that would land outside the folder it is unpacked into, or too much. */
export class UnsafeArchiveError extends PipelineError {
  override readonly name = 'UnsafeArchiveError';
}

/** onnxruntime cannot load the model, or the model has inputs the local model server cannot feed. */
export class ModelLoadError extends PipelineError {
  override readonly name = 'ModelLoadError';
}

/**
 * A model's code/inference.py cannot serve: it defines neither `handler` nor both `input_handler` and
 * `output_handler`, it fails to load, or its requirements.txt cannot be installed. The server does not start.
 */
export class InferenceScriptError extends PipelineError {
  override readonly name = 'InferenceScriptError';
}

/** No python3 (with the requests package) to run a model's code/inference.py. */
export class PythonNotFoundError extends PipelineError {
  override readonly name = 'PythonNotFoundError';
}

/** A request the server answers with a client error; `status` is the HTTP status, as TFS would give. */
export class RequestError extends PipelineError {
  override readonly name = 'RequestError';
  readonly status: number;
  constructor(message: string, status = 400, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** The container did not answer within the request's timeout. */
export class ContainerTimeoutError extends PipelineError {
  override readonly name = 'ContainerTimeoutError';
}

/** The model server's URL is not one this client can call. */
export class ContainerUrlError extends PipelineError {
  override readonly name = 'ContainerUrlError';
}

/** The model a job names cannot be served here (no such folder, or a model local mode cannot read). */
export class LocalModelError extends PipelineError {
  override readonly name = 'LocalModelError';
}

/** An execution this process was asked to run is running in another process, or has already ended. */
export class ExecutionNotRunnableError extends PipelineError {
  override readonly name = 'ExecutionNotRunnableError';
}

/** Another `pipeline up` serves the data dir: two would run each job twice. */
export class DataDirInUseError extends PipelineError {
  override readonly name = 'DataDirInUseError';
  /** The process serving it. */
  readonly holder: number;
  constructor(dataDir: string, holder: number, options?: ErrorOptions) {
    super(
      `${dataDir} is in use by pipeline up (pid ${holder}): stop that one first, or use another --data-dir`,
      options,
    );
    this.holder = holder;
  }
}
