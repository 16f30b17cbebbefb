import fc from 'fast-check';
import { Writer } from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { ExampleDecodeError, PipelineError } from '../../../src/core/errors.ts';
import { encodeExample, exampleToJson } from '../../../src/core/records/example.ts';

function decodeError(data: Buffer): unknown {
  try {
    exampleToJson(data);
  } catch (error) {
    return error;
  }
  return undefined;
}

function finish(writer: Writer): Buffer {
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Wraps serialized Feature messages into an Example, one map entry per pair. */
function exampleOf(entries: [string, Buffer][]): Buffer {
  const writer = Writer.create();
  writer.uint32(0x0a).fork();
  for (const [name, feature] of entries) {
    writer.uint32(0x0a).fork().uint32(0x0a).string(name).uint32(0x12).bytes(feature).ldelim();
  }
  writer.ldelim();
  return finish(writer);
}

const float32Arb = fc.float({ noNaN: true, noDefaultInfinity: true });
const int64Arb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

describe('exampleToJson', () => {
  it('writes floats as the shortest decimal that reads back as the same float32', () => {
    const data = encodeExample({
      x: { floats: [0.1, 1.5, -2.25, 3.4028234663852886e38, 1e-45, 16777216, 0.3, -0] },
    });
    expect(exampleToJson(data)).toBe('{"x":[0.1,1.5,-2.25,3.4028235e+38,1e-45,16777216,0.3,-0]}');
  });

  it('finds the shorter decimal above a power of two', () => {
    // The nearest 8-digit decimal to 2^-96 lies below it, outside the float32's rounding interval.
    const value = Math.fround(2 ** -96);
    expect(exampleToJson(encodeExample({ x: { floats: [value] } }))).toBe('{"x":[1.2621775e-29]}');
    expect(Math.fround(1.2621775e-29)).toBe(value);
  });

  it('round-trips every float32 through its JSON text, packed or not', () => {
    fc.assert(
      fc.property(fc.array(float32Arb, { maxLength: 20 }), fc.boolean(), (floats, packed) => {
        const json = exampleToJson(encodeExample({ f: { floats } }, { packed }));
        const texts = json
          .slice('{"f":['.length, -']}'.length)
          .split(',')
          .filter((text) => text !== '');
        expect(texts).toHaveLength(floats.length);
        texts.forEach((text, i) => {
          expect(Object.is(Math.fround(JSON.parse(text)), floats[i])).toBe(true);
          const significant = text
            .replace(/^-/, '')
            .replace(/e.*$/, '')
            .replace('.', '')
            .replace(/^0+|0+$/g, '');
          expect(significant.length).toBeLessThanOrEqual(9);
        });
      }),
    );
  });

  it('writes int64 values exactly, negative and beyond 2^53 included', () => {
    const ints = [0, -1, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 42, -(2n ** 53n) - 3n];
    const expected =
      '{"n":[0,-1,9007199254740993,9223372036854775807,-9223372036854775808,42,-9007199254740995]}';
    expect(exampleToJson(encodeExample({ n: { ints } }))).toBe(expected);
    expect(exampleToJson(encodeExample({ n: { ints } }, { packed: false }))).toBe(expected);
  });

  it('writes any int64 list as exact decimal text, packed or not', () => {
    fc.assert(
      fc.property(fc.array(int64Arb, { maxLength: 20 }), fc.boolean(), (ints, packed) => {
        expect(exampleToJson(encodeExample({ n: { ints } }, { packed }))).toBe(`{"n":[${ints.join(',')}]}`);
      }),
    );
  });

  it('gives the same JSON for packed and unpacked floats and int64s', () => {
    fc.assert(
      fc.property(
        fc.array(float32Arb, { maxLength: 10 }),
        fc.array(int64Arb, { maxLength: 10 }),
        (floats, ints) => {
          const features = { f: { floats }, i: { ints } };
          expect(exampleToJson(encodeExample(features, { packed: false }))).toBe(
            exampleToJson(encodeExample(features, { packed: true })),
          );
        },
      ),
    );
  });

  it('writes bytes values as base64 objects', () => {
    const data = encodeExample({
      img: { bytes: [Buffer.from('hi'), Buffer.alloc(0), Buffer.from([0xff, 0xfe])] },
    });
    expect(exampleToJson(data)).toBe('{"img":[{"b64":"aGk="},{"b64":""},{"b64":"//4="}]}');
  });

  it('round-trips any bytes list through base64', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), (lists) => {
        const bytes = lists.map((list) => Buffer.from(list));
        const parsed = JSON.parse(exampleToJson(encodeExample({ b: { bytes } }))) as { b: { b64: string }[] };
        expect(parsed.b.map((value) => Buffer.from(value.b64, 'base64'))).toEqual(bytes);
      }),
    );
  });

  it('keeps the order of the features in the bytes and escapes their names', () => {
    const data = encodeExample({
      zeta: { ints: [1] },
      'a "quoted" name': { floats: [2] },
      alpha: { bytes: [] },
    });
    expect(exampleToJson(data)).toBe('{"zeta":[1],"a \\"quoted\\" name":[2],"alpha":[]}');
  });

  it('writes a feature with no kind set as an empty list', () => {
    expect(exampleToJson(exampleOf([['empty', Buffer.alloc(0)]]))).toBe('{"empty":[]}');
  });

  it('reads an Example with no features as an empty object', () => {
    expect(exampleToJson(Buffer.alloc(0))).toBe('{}');
    expect(exampleToJson(encodeExample({}))).toBe('{}');
  });

  it('skips unknown fields and lets a repeated feature name take its last value', () => {
    const floatFeature = finish(Writer.create().uint32(0x12).fork().uint32(0x0d).float(1.5).ldelim());
    const intFeature = finish(Writer.create().uint32(0x1a).fork().uint32(0x08).int64(7).ldelim());
    const unknownField = finish(Writer.create().uint32(0x28).uint32(99).uint32(0x22).string('extra'));
    const data = Buffer.concat([
      exampleOf([
        ['a', floatFeature],
        ['b', Buffer.concat([unknownField, intFeature])],
        ['a', intFeature],
      ]),
      unknownField,
    ]);
    expect(exampleToJson(data)).toBe('{"a":[7],"b":[7]}');
  });

  it('joins the values of a list split over several fields and lets another kind replace them', () => {
    const ints = (value: number) =>
      finish(Writer.create().uint32(0x1a).fork().uint32(0x08).int64(value).ldelim());
    const floats = finish(Writer.create().uint32(0x12).fork().uint32(0x0d).float(0.5).ldelim());
    const data = exampleOf([
      ['joined', Buffer.concat([ints(1), ints(2)])],
      ['replaced', Buffer.concat([ints(1), floats])],
    ]);
    expect(exampleToJson(data)).toBe('{"joined":[1,2],"replaced":[0.5]}');
  });

  it('throws ExampleDecodeError naming the feature for a float that JSON cannot hold', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const error = decodeError(encodeExample({ ok: { floats: [1] }, broken: { floats: [value] } }));
      expect(error).toBeInstanceOf(ExampleDecodeError);
      expect(error).toMatchObject({
        name: 'ExampleDecodeError',
        message: expect.stringContaining('"broken"'),
      });
    }
  });

  it('throws ExampleDecodeError for malformed protobuf', () => {
    const malformed = [
      Buffer.from([0x0a, 0x05, 0x01]), // length runs past the end
      Buffer.from([0x0f]), // wire type 7
      Buffer.from([0x08, 0x80]), // truncated varint
      Buffer.from([0x08, 0x01]), // features as a varint
      Buffer.from([0x00]), // field number 0
      exampleOf([
        ['f', finish(Writer.create().uint32(0x12).fork().uint32(0x0a).bytes(Buffer.alloc(3)).ldelim())],
      ]),
      exampleOf([['f', Buffer.from([0x1a, 0x03, 0x0a, 0x01, 0x80])]]), // packed int64 cut short
      exampleOf([['f', Buffer.from([0x0a, 0x02, 0x08, 0x01])]]), // bytes value as a varint
    ];
    for (const data of malformed) {
      const error = decodeError(data);
      expect(error, data.toString('hex')).toBeInstanceOf(ExampleDecodeError);
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({
        name: 'ExampleDecodeError',
        message: expect.stringMatching(/tf\.Example/),
      });
    }
  });

  it('either returns a JSON object or throws ExampleDecodeError for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let json: string | undefined;
        try {
          json = exampleToJson(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(ExampleDecodeError);
          return;
        }
        expect(typeof JSON.parse(json)).toBe('object');
      }),
    );
  });
});
