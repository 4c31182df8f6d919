/**
 * The app's `notFound` and `onError`: where a problem (problems.ts) becomes
 * the HTTP answer, with the request's path and id.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import type { Logger } from "../log";
import type { AppEnv } from "./context";
import { type ProblemResponse, problem, toProblem } from "./problems";
import { allowedMethods } from "./routes";

/** A problem document for this request, as application/problem+json. */
function problemResponse(c: Context<AppEnv>, answer: ProblemResponse): Response {
  const requestId = c.get("requestId");
  const body = { ...answer.problem, instance: c.req.path, request_id: requestId };
  return new Response(JSON.stringify(body), {
    status: answer.problem.status,
    headers: {
      "Content-Type": "application/problem+json",
      "x-request-id": requestId,
      ...answer.headers,
    },
  });
}

/** No route matched: 405 with Allow on a known path, else 404. */
export const answerNoRoute: NotFoundHandler<AppEnv> = (c) => {
  const allowed = allowedMethods(c.req.path);
  if (allowed.length > 0) {
    return problemResponse(c, {
      problem: problem(
        "method-not-allowed",
        "Method not allowed",
        405,
        `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(", ")}.`,
      ),
      headers: { Allow: allowed.join(", ") },
      unexpected: false,
    });
  }
  return problemResponse(c, {
    problem: problem(
      "route-not-found",
      "Not found",
      404,
      `There is no route ${c.req.path}; GET /openapi.json lists them all.`,
    ),
    headers: {},
    unexpected: false,
  });
};

/** Every error thrown on the way becomes its problem document; an unexpected one is logged. */
export function answerError(logger: Logger): ErrorHandler<AppEnv> {
  return (error, c) => {
    const answer = toProblem(error);
    if (answer.unexpected) {
      logger.error(
        {
          event: "request_failed",
          method: c.req.method,
          path: c.req.path,
          err: error,
        },
        answer.problem.status === 500 ? "unexpected error" : "dependency unavailable",
      );
    }
    return problemResponse(c, answer);
  };
}
