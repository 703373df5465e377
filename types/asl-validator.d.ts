declare module "asl-validator" {
  interface ValidationError {
    "Error code": string;
    Message: string;
    path?: string;
  }
  function validator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): { isValid: boolean; errors: ValidationError[]; errorsText: (separator?: string) => string };
  export = validator;
}
