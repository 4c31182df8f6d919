// PatternRouter: plenty for a dozen routes.
import { Hono } from "hono/tiny";
import type { ApiDependencies, AppEnv, Handlers } from "./context";
import { accountHandlers } from "./handlers/accounts";
import { gatewayHandlers } from "./handlers/gateway";
import { orderHandlers } from "./handlers/orders";
import { serviceHandlers } from "./handlers/service";
import { tokenHandlers } from "./handlers/tokens";
import {
  authorize,
  DEFAULT_BODY_LIMIT_BYTES,
  limitBody,
  markAnsweredBy,
  requestContext,
  requestLog,
  strictPaths,
} from "./middleware";
import { answerError, answerNoRoute } from "./problem-answers";
import { honoPath, isGatewayRoute, ROUTES } from "./routes";

export type { ApiDependencies, ApiTokenService } from "./context";
export { API_GATEWAY_TIMEOUT_MS, chooseRequestId, DEFAULT_BODY_LIMIT_BYTES } from "./middleware";
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./query";

/**
 * The HTTP API as a Hono app: the same app runs behind API Gateway (Lambda
 * adapter) and in the local Node server. Handlers (handlers/, one file per
 * resource) parse, call core, shape; every error becomes a problem document
 * in `onError` / `notFound` (problem-answers.ts).
 */
/** The service's HTTP API: a Hono app (its `fetch` serves it, its `request` tests it). */
export type ApiApp = Hono<AppEnv>;

export function createApp(deps: ApiDependencies): ApiApp {
  const app = new Hono<AppEnv>();

  app.use("*", requestContext(deps));
  app.use("*", requestLog(deps.logger));
  app.use("*", strictPaths);
  for (const path of new Set(ROUTES.filter(isGatewayRoute).map(honoPath))) {
    app.use(path, markAnsweredBy);
  }

  const handlers: Handlers = {
    ...serviceHandlers(deps),
    ...accountHandlers(deps),
    ...tokenHandlers(deps),
    ...gatewayHandlers(deps),
    ...orderHandlers(deps),
  };
  const bodyLimit = limitBody(deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
  for (const route of ROUTES) {
    const handler = handlers[route.operationId];
    app.on(route.method, honoPath(route), authorize(deps.auth, route.scope), bodyLimit, (c) =>
      handler(c),
    );
  }

  app.notFound(answerNoRoute);
  app.onError(answerError(deps.logger));
  return app;
}
