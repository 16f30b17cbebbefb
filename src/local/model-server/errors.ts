import { PipelineError } from '../../core/errors.ts';

/** The model folder is not in TensorFlow Serving layout, `<name>/<version>/model.onnx`. */
export class ModelLayoutError extends PipelineError {
  override readonly name = 'ModelLayoutError';
}

/** onnxruntime cannot load the model, or the model has inputs the local model server cannot feed. */
export class ModelLoadError extends PipelineError {
  override readonly name = 'ModelLoadError';
}

/** A request the server answers with a client error; `status` is the HTTP status, as TFS would give. */
export class RequestError extends PipelineError {
  override readonly name = 'RequestError';
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}
