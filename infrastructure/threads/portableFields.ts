/**
 * Log fields as data a thread can post to its host: errors become plain
 * objects with their name, message and stack; functions become text.
 */
export const portableFields = (
  fields: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined => {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error
        ? { name: value.name, message: value.message, stack: value.stack }
        : typeof value === 'function'
          ? String(value)
          : value;
  }
  return out;
};
