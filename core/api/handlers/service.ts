import { NotFoundError } from "../../errors";
import type { ApiDependencies, Handlers } from "../context";

/** GET /health and GET /openapi.json: the service itself, no key needed. */
export function serviceHandlers(
  deps: Pick<ApiDependencies, "sql" | "logger" | "openApiDocument" | "version">,
) {
  const { sql, logger } = deps;
  // Read once per app, on the first request; a failed read is tried again next time.
  let openApi: Promise<unknown> | undefined;
  return {
    async getHealth(c) {
      let database: "ok" | "unreachable" = "ok";
      try {
        await sql`SELECT 1`;
      } catch (error) {
        database = "unreachable";
        logger.warn({ err: error }, "health check: database unreachable");
      }
      const healthy = database === "ok";
      return c.json(
        { status: healthy ? "ok" : "degraded", database, time: new Date().toISOString() },
        healthy ? 200 : 503,
      );
    },
    async getOpenApi(c) {
      const read = deps.openApiDocument;
      if (!read) {
        throw new NotFoundError(
          "openapi_not_served",
          "This server has no OpenAPI document to serve; openapi.json in the repository is the contract.",
        );
      }
      openApi ??= read()
        .then((text) => servedOpenApiDocument(text, deps.version))
        .catch((error: unknown) => {
          openApi = undefined;
          throw error;
        });
      return c.json(await openApi);
    },
  } satisfies Partial<Handlers>;
}

/** openapi.json's document, with this deployment's version. */
function servedOpenApiDocument(text: string, version?: string): { info: { version: string } } {
  const document = JSON.parse(text) as { info: { version: string } };
  if (version) document.info.version = version;
  return document;
}
