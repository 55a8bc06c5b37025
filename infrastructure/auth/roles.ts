/**
 * The roles a user can hold, from least to most trusted. Each role may do
 * everything the roles before it may: a `viewer` reads, a `trader` also
 * places and cancels orders, an `auditor` also reads the raw event
 * history, an `admin` also invalidates caches and manages users.
 */
export const ROLES = ['viewer', 'trader', 'auditor', 'admin'] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** Who is acting on a request, once a token or password checked out. */
export interface AuthenticatedUser {
  readonly username: string;
  readonly role: Role;
}

/** True when `value` names one of the {@link ROLES}. */
export const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** True when `role` may do what `minimum` may (the order of ROLES). */
export const hasRole = (role: Role, minimum: Role): boolean =>
  ROLES.indexOf(role) >= ROLES.indexOf(minimum);
