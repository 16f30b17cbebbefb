/**
 * TensorFlow Serving's REST request and response bodies, mapped onto an ONNX model's named tensors.
 *
 * Requests: `instances` (row format: one element per instance; with one model input the element is
 * that input's value, or an object holding it under the input's name; with several inputs an object
 * keyed by input name), `inputs` (columnar: the batched tensor, or an object of them keyed by input
 * name), and for classify and regress `examples` (objects keyed by input name; keys the model does not
 * take are ignored, as tf.Example features are) with an optional shared `context`.
 * Answers: `predictions` (row) or `outputs` (columnar), one output as its value, several as an object
 * keyed by output name; `results` for classify (`[[label, score], ...]` per example) and regress (one
 * number per example).
 * Tensors of every type onnxruntime takes; an input of no declared shape takes the shape sent; a
 * `{"b64": ...}` image for a numeric rank-4 input is decoded into its pixels (images.ts). A model has one
 * signature, `serving_default`, which predict requests may name; classify and regress requests name the
 * classify or regress signature of the SavedModel the ONNX file was exported from, and so any name.
 */
import type { TfsMethod } from '../../core/tfs/codec.ts';
import { RequestError } from '../errors.ts';
import { CLOSE_BRACE, CLOSE_BRACKET, COMMA, OPEN_BRACE, OPEN_BRACKET } from './ascii.ts';
import { type DecodedImage, decodeImage, type ImageGeometry, imageGeometry } from './images.ts';
import { JsonBytes } from './json-bytes.ts';
import {
  allocateTensor,
  elementWriter,
  isBase64,
  isNumericType,
  preview,
  storeElement,
  type TensorData,
  typeError,
} from './tensor-types.ts';

/** A model input or output as onnxruntime describes it: a string dimension is symbolic. */
export interface TensorInfo {
  readonly name: string;
  readonly type: string;
  /** Empty when the model declares no shape (or a scalar): the input then takes the shape sent. */
  readonly shape: readonly (number | string)[];
}

