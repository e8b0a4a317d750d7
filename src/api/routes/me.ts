import { eq } from 'drizzle-orm';
import { Router } from 'express';
import { users } from '../../../db/schema';
import { AuthenticationRequiredError } from '../../application/sign-in/errors';
import { ordersOfCustomer } from '../../read-model/queries';
import { authenticatedCustomer, requireAccessToken } from '../auth';
import type { ApiContext } from './context';

/** The signed-in customer's own resources; everything here sits behind requireAccessToken. */
export function meRoutes({ deps, accessTokens }: ApiContext): Router {
  const router = Router();
  router.use('/me', requireAccessToken(accessTokens));

  router.get('/me', async (_req, res) => {
    const { userId } = authenticatedCustomer(res);
    const [user] = await deps.db.select().from(users).where(eq(users.id, userId));
    // A token outlives an account that a checkout's undo removed; such a token proves nothing now.
    if (!user) throw new AuthenticationRequiredError();
    res.set('Cache-Control', 'no-store').json({ user: { id: user.id, email: user.email, name: user.name } });
  });

  /**
   * The customer's order history, from the order-history read model only (never the saga's tables):
   * as fresh as the projector, and a page load never touches the rows the saga locks.
   */
  router.get('/me/orders', async (_req, res) => {
    const { email } = authenticatedCustomer(res);
    res.set('Cache-Control', 'no-store').json({ orders: await ordersOfCustomer(deps.db, email) });
  });

  return router;
}
