/** Users, their passwords and roles, and the tokens that prove them. */
export * from './roles';
export * from './passwordHash';
export * from './userStore';
export * from './signingSecret';
export * from './tokenService';
