// asl-validator ships no types; this is the call the project makes.
declare module 'asl-validator' {
  const validator: (
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ) => {
    isValid: boolean;
    errors: unknown[];
    errorsText: (separator?: string) => string;
  };
  export default validator;
}
