import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/core/closest-name.ts';

describe('closestName', () => {
  const fields = ['splitType', 'contentType', 'compressionType', 'model', 'modelName'];

  it.each([
    ['gzip', ['None', 'Gzip'], 'Gzip'],
    ['SINGLERECORD', ['MultiRecord', 'SingleRecord'], 'SingleRecord'],
    ['Lines', ['Line', 'RecordIO', 'TFRecord', 'None'], 'Line'],
    ['spliType', fields, 'splitType'],
    ['spiltType', fields, 'splitType'],
    ['contnetTyp', fields, 'contentType'],
    ['modle', fields, 'model'],
  ])('takes %s for the one of %j it most likely meant', (given, known, meant) => {
    expect(closestName(given, known)).toBe(meant);
  });

  it.each([
    ['colour', fields],
    ['splitSize', fields],
    ['Nane', ['None', 'Name']],
    ['x', ['a', 'b']],
    ['Line', []],
  ])('guesses nothing for %s among %j: too far, or as close to two', (given, known) => {
    expect(closestName(given, known)).toBeUndefined();
  });
});
