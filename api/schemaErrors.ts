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
    problem: error.message ?? 'is invalid',
  }));
