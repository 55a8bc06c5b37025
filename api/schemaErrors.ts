import type { ErrorObject } from 'ajv';

/** One broken field of a request body, as every error lists them. */
export interface FieldProblem {
  /** The field's name (`quantity`, `stop_loss`), empty for the body. */
  field: string;
  problem: string;
}

/**
 * ajv's errors as `{field, problem}` pairs: the shape of
 * `details.errors` in every 400 about a request body. The field of a
 * missing or unexpected property is that property's name.
 */
export const fieldProblems = (
  errors: ErrorObject[] | null | undefined,
): FieldProblem[] =>
  (errors ?? []).map((error) => ({
    field:
      error.instancePath.replace(/^\//, '') ||
      String(
        error.params.missingProperty ?? error.params.additionalProperty ?? '',
      ),
    problem: problemOf(error),
  }));

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  integer: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
};

/** ajv's message, made plainer where it says less than the schema knows. */
const problemOf = (error: ErrorObject): string => {
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a field this request takes';
    case 'enum':
      return `must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'type':
      return `must be ${[error.params.type as string | string[]]
        .flat()
        .map((type) => TYPE_NAMES[type] ?? type)
        .join(' or ')}`;
    default:
      return error.message ?? 'is invalid';
  }
};
