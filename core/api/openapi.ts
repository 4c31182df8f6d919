import * as z from "zod/mini";
import { SCOPES } from "../auth";
import { ROUTES, type RouteSpec } from "./routes";
import { problemSchema } from "./schemas";

const COMMON_ERRORS: Record<number, string> = {
  400: "Invalid request: the problem's errors name each offending field; malformed JSON also answers 400.",
  401: "Missing or unknown API key.",
  403: "The key lacks the route's scope.",
  404: "No such account.",
  405: "Wrong method for this path; Allow lists the right ones.",
  409: "The account is not a securities account with an app key and secret.",
  413: "Body over the size limit.",
  500: "A bug; logged.",
  502: "The broker rejected the request; broker_code says why.",
  503: "The broker is rate limiting (Retry-After) or unavailable, or a dependency is down.",
};

function jsonSchema(schema: z.ZodMiniType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    target: "draft-2020-12",
  }) as Record<string, unknown>;
  return rest;
}

function operation(route: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {
    [route.response.status]: {
      description: route.response.description,
      ...(route.response.schema
        ? { content: { "application/json": { schema: jsonSchema(route.response.schema) } } }
        : {}),
    },
  };
  const statuses = new Set<number>([...route.errors, 413, 500]);
  if (route.scope) {
    statuses.add(401);
    statuses.add(403);
  }
  for (const status of [...statuses].sort()) {
    responses[status] = {
      description: COMMON_ERRORS[status] ?? "Problem",
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    };
  }
  const parameters: unknown[] = [];
  if (route.path.includes("{id}")) {
    parameters.push({
      name: "id",
      in: "path",
      required: true,
      description: "The account id, a positive 32-bit integer.",
      schema: { type: "integer", minimum: 1, maximum: 2147483647 },
    });
  }
  for (const q of "query" in route ? (route.query ?? []) : []) {
    parameters.push({
      name: q.name,
      in: "query",
      required: false,
      description: q.description,
      schema: { type: "string", enum: [...q.values] },
    });
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.scope
      ? { security: [{ apiKey: [route.scope] }], "x-required-scope": route.scope }
      : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: route.body.required,
            content: { "application/json": { schema: jsonSchema(route.body.schema) } },
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every route, generated from the route table and its zod schemas. */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES as readonly RouteSpec[]) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "securities-support",
      version: options.version ?? "0.1.0",
      description:
        "Accounts of crypto exchanges and securities brokers (KIS, Kiwoom) and their broker access tokens. Errors are RFC 9457 problem documents.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: `Authorization: Bearer <key id>.<secret>. Scopes: ${SCOPES.join(", ")} (admin implies all).`,
        },
      },
      schemas: { Problem: jsonSchema(problemSchema) },
    },
    paths,
  };
}