export interface Signature {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export interface Feed {
  readonly name: string;
  readonly type: string;
  readonly data: TensorData;
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

/** The most bytes the images of one request may decode to: memory stays bounded whatever is sent. */
export const MAX_IMAGE_TENSOR_BYTES = 1024 ** 3;
/** Images of a request decoded at once: enough to keep sharp's threads busy, few enough to hold. */
const IMAGES_IN_FLIGHT = 8;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object keyed by input names, as opposed to a value (`{"b64": ...}` is a value). */
function isKeyed(value: unknown): value is JsonObject {
  return isObject(value) && !isBase64(value);
}

export async function prepareRequest(
  request: unknown,
  method: TfsMethod,
  signature: Signature,
): Promise<Prepared> {
  if (!isObject(request)) {
    throw new RequestError(`the request must be a JSON object, not ${preview(request)}`);
  }
  const signatureName = request.signature_name;
  if (signatureName !== undefined && typeof signatureName !== 'string') {
    throw new RequestError(
      `JSON Value: ${preview(request)} not formatted correctly. 'signature_name' key must be a string value.`,
    );
  }
  if (method === 'predict' && signatureName !== undefined && signatureName !== SIGNATURE_NAME) {
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

function examples(request: JsonObject, method: TfsMethod, signature: Signature): Promise<Prepared> {
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

async function rows(
  key: string,
  list: unknown,
  method: TfsMethod,
  signature: Signature,
  isExamples: boolean,
): Promise<Prepared> {
  if (!Array.isArray(list) || list.length === 0) throw new RequestError(`'${key}' must be a non-empty list`);
  const batch = list.length;
  const names = signature.inputs.map((input) => input.name);
  const keyed = isExamples || names.length > 1 || isKeyed(list[0]);
  if (keyed) {
    list.forEach((item, r) => {
      if (!isKeyed(item)) throw new RequestError(`${key}[${r}] must be an object keyed by ${listed(names)}`);
      const missing = names.find((name) => !Object.hasOwn(item, name));
      if (missing !== undefined) throw new RequestError(`${key}[${r}] has no ${JSON.stringify(missing)}`);
      if (!isExamples && Object.keys(item).length !== names.length) {
        throw new RequestError(`${key}[${r}] must only have keys: ${listed(names)}`);
      }
    });
  }
  const feeds: Feed[] = [];
  for (const input of signature.inputs) {
    const where = (r: number) => (keyed ? `${key}[${r}].${input.name}` : `${key}[${r}]`);
    const values = keyed ? list.map((item: JsonObject) => item[input.name]) : list;
    feeds.push(await batchedFeed(input, values, where));
  }
  return { method, columnar: false, batch, feeds };
}

/** One input's instances stacked into a tensor whose first dimension is the batch. */
async function batchedFeed(
  input: TensorInfo,
  values: readonly unknown[],
  where: (r: number) => string,
): Promise<Feed> {
  const geometry = imageGeometry(input);
  if (geometry && isNumericType(input.type) && values.some(isBase64)) {
    return imageFeed(input, geometry, values, where);
  }
  const dims = resolveDims(shapeOf(values[0]), input, where(0), 'per instance');
  const size = dims.reduce((a, b) => a * b, 1);
  const data = allocateTensor(input.type, values.length * size);
  values.forEach((value, r) => {
    fillChecked(value, dims, input, data, r * size, where(r));
  });
  return { name: input.name, type: input.type, data, dims: [values.length, ...dims] };
}

function columns(inputs: unknown, signature: Signature): Prepared {
  const names = signature.inputs.map((input) => input.name);
  const named = isKeyed(inputs);
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
    const shape = shapeOf(value);
    let dims: number[];
    if (input.shape.length === 0) dims = shape;
    else {
      const [batch, ...rest] = shape;
      if (batch === undefined) {
        throw new RequestError(`${where} must be a list, batch first, not ${preview(value)}`);
      }
      dims = [batch, ...resolveDims(rest, input, where, 'after the batch dimension')];
    }
    const data = allocateTensor(
      input.type,
      dims.reduce((a, b) => a * b, 1),
    );
    fillChecked(value, dims, input, data, 0, where);
    return { name: input.name, type: input.type, data, dims };
  });
  return { method: 'predict', columnar: true, batch: feeds[0]?.dims[0] ?? 0, feeds };
}

/**
 * Images sent as `{"b64": ...}` (or, among them, as pixel arrays), decoded into the input's tensor a few
 * at a time: at most IMAGES_IN_FLIGHT decoded images are held besides the tensor.
 */
async function imageFeed(
  input: TensorInfo,
  geometry: ImageGeometry,
  values: readonly unknown[],
  where: (r: number) => string,
): Promise<Feed> {
  const decode = (r: number) => {
    const value = values[r];
    return isBase64(value) ? decodeImage(Buffer.from(value.b64, 'base64'), geometry, where(r)) : undefined;
  };
  // The first image gives the size when the model fixes none.
  const first = await decode(0);
  const height = first?.height ?? geometry.height;
  const width = first?.width ?? geometry.width;
  if (height === undefined || width === undefined) {
    throw new RequestError(
      `${where(0)}: the first instance of image input ${JSON.stringify(input.name)} must be {"b64": ...} to give its size`,
    );
  }
  const dims = geometry.channelsLast
    ? [height, width, geometry.channels]
    : [geometry.channels, height, width];
  const size = height * width * geometry.channels;
  const bytes = values.length * size * bytesPerElement(input.type);
  if (bytes > MAX_IMAGE_TENSOR_BYTES) {
    throw new RequestError(
      `the ${values.length} images of input ${JSON.stringify(input.name)} decode to ${bytes} bytes, over the limit of ${MAX_IMAGE_TENSOR_BYTES}: send fewer per request`,
    );
  }
  const data = allocateTensor(input.type, values.length * size);
  const place = (r: number, image: DecodedImage | undefined) => {
    if (image === undefined) return fillChecked(values[r], dims, input, data, r * size, where(r));
    if (image.height !== height || image.width !== width) {
      throw new RequestError(
        `${where(r)}: the image is ${image.width} x ${image.height} pixels, but the first one of the request is ${width} x ${height} and the model fixes no size`,
      );
    }
    writePixels(image.pixels, geometry, data, r * size);
  };
  place(0, first);
  for (let start = 1; start < values.length; start += IMAGES_IN_FLIGHT) {
    const rows = Array.from(
      { length: Math.min(IMAGES_IN_FLIGHT, values.length - start) },
      (_, k) => start + k,
    );
    const images = await Promise.all(rows.map(decode));
    rows.forEach((r, k) => {
      place(r, images[k]);
    });
  }
  return { name: input.name, type: input.type, data, dims: [values.length, ...dims] };
}

function writePixels(pixels: Uint8Array, geometry: ImageGeometry, out: TensorData, at: number): void {
  const { channels, channelsLast } = geometry;
  const plane = pixels.length / channels;
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let k = 0; k < pixels.length; k++) {
    const index = channelsLast ? at + k : at + (k % channels) * plane + Math.floor(k / channels);
    const value = pixels[k] ?? 0;
    (out as unknown as unknown[])[index] = big ? BigInt(value) : value;
  }
}

function bytesPerElement(type: string): number {
  const data = allocateTensor(type, 0);
  return Array.isArray(data) ? 8 : data.BYTES_PER_ELEMENT;
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

/**
 * The input's dimensions after the batch, symbolic ones taken from `shape`, when `shape` fits them; an
 * input of no declared shape takes `shape` as it is.
 */
function resolveDims(shape: readonly number[], input: TensorInfo, where: string, per: string): number[] {
  if (input.shape.length === 0) return [...shape];
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

/** Writes `value`, which must have exactly `dims`, into `out` from `at`, or throws the 400 saying why not. */
function fillChecked(
  value: unknown,
  dims: readonly number[],
  input: TensorInfo,
  out: TensorData,
  at: number,
  where: string,
): void {
  if (fill(value, dims, 0, input.type, out, at) >= 0) return;
  const odd = firstWrongElement(value, dims.length, input.type);
  if (odd !== undefined) throw typeError(odd.value, input.type, input.name, where);
  throw new RequestError(
    `${where} is not a dense tensor of shape [${dims.join(',')}] (its first elements give [${shapeOf(value).join(',')}])`,
  );
}

/**
 * Writes the elements of `value`, which must have exactly `dims`, into `out` from `at`. Returns the
 * position after them, or -1 when the value does not have that shape or holds something else.
 */
function fill(
  value: unknown,
  dims: readonly number[],
  level: number,
  type: string,
  out: TensorData,
  at: number,
): number {
  if (level === dims.length) return storeElement(type, out, at, value) ? at + 1 : -1;
  if (!Array.isArray(value) || value.length !== dims[level]) return -1;
  let next = at;
  for (const item of value) {
    next = fill(item, dims, level + 1, type, out, next);
    if (next < 0) return -1;
  }
  return next;
}

/** The first leaf (at the tensor's rank) that is not an element of the type. */
function firstWrongElement(value: unknown, rank: number, type: string): { value: unknown } | undefined {
  if (rank === 0 || !Array.isArray(value)) {
    if (Array.isArray(value)) return undefined;
    return storeElement(type, allocateTensor(type, 1), 0, value) ? undefined : { value };
  }
  for (const item of value) {
    const odd = firstWrongElement(item, rank - 1, type);
    if (odd !== undefined) return odd;
  }
  return undefined;
}

function listed(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(', ');
}

type ElementWriter = (out: JsonBytes, value: unknown) => void;

/** The JSON answer to a prepared request, from the model's outputs, as UTF-8. */
export function formatResponse(
  prepared: Prepared,
  outputs: readonly TensorInfo[],
  results: Readonly<Record<string, OutputTensor>>,
): Uint8Array {
  const tensors = outputs.map((info) => {
    const tensor = results[info.name];
    if (tensor === undefined) throw new Error(`the model did not answer output ${info.name}`);
    return { name: info.name, tensor };
  });
  // Room for the usual answer: about a dozen bytes per element.
  const out = new JsonBytes(tensors.reduce((sum, { tensor }) => sum + tensor.data.length * 12, 64));
  if (prepared.columnar) {
    const [only] = tensors;
    out.text('{"outputs":');
    if (tensors.length === 1 && only) {
      writeTensor(out, only.tensor, 0, 0, elementWriter(only.tensor.type, only.name));
    } else {
      out.text('{');
      for (const [k, { name, tensor }] of tensors.entries()) {
        out.text(`${k > 0 ? ',' : ''}${JSON.stringify(name)}:`);
        writeTensor(out, tensor, 0, 0, elementWriter(tensor.type, name));
      }
      out.text('}');
    }
    out.text('}');
    return out.finish();
  }
  for (const { name, tensor } of tensors) {
    if (tensor.dims[0] !== prepared.batch) {
      throw new RequestError(
        `output ${JSON.stringify(name)} has ${tensor.dims[0] ?? 'no'} rows for ${prepared.batch} instances; the row format needs one per instance`,
      );
    }
  }
  if (prepared.method === 'classify') classifyResults(out, tensors, prepared.batch);
  else if (prepared.method === 'regress') regressResults(out, tensors, prepared.batch);
  else predictions(out, tensors, prepared.batch);
  return out.finish();
}

/** `predictions`: each instance's output, or an object of its outputs keyed by name. */
function predictions(out: JsonBytes, tensors: readonly NamedTensor[], batch: number): void {
  const cells = tensors.map(({ name, tensor }) => ({
    key: `${JSON.stringify(name)}:`,
    tensor,
    size: rowSize(tensor),
    write: elementWriter(tensor.type, name),
  }));
  const [only] = cells;
  out.text('{"predictions":[');
  for (let r = 0; r < batch; r++) {
    if (r > 0) out.byte(COMMA);
    if (cells.length === 1 && only) {
      writeTensor(out, only.tensor, 1, r * only.size, only.write);
      continue;
    }
    out.byte(OPEN_BRACE);
    for (const [k, cell] of cells.entries()) {
      if (k > 0) out.byte(COMMA);
      out.text(cell.key);
      writeTensor(out, cell.tensor, 1, r * cell.size, cell.write);
    }
    out.byte(CLOSE_BRACE);
  }
  out.text(']}');
}

interface NamedTensor {
  readonly name: string;
  readonly tensor: OutputTensor;
}

/**
 * Classify's `[[label, score], ...]` per example: scores from the one numeric output, labels from a
 * string output when the model has one, else "", as TFS answers a signature without classes.
 */
function classifyResults(out: JsonBytes, tensors: readonly NamedTensor[], batch: number): void {
  const labels = tensors.find(({ tensor }) => tensor.type === 'string')?.tensor;
  const scores = tensors.filter(({ tensor }) => tensor.type !== 'string');
  const [only] = scores;
  if (scores.length !== 1 || only === undefined || tensors.length - scores.length > 1) {
    throw new RequestError(
      `classify needs a model with one output of scores (and at most one of class labels, strings); this one has ${listed(tensors.map((t) => t.name))}`,
    );
  }
  const { tensor } = only;
  const classes = rowSize(tensor);
  const write = elementWriter(tensor.type, '');
  out.text('{"results":[');
  for (let r = 0; r < batch; r++) {
    out.text(r > 0 ? ',[' : '[');
    for (let c = 0; c < classes; c++) {
      const label = JSON.stringify(labels?.data[r * classes + c] ?? '');
      out.text(`${c > 0 ? ',' : ''}[${label},`);
      write(out, tensor.data[r * classes + c]);
      out.byte(CLOSE_BRACKET);
    }
    out.byte(CLOSE_BRACKET);
  }
  out.text(']}');
}

function regressResults(out: JsonBytes, tensors: readonly NamedTensor[], batch: number): void {
  const [only] = tensors;
  if (tensors.length !== 1 || only === undefined) {
    throw new RequestError(
      `regress needs a model with one output; this one has ${listed(tensors.map((t) => t.name))}`,
    );
  }
  const { tensor } = only;
  if (rowSize(tensor) !== 1) {
    throw new RequestError(`regress needs one value per example; the model's output has ${rowSize(tensor)}`);
  }
  const write = elementWriter(tensor.type, '');
  out.text('{"results":[');
  for (let r = 0; r < batch; r++) {
    if (r > 0) out.byte(COMMA);
    write(out, tensor.data[r]);
  }
  out.text(']}');
}

function rowSize(tensor: OutputTensor): number {
  return tensor.dims.slice(1).reduce((a, b) => a * b, 1);
}

/** The tensor's values from `offset`, nested as its dimensions from `level` on. */
function writeTensor(
  out: JsonBytes,
  tensor: OutputTensor,
  level: number,
  offset: number,
  write: ElementWriter,
): void {
  const { dims, data } = tensor;
  if (level === dims.length) {
    write(out, data[offset]);
    return;
  }
  const count = dims[level] ?? 0;
  out.byte(OPEN_BRACKET);
  if (level === dims.length - 1) {
    for (let k = 0; k < count; k++) {
      if (k > 0) out.byte(COMMA);
      write(out, data[offset + k]);
    }
  } else {
    const stride = dims.slice(level + 1).reduce((a, b) => a * b, 1);
    for (let k = 0; k < count; k++) {
      if (k > 0) out.byte(COMMA);
      writeTensor(out, tensor, level + 1, offset + k * stride, write);
    }
  }
  out.byte(CLOSE_BRACKET);
}
