// The step functions log their failures for CloudWatch; here the faults are on purpose, and each test
// asserts how they are reported. Imported before anything that builds the logger.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
