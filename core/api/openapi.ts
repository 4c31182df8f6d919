/**
 * The OpenAPI 3.1 document: a path entry per route of the route table
 * (routes.ts), documented by openapi-route-docs.ts, its schemas gathered by
 * openapi-components.ts. Built by `npm run openapi`, never in the Lambda.
 */
import { SCOPES } from "../auth";
import { SchemaComponents } from "./openapi-components";
import { COMMON_ERRORS, ROUTE_DOCS, type RouteDoc } from "./openapi-route-docs";
import { MAX_ACCOUNT_ID } from "./request";
import { ANSWERED_BY, BROKER_PATH_PARAM, type OperationId, ROUTES, type RouteSpec } from "./routes";
import { problemSchema } from "./schemas";

/** Who answered a gateway call: the header every one of its answers carries. */
function answeredByHeader(who: readonly ("broker" | "service")[]) {
  return {
    [ANSWERED_BY]: {
      required: true,
      description:
        "Who answered: broker (its own status and body, passed on unchanged) or service (a problem document of ours).",
      schema: { type: "string", enum: who },
    },
  };
}

function pascal(operationId: string): string {
  return operationId.charAt(0).toUpperCase() + operationId.slice(1);
}

function operation(
  route: RouteSpec,
  doc: RouteDoc,
  components: SchemaComponents,
): Record<string, unknown> {
  const gateway = doc.brokerAnswers !== undefined;
  const responses: Record<string, unknown> = {
    [doc.response.status]: {
      description: doc.response.description,
      ...(gateway ? { headers: answeredByHeader(["broker"]) } : {}),
      ...(doc.response.schema
        ? {
            content: {
              "application/json": {
                schema: components.ref(doc.response.schema, `${pascal(route.operationId)}Response`),
              },
            },
          }
        : {}),
    },
  };
  const statuses = new Set<number>([
    ...doc.errors,
    ...Object.keys(doc.brokerAnswers ?? {}).map(Number),
    413,
    500,
  ]);
  if (route.scope) {
    statuses.add(401);
    statuses.add(403);
  }
  for (const status of [...statuses].sort()) {
    const broker = doc.brokerAnswers?.[status];
    const ours = COMMON_ERRORS[status] ?? "Problem";
    responses[status] = {
      description: broker ? `${broker.description}; or ours: ${ours}` : ours,
      ...(gateway
        ? { headers: answeredByHeader(broker ? ["broker", "service"] : ["service"]) }
        : {}),
      content: {
        ...(broker
          ? { "application/json": { schema: components.ref(broker.schema, "BrokerAnswer") } }
          : {}),
        "application/problem+json": { schema: components.ref(problemSchema, "Problem") },
      },
    };
  }
  const parameters: unknown[] = [];
  if (route.path.includes("{id}")) {
    parameters.push({
      name: "id",
      in: "path",
      required: true,
      description: "The account id, a positive 32-bit integer.",
      schema: { type: "integer", minimum: 1, maximum: MAX_ACCOUNT_ID },
    });
  }
  if (route.path.includes("{key}")) {
    parameters.push({
      name: "key",
      in: "path",
      required: true,
      description: "The order's Idempotency-Key (URL-encoded).",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    });
  }
  if (route.path.includes(BROKER_PATH_PARAM)) {
    parameters.push({
      name: "broker_path",
      in: "path",
      required: true,
      description:
        "The broker's REST path, several segments, e.g. uapi/domestic-stock/v1/quotations/inquire-price or api/dostk/stkinfo. Its slashes may come plain or percent-encoded (%2F, as generated clients send a path parameter); its query goes in broker_query.",
      schema: { type: "string" },
      allowReserved: true,
    });
  }
  for (const header of doc.headers ?? []) {
    parameters.push({
      name: header.name,
      in: "header",
      required: false,
      description: header.description,
      schema: { type: "string" },
    });
  }
  for (const q of doc.query ?? []) {
    parameters.push({
      name: q.name,
      in: "query",
      required: false,
      description: q.description,
      schema: q.schema,
      ...(q.style ? { style: q.style, explode: q.explode ?? false } : {}),
    });
  }
  return {
    operationId: route.operationId,
    summary: doc.summary,
    ...(route.scope
      ? { security: [{ apiKey: [route.scope] }], "x-required-scope": route.scope }
      : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: doc.body.required,
            content: {
              "application/json": {
                schema: components.ref(doc.body.schema, `${pascal(route.operationId)}Request`),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every route, generated from the route table and its zod schemas. */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  const components = new SchemaComponents();
  for (const route of ROUTES as readonly RouteSpec[]) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(
      route,
      ROUTE_DOCS[route.operationId as OperationId],
      components,
    );
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "securities-support",
      version: options.version ?? "0.1.0",
      description:
        "Accounts of crypto exchanges and securities brokers (KIS, Kiwoom) and their broker access tokens. Errors are RFC 9457 problem documents.",
    },
    // "/" is the host that serves this document (OpenAPI resolves it against the document's URL).
    servers: [
      options.serverUrl
        ? { url: options.serverUrl }
        : { url: "/", description: "The host serving this document" },
    ],
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: `Authorization: Bearer <key id>.<secret>. Scopes: ${SCOPES.join(", ")} (admin implies all).`,
        },
      },
      schemas: components.build(),
    },
    paths,
  };
}
