// How every Lambda function is bundled, read by serverless-esbuild and by scripts/bundle-sizes.ts, so
// the sizes CI checks are the sizes deployed. Each function is its own package: its handler's module
// graph only, minified, with its source map in a separate file.
module.exports = () => ({
  bundle: true,
  minify: true,
  sourcemap: 'external',
  target: 'node22',
  platform: 'node',
  // CommonJS in .cjs files: Lambda runs them, and so does `serverless invoke local`, which cannot load
  // .mjs handlers.
  format: 'cjs',
  outputFileExtension: '.cjs',
  // The Lambda runtime ships the AWS SDK v3 clients; lib-storage (multipart uploads) is bundled, into
  // the functions that write large objects only.
  external: ['@aws-sdk/client-*'],
  exclude: ['@aws-sdk/client-*'],
});
