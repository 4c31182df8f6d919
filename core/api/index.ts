export {
  type ApiApp,
  type ApiDependencies,
  type ApiTokenService,
  createApp,
  DEFAULT_BODY_LIMIT_BYTES,
} from "./app";
export { type FetchApp, type HttpApiHandler, handleHttpApi } from "./lambda";
export { buildOpenApiDocument } from "./openapi";
export {
  MalformedJsonError,
  PayloadTooLargeError,
  PROBLEM_BASE,
  type Problem,
  type ProblemResponse,
  toProblem,
} from "./problems";
export { allowedMethods, type Method, ROUTES, type RouteSpec } from "./routes";
export {
  accountListSchema,
  healthSchema,
  invalidateRequestSchema,
  invalidateResponseSchema,
  type ProblemDocument,
  problemSchema,
  publicAccountSchema,
  refreshedTokenSchema,
  type TokenResponse,
  type TokenStatusResponse,
  tokenSchema,
  tokenStatusSchema,
  websocketKeySchema,
} from "./schemas";
