/**
 * ONNX model files written from TypeScript: the few messages of onnx.proto small networks need
 * (dense layers, convolutions, element-wise graphs), encoded with protobufjs. Field numbers are those
 * of onnx/onnx.proto.
 */
import protobuf from 'protobufjs';

const ONNX_SUBSET = `
syntax = "proto2";
package onnx;

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
}

message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  repeated int64 ints = 8;
  optional int32 type = 20;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  optional Tensor tensor_type = 1;
}

message TensorShapeProto {
  message Dimension {
    optional int64 dim_value = 1;
    optional string dim_param = 2;
  }
  repeated Dimension dim = 1;
}
`;

const ModelProto = protobuf.parse(ONNX_SUBSET).root.lookupType('onnx.ModelProto');

/** IR version 8 with the default opset 13: well inside what onnxruntime 1.x loads. */
const IR_VERSION = 8;
const OPSET = 13;
/** TensorProto.DataType values, by onnxruntime's names of the types. */
const DATA_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const;
export type OnnxType = keyof typeof DATA_TYPES;
/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPES = { float: 1, int: 2, ints: 7 } as const;

/**
 * A graph input or output: a number per fixed dimension and a name per symbolic one, or no `dims` at
 * all for a tensor of unknown rank; float32 by default.
 */
export interface TensorSpec {
  readonly name: string;
  readonly dims?: readonly (number | string)[];
  readonly type?: OnnxType;
}

/** A constant tensor of the graph, in row-major order: float32, or int64 (shapes, indexes). */
export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly values: Float32Array | BigInt64Array;
}

/** An operator attribute: a float, an int, or a list of ints. */
export type AttributeValue =
  | { readonly float: number }
  | { readonly int: number }
  | { readonly ints: readonly number[] };

/** One operator of the default ONNX domain. */
export interface GraphNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface Graph {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly nodes: readonly GraphNode[];
  readonly initializers: readonly Initializer[];
}

/** The bytes of an ONNX model file holding `graph`. */
export function onnxModel(graph: Graph): Uint8Array {
  const valueInfo = ({ name, dims, type = 'float32' }: TensorSpec) => ({
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPES[type],
        ...(dims && {
          shape: {
            dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })),
          },
        }),
      },
    },
  });
  const model = {
    irVersion: IR_VERSION,
    producerName: 'tf-sagemaker-batch-pipeline',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'main',
      node: graph.nodes.map((node, k) => ({
        name: `${node.opType.toLowerCase()}_${k}`,
        opType: node.opType,
        input: node.inputs,
        output: node.outputs,
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value)),
      })),
      initializer: graph.initializers.map(({ name, dims, values }) => {
        if (values.length !== dims.reduce((size, dim) => size * dim, 1)) {
          throw new RangeError(`initializer ${name}: ${values.length} values do not fill dims [${dims}]`);
        }
        const dataType = values instanceof Float32Array ? DATA_TYPES.float32 : DATA_TYPES.int64;
        return { name, dims, dataType, rawData: littleEndian(values) };
      }),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function attribute(name: string, value: AttributeValue) {
  if ('float' in value) return { name, type: ATTRIBUTE_TYPES.float, f: value.float };
  if ('int' in value) return { name, type: ATTRIBUTE_TYPES.int, i: value.int };
  return { name, type: ATTRIBUTE_TYPES.ints, ints: value.ints };
}

function littleEndian(values: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  values.forEach((value: number | bigint, k: number) => {
    if (typeof value === 'bigint') view.setBigInt64(k * 8, value, true);
    else view.setFloat32(k * 4, value, true);
  });
  return bytes;
}

export type Activation = 'relu' | 'softmax' | 'none';

/** A fully connected layer: `activation(x · weights + bias)`, weights row-major [inputs, outputs]. */
export interface DenseLayer {
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: Activation;
}

export interface DenseNetwork {
  readonly inputName: string;
  readonly outputName: string;
  readonly layers: readonly DenseLayer[];
}

/**
 * The bytes of an ONNX model computing the network: one MatMul and one Add per layer, then Relu or
 * Softmax. Input `[batch, inputs of the first layer]`, output `[batch, outputs of the last]`, float32.
 */
