/**
 * TensorFlow Serving's REST request and response bodies, mapped onto an ONNX model's named tensors.
 *
 * Requests: `instances` (row format: one element per instance; with one model input the element is
 * that input's value, or an object holding it under the input's name; with several inputs an object
 * keyed by input name), `inputs` (columnar: the batched tensor, or an object of them keyed by input
 * name), and for classify and regress `examples` (objects keyed by input name; keys the model does not
 * take are ignored, as tf.Example features are) with an optional shared `context`.
 * Answers: `predictions` (row) or `outputs` (columnar), one output as its value, several as an object
 * keyed by output name; `results` for classify (`[["<class index>", score], ...]` per example) and
 * regress (one number per example).
 */
import type { TfsMethod } from '../../core/tfs/codec.ts';
import { RequestError } from '../errors.ts';
import { formatFloat32 } from './format.ts';

/** A model input or output as onnxruntime describes it: a string dimension is symbolic. */
export interface TensorInfo {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

export interface Signature {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export interface Feed {
  readonly name: string;
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** A request turned into model feeds, with what its answer must look like. */
export interface Prepared {
  readonly method: TfsMethod;
  readonly columnar: boolean;
  readonly batch: number;
  readonly feeds: readonly Feed[];
}

/** A tensor the model answered, as onnxruntime gives it. */
export interface OutputTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: ArrayLike<unknown>;
}

export const SIGNATURE_NAME = 'serving_default';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function prepareRequest(request: unknown, method: TfsMethod, signature: Signature): Prepared {
  if (!isObject(request)) {
    throw new RequestError(`the request must be a JSON object, not ${preview(request)}`);
  }
  const signatureName = request.signature_name;
  if (signatureName !== undefined && signatureName !== SIGNATURE_NAME) {
    throw new RequestError(`Serving signature name: ${preview(signatureName)} not found in signature def`);
  }
  if (method !== 'predict') return examples(request, method, signature);
  const { instances, inputs } = request;
  if (instances !== undefined && inputs !== undefined) {
    throw new RequestError(
      "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exist",
    );
  }
  if (instances !== undefined) return rows('instances', instances, method, signature, false);
  if (inputs !== undefined) return columns(inputs, signature);
  throw new RequestError("Missing 'inputs' or 'instances' key");
}

function examples(request: JsonObject, method: TfsMethod, signature: Signature): Prepared {
  const { examples: list, context } = request;
  if (list === undefined) {
    throw new RequestError(`Missing 'examples' key: the ${method} API takes {"examples": [...]}`);
  }
  if (context !== undefined && !isObject(context)) throw new RequestError("'context' must be an object");
  const merged =
    context && Array.isArray(list)
      ? list.map((item) => (isObject(item) ? { ...context, ...item } : item))
      : list;
  return rows('examples', merged, method, signature, true);
}

function rows(
  key: string,
  list: unknown,
  method: TfsMethod,
  signature: Signature,
  isExamples: boolean,
): Prepared {
  if (!Array.isArray(list) || list.length === 0) throw new RequestError(`'${key}' must be a non-empty list`);
  const batch = list.length;
  const names = signature.inputs.map((input) => input.name);
  const keyed = isExamples || names.length > 1 || isObject(list[0]);
  if (keyed) {
    list.forEach((item, r) => {
      if (!isObject(item)) throw new RequestError(`${key}[${r}] must be an object keyed by ${listed(names)}`);
      const missing = names.find((name) => !Object.hasOwn(item, name));
      if (missing !== undefined) throw new RequestError(`${key}[${r}] has no ${JSON.stringify(missing)}`);
      if (!isExamples && Object.keys(item).length !== names.length) {
        throw new RequestError(`${key}[${r}] must only have keys: ${listed(names)}`);
      }
    });
  }
  const feeds = signature.inputs.map((input) => {
    const where = (r: number) => (keyed ? `${key}[${r}].${input.name}` : `${key}[${r}]`);
    const value = (r: number): unknown => (keyed ? (list[r] as JsonObject)[input.name] : list[r]);
    const dims = resolveDims(shapeOf(value(0)), input, where(0), 'per instance');
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(batch * size);
    for (let r = 0; r < batch; r++) {
      const item = value(r);
      if (fill(item, dims, 0, data, r * size) < 0) throw fillError(item, dims, input, where(r));
    }
    return { name: input.name, data, dims: [batch, ...dims] };
  });
  return { method, columnar: false, batch, feeds };
}

function columns(inputs: unknown, signature: Signature): Prepared {
  const names = signature.inputs.map((input) => input.name);
  const named = isObject(inputs);
  if (!named && names.length > 1) {
    throw new RequestError(`'inputs' must be an object keyed by ${listed(names)}, the model's inputs`);
  }
  if (named) {
    const unknown = Object.keys(inputs).find((name) => !names.includes(name));
    if (unknown !== undefined) {
      throw new RequestError(`'inputs' has ${JSON.stringify(unknown)}, not a model input`);
    }
  }
  const feeds = signature.inputs.map((input) => {
    const where = named ? `inputs.${input.name}` : 'inputs';
    const value = named ? inputs[input.name] : inputs;
    if (value === undefined) throw new RequestError(`'inputs' has no ${JSON.stringify(input.name)}`);
    const [batch, ...shape] = shapeOf(value);
    if (batch === undefined) {
      throw new RequestError(`${where} must be a list, batch first, not ${preview(value)}`);
    }
    const dims = [batch, ...resolveDims(shape, input, where, 'after the batch dimension')];
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (fill(value, dims, 0, data, 0) < 0) throw fillError(value, dims, input, where);
    return { name: input.name, data, dims };
  });
  return { method: 'predict', columnar: true, batch: feeds[0]?.dims[0] ?? 0, feeds };
}

/** The dimensions of a JSON value as TFS reads them: list lengths, following first elements. */
function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let at = value;
  while (Array.isArray(at)) {
    shape.push(at.length);
    at = at[0];
  }
  return shape;
}

/** The input's dimensions after the batch, symbolic ones taken from `shape`, when `shape` fits them. */
function resolveDims(shape: readonly number[], input: TensorInfo, where: string, per: string): number[] {
  const modelDims = input.shape.slice(1);
  const fits =
    shape.length === modelDims.length &&
    modelDims.every((dim, k) => typeof dim !== 'number' || dim < 0 || dim === shape[k]);
  if (!fits) {
    const name = JSON.stringify(input.name);
    throw new RequestError(
      `${where} has shape [${shape.join(',')}], but input ${name} takes [${modelDims.join(',')}] ${per}`,
    );
  }
  return [...shape];
}

/**
 * Writes the numbers of `value`, which must have exactly `dims`, into `out` from `at`. Returns the
 * position after them, or -1 when the value does not have that shape or holds something else.
 */
function fill(value: unknown, dims: readonly number[], level: number, out: Float32Array, at: number): number {
  if (level === dims.length) {
    if (typeof value !== 'number') return -1;
    out[at] = value;
    return at + 1;
  }
  if (!Array.isArray(value) || value.length !== dims[level]) return -1;
  let next = at;
  if (level === dims.length - 1) {
    for (const item of value) {
      if (typeof item !== 'number') return -1;
      out[next++] = item;
    }
    return next;
  }
  for (const item of value) {
    next = fill(item, dims, level + 1, out, next);
    if (next < 0) return -1;
  }
  return next;
}

function fillError(value: unknown, dims: readonly number[], input: TensorInfo, where: string): RequestError {
  const odd = firstNonNumber(value);
  if (odd !== undefined) {
    return new RequestError(
      `${where}: ${preview(odd.value)} is not a number; input ${JSON.stringify(input.name)} is ${input.type}`,
    );
  }
  return new RequestError(
    `${where} is not a dense tensor of shape [${dims.join(',')}] (its first elements give [${shapeOf(value).join(',')}])`,
  );
}

function firstNonNumber(value: unknown): { value: unknown } | undefined {
  if (typeof value === 'number') return undefined;
  if (!Array.isArray(value)) return { value };
  for (const item of value) {
    const odd = firstNonNumber(item);
    if (odd !== undefined) return odd;
  }
  return undefined;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function listed(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(', ');
}

/** The JSON answer to a prepared request, from the model's outputs. */
export function formatResponse(
  prepared: Prepared,
  outputs: readonly TensorInfo[],
  results: Readonly<Record<string, OutputTensor>>,
): string {
  const tensors = outputs.map((info) => {
    const tensor = results[info.name];
    if (tensor === undefined) throw new Error(`the model did not answer output ${info.name}`);
    return { name: info.name, tensor };
  });
  if (prepared.columnar) {
    const [only] = tensors;
    if (tensors.length === 1 && only) return `{"outputs":${tensorText(only.tensor, 0, 0)}}`;
    const members = tensors.map(({ name, tensor }) => `${JSON.stringify(name)}:${tensorText(tensor, 0, 0)}`);
    return `{"outputs":{${members.join(',')}}}`;
  }
  for (const { name, tensor } of tensors) {
    if (tensor.dims[0] !== prepared.batch) {
      throw new RequestError(
        `output ${JSON.stringify(name)} has ${tensor.dims[0] ?? 'no'} rows for ${prepared.batch} instances; the row format needs one per instance`,
      );
    }
  }
  if (prepared.method === 'classify') return classifyResults(tensors, prepared.batch);
  if (prepared.method === 'regress') return regressResults(tensors, prepared.batch);
  const cells = tensors.map(({ name, tensor }) => ({
    key: JSON.stringify(name),
    tensor,
    size: rowSize(tensor),
    value: valueText(tensor.type),
  }));
  const [only] = cells;
  const cellText = (cell: (typeof cells)[number], row: number) =>
    tensorText(cell.tensor, 1, row * cell.size, cell.value);
  let text = '{"predictions":[';
  for (let r = 0; r < prepared.batch; r++) {
    if (r > 0) text += ',';
    if (cells.length === 1 && only) text += cellText(only, r);
    else text += `{${cells.map((cell) => `${cell.key}:${cellText(cell, r)}`).join(',')}}`;
  }
  return `${text}]}`;
}

interface NamedTensor {
  readonly name: string;
  readonly tensor: OutputTensor;
}

function singleOutput(tensors: readonly NamedTensor[], method: TfsMethod): OutputTensor {
  const [only] = tensors;
  if (tensors.length !== 1 || only === undefined) {
    throw new RequestError(
      `${method} needs a model with one output; this one has ${listed(tensors.map((t) => t.name))}`,
    );
  }
  return only.tensor;
}

function classifyResults(tensors: readonly NamedTensor[], batch: number): string {
  const tensor = singleOutput(tensors, 'classify');
  const classes = rowSize(tensor);
  const value = valueText(tensor.type);
  let text = '{"results":[';
  for (let r = 0; r < batch; r++) {
    text += r > 0 ? ',[' : '[';
    for (let c = 0; c < classes; c++) {
      text += `${c > 0 ? ',' : ''}["${c}",${value(tensor.data[r * classes + c])}]`;
    }
    text += ']';
  }
  return `${text}]}`;
}

function regressResults(tensors: readonly NamedTensor[], batch: number): string {
  const tensor = singleOutput(tensors, 'regress');
  if (rowSize(tensor) !== 1) {
    throw new RequestError(`regress needs one value per example; the model's output has ${rowSize(tensor)}`);
  }
  const value = valueText(tensor.type);
  let text = '{"results":[';
  for (let r = 0; r < batch; r++) text += `${r > 0 ? ',' : ''}${value(tensor.data[r])}`;
  return `${text}]}`;
}

function rowSize(tensor: OutputTensor): number {
  return tensor.dims.slice(1).reduce((a, b) => a * b, 1);
}

/** The tensor's values from `offset`, nested as its dimensions from `level` on. */
function tensorText(
  tensor: OutputTensor,
  level: number,
  offset: number,
  value = valueText(tensor.type),
): string {
  const { dims, data } = tensor;
  if (level === dims.length) return value(data[offset]);
  const count = dims[level] ?? 0;
  let text = '[';
  if (level === dims.length - 1) {
    for (let k = 0; k < count; k++) text += `${k > 0 ? ',' : ''}${value(data[offset + k])}`;
  } else {
    const stride = dims.slice(level + 1).reduce((a, b) => a * b, 1);
    for (let k = 0; k < count; k++) {
      text += `${k > 0 ? ',' : ''}${tensorText(tensor, level + 1, offset + k * stride, value)}`;
    }
  }
  return `${text}]`;
}

function valueText(type: string): (value: unknown) => string {
  switch (type) {
    case 'float32':
      return (value) => formatFloat32(value as number);
    case 'string':
      return (value) => JSON.stringify(value);
    case 'bool':
      return (value) => (value ? 'true' : 'false');
    default:
      return (value) => String(value);
  }
}
