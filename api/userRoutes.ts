import Ajv from 'ajv';
import { Router } from 'express';
import { MiraiError } from '../domain/errors';
import { addUser, readUsers, ROLES, type Role } from '../infrastructure/auth';
import { sendError } from './errorResponse';
import { fieldProblems } from './schemaErrors';

interface NewUser {
  username: string;
  password: string;
  role: Role;
}

const validateNewUser = new Ajv({ allErrors: true }).compile<NewUser>({
  type: 'object',
  required: ['username', 'password', 'role'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    role: { enum: [...ROLES] },
  },
});

/**
 * `/api/admin/users`, for admins (mount behind `requireRole('admin')`):
 * `GET` lists users and roles (never hashes); `POST {username, password,
 * role}` adds one, as `mirai user add` does on the command line.
 */
export const userRoutes = (usersFile: string): Router => {
  const router = Router();

  router.get('/', async (_req, res, next) => {
    try {
      const users = await readUsers(usersFile);
      res.json({
        users: users.map((u) => ({ username: u.username, role: u.role })),
      });
    } catch (error) {
      next(error);
    }
  });

  router.post('/', async (req, res, next) => {
    try {
      if (!validateNewUser(req.body)) {
        return sendError(
          res,
          new MiraiError(
            'INVALID_REQUEST',
            `Body must be {"username", "password", "role"} with role one of ${ROLES.join(', ')}`,
            { errors: fieldProblems(validateNewUser.errors) },
          ),
        );
      }
      const { username, password, role } = req.body;
      await addUser(usersFile, username, password, role);
      res.status(201).json({ username, role });
    } catch (error) {
      next(error);
    }
  });

  return router;
};