export function denseNetwork(network: DenseNetwork): Uint8Array {
  const { inputName, outputName, layers } = network;
  const first = layers[0];
  const last = layers[layers.length - 1];
  if (first === undefined || last === undefined) throw new RangeError('a dense network needs a layer');
  const nodes: GraphNode[] = [];
  const initializers: Initializer[] = [];
  let x = inputName;
  layers.forEach((layer, k) => {
    const { weights, bias, inputs, outputs, activation } = layer;
    const previous = layers[k - 1];
    if (previous !== undefined && previous.outputs !== inputs) {
      throw new RangeError(`layer ${k + 1} takes ${inputs} values but layer ${k} gives ${previous.outputs}`);
    }
    const result = k === layers.length - 1 ? outputName : `l${k}_out`;
    const sum = activation === 'none' ? result : `l${k}_sum`;
    initializers.push(
      { name: `l${k}_weights`, dims: [inputs, outputs], values: weights },
      { name: `l${k}_bias`, dims: [outputs], values: bias },
    );
    nodes.push(
      { opType: 'MatMul', inputs: [x, `l${k}_weights`], outputs: [`l${k}_matmul`] },
      { opType: 'Add', inputs: [`l${k}_matmul`, `l${k}_bias`], outputs: [sum] },
    );
    if (activation !== 'none') {
      nodes.push({ opType: activation === 'relu' ? 'Relu' : 'Softmax', inputs: [sum], outputs: [result] });
    }
    x = result;
  });
  return onnxModel({
    inputs: [{ name: inputName, dims: ['batch', first.inputs] }],
    outputs: [{ name: outputName, dims: ['batch', last.outputs] }],
    nodes,
    initializers,
  });
}

/**
 * The network's outputs for `batch` rows laid end to end in `rows`, computed in plain TypeScript
 * (float64 arithmetic, float32 result): what the ONNX model should answer.
 */
export function evaluateDense(network: DenseNetwork, rows: Float32Array, batch: number): Float32Array {
  let x: Float64Array = Float64Array.from(rows);
  for (const { weights, bias, inputs, outputs, activation } of network.layers) {
    if (x.length !== batch * inputs) {
      throw new RangeError(`expected ${batch} rows of ${inputs} values, got ${x.length} values`);
    }
    const y = new Float64Array(batch * outputs);
    for (let r = 0; r < batch; r++) {
      const out = y.subarray(r * outputs, (r + 1) * outputs);
      out.set(bias);
      for (let i = 0; i < inputs; i++) {
        const xi = x[r * inputs + i] ?? 0;
        for (let j = 0; j < outputs; j++) out[j] = (out[j] ?? 0) + xi * (weights[i * outputs + j] ?? 0);
      }
      if (activation === 'relu') out.set(out.map((v) => Math.max(0, v)));
      if (activation === 'softmax') softmaxInPlace(out);
    }
    x = y;
  }
  return Float32Array.from(x);
}

/** Replaces the values with their softmax, computed stably. */
export function softmaxInPlace(values: Float64Array): void {
  const max = values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  values.set(values.map((v) => Math.exp(v - max)));
  const total = values.reduce((a, b) => a + b, 0);
  values.set(values.map((v) => v / total));
}

/** A deterministic stream of numbers in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomNetworkOptions {
  /** Layer widths from input to output, for example [64, 256, 10]. */
  readonly sizes: readonly number[];
  readonly seed: number;
  readonly inputName?: string;
  readonly outputName?: string;
}

/**
 * A network of the given widths with Glorot-uniform weights and zero biases drawn from `seed`:
 * ReLU between layers, softmax at the end. The same seed gives the same network.
 */
export function randomDenseNetwork(options: RandomNetworkOptions): DenseNetwork {
  const { sizes, seed, inputName = 'features', outputName = 'probabilities' } = options;
  if (sizes.length < 2) throw new RangeError('a network needs at least an input and an output width');
  const random = seededRandom(seed);
  const layers: DenseLayer[] = [];
  for (let k = 1; k < sizes.length; k++) {
    const inputs = sizes[k - 1] ?? 0;
    const outputs = sizes[k] ?? 0;
    const limit = Math.sqrt(6 / (inputs + outputs));
    const weights = new Float32Array(inputs * outputs);
    for (let i = 0; i < weights.length; i++) weights[i] = (2 * random() - 1) * limit;
    layers.push({
      weights,
      bias: new Float32Array(outputs),
      inputs,
      outputs,
      activation: k === sizes.length - 1 ? 'softmax' : 'relu',
    });
  }
  return { inputName, outputName, layers };
}
