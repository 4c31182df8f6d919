/**
 * Response schemas of the API, in zod/mini like the request schemas, for the
 * OpenAPI document and the tests: the app never imports this file, so it
 * stays out of the Lambda bundle. Request bodies the app parses are in
 * request-schemas.ts (and core/accounts).
 */
import * as z from "zod/mini";
import { ACCOUNT_TYPES, BROKER_ENVIRONMENTS, MARKET_TYPES } from "../accounts";

export { invalidateRequestSchema } from "./request-schemas";

const isoTime = z.string().check(z.meta({ format: "date-time" }));
const nullableTime = z.nullable(isoTime);

export const publicAccountSchema = z
  .object({
    id: z.number().check(z.int()),
    name: z.string(),
    account_type: z.enum(ACCOUNT_TYPES),
    exchange: z.string(),
    environment: z.nullable(z.enum(BROKER_ENVIRONMENTS)),
    is_active: z.boolean(),
    api_key: z.nullable(z.string()).check(z.meta({ description: "Masked: ****abcd" })),
    has_api_secret: z.boolean(),
    securities_config: z.nullable(
      z.object({
        account_number: z.string().check(z.meta({ description: "Masked: ****5678" })),
        product_code: z.nullable(z.string()),
        market_type: z.enum(MARKET_TYPES),
        has_cert_password: z.boolean(),
        additional_params: z.record(
          z.string(),
          z.union([z.string(), z.number(), z.boolean(), z.null()]),
        ),
      }),
    ),
    token_expires_at: nullableTime,
    created_at: isoTime,
    updated_at: isoTime,
  })
  .check(z.meta({ id: "Account", description: "An account; secrets never appear." }));

export const unreadableAccountSchema = z
  .object({
    id: z.number().check(z.int()),
    error: z.object({ code: z.string(), message: z.string() }),
  })
  .check(
    z.meta({
      id: "UnreadableAccount",
      description:
        "An account whose stored ciphertext cannot be decrypted (altered, bound to another row, or under an unknown data key): listed in its place with the reason, so one bad row does not fail the page.",
    }),
  );

export const accountListSchema = z
  .object({
    accounts: z.array(z.union([publicAccountSchema, unreadableAccountSchema])),
    next_cursor: z
      .nullable(z.string())
      .check(z.meta({ description: "Pass as ?cursor= for the next page; null on the last page." })),
  })
  .check(z.meta({ id: "AccountList" }));

export const tokenSchema = z
  .object({
    access_token: z.string(),
    token_type: z.string(),
    expires_at: isoTime,
  })
  .check(z.meta({ id: "AccessToken", description: "A valid broker access token." }));

export const refreshedTokenSchema = z.object({ token_type: z.string(), expires_at: isoTime }).check(
  z.meta({
    id: "RefreshedToken",
    description: "The new token's expiry; the token itself is not returned.",
  }),
);

export const websocketKeySchema = z.object({ approval_key: z.string(), expires_at: isoTime }).check(
  z.meta({
    id: "WebsocketKey",
    description:
      "A KIS websocket approval key, sent once in the websocket's connect message; valid 24 hours.",
  }),
);

export const invalidateResponseSchema = z
  .object({ invalidated: z.boolean() })
  .check(z.meta({ id: "InvalidateResult" }));

const lastErrorSchema = z.nullable(
  z.object({ code: z.nullable(z.string()), message: z.nullable(z.string()), at: isoTime }),
);

const TOKEN_STATES = ["valid", "expiring", "failing", "rejected", "expired", "missing"] as const;

export const tokenStatusSchema = z
  .object({
    generated_at: isoTime,
    refresh_window_hours: z.number(),
    totals: z.object({
      accounts: z.number(),
      valid: z.number(),
      expiring: z.number().check(z.meta({ description: "Expiring within the refresh window." })),
      failing: z.number(),
      rejected: z.number(),
      expired: z.number(),
      missing: z.number(),
    }),
    accounts: z.array(
      z.object({
        account_id: z.number().check(z.int()),
        name: z.string(),
        broker: z.string(),
        is_active: z.boolean(),
        state: z.enum(TOKEN_STATES),
        expires_at: nullableTime,
        last_refreshed_at: nullableTime,
        consecutive_failures: z.number().check(z.int()),
        last_error: lastErrorSchema,
        next_attempt_at: nullableTime,
      }),
    ),
  })
  .check(z.meta({ id: "TokenStatus" }));

export const brokerCallBodySchema = z.record(z.string(), z.unknown()).check(
  z.meta({
    id: "BrokerCallBody",
    description:
      'The broker\'s own JSON request body, sent on unchanged (KIS order-cash {"CANO", "ACNT_PRDT_CD", "PDNO", …}; Kiwoom {"stk_cd": "005930"}).',
  }),
);

/** A KIS REST answer (BROKERS.md): rt_cd, msg_cd and msg1, then the call's own output fields. */
export const kisAnswerSchema = z
  .looseObject({
    rt_cd: z
      .string()
      .check(z.meta({ description: '"0": success; anything else: KIS refused, msg_cd says why.' })),
    msg_cd: z
      .string()
      .check(z.meta({ description: "KIS's message code: MCA00000, APBK0013, EGW00201…" })),
    msg1: z.string().check(z.meta({ description: "KIS's message, in Korean." })),
    output: z.optional(z.unknown()),
  })
  .check(
    z.meta({
      id: "KisAnswer",
      description:
        "KIS's own JSON answer, unchanged: rt_cd, msg_cd, msg1 and the call's fields (output, output1, output2…). A rate limit is HTTP 500 with msg_cd EGW00201.",
    }),
  );

/** A Kiwoom REST answer (BROKERS.md): return_code and return_msg next to the call's fields. */
export const kiwoomAnswerSchema = z
  .looseObject({
    return_code: z.number().check(
      z.meta({
        description:
          "0: success; otherwise a coarse group (2, 3, 5…); the specific code sits in return_msg as [NNNN:…].",
      }),
    ),
    return_msg: z.string(),
  })
  .check(
    z.meta({
      id: "KiwoomAnswer",
      description:
        "Kiwoom's own JSON answer, unchanged: return_code, return_msg and the call's fields at the top level. A rate limit is HTTP 429, return_code 5, [1700:…].",
    }),
  );

export const brokerAnswerSchema = z.union([kisAnswerSchema, kiwoomAnswerSchema]).check(
  z.meta({
    id: "BrokerAnswer",
    description:
      "The broker's JSON answer, unchanged, with the broker's HTTP status and x-answered-by: broker (KIS rt_cd/msg_cd/msg1/output; Kiwoom return_code/return_msg and fields). Paging headers come back too: tr_cont, tr_id, gt_uid (KIS); api-id, cont-yn, next-key (Kiwoom).",
  }),
);

/** What a broker answers to a path it does not serve, or a bare refusal: its shape is its own. */
export const brokerOtherAnswerSchema = z.record(z.string(), z.unknown()).check(
  z.meta({
    id: "BrokerOtherAnswer",
    description:
      'A broker\'s own answer outside its REST shapes, unchanged (x-answered-by: broker): a path it does not serve (the sandbox answers {"error": "not found"}), or a bare 401.',
  }),
);

export const brokerCallStatusSchema = z
  .object({
    accounts: z.array(
      z.object({
        account_id: z.number(),
        calls: z.number(),
        failed_calls: z
          .number()
          .check(
            z.meta({ description: "Calls the broker answered with an error, or did not answer." }),
          ),
        refused_calls: z.number().check(
          z.meta({
            description:
              "Calls the service's own pacing refused (429 broker_call_pace_exceeded, before the wire or at it): never sent, counted in calls, never in failed_calls.",
          }),
        ),
        last_call_at: z.nullable(isoTime),
        last_error: z.nullable(
          z.object({
            at: isoTime,
            status: z
              .number()
              .check(z.meta({ description: "The broker's HTTP status; 0: no answer." })),
            broker_code: z.nullable(z.string()),
            path: z.string(),
          }),
        ),
      }),
    ),
    totals: z.object({
      calls: z.number(),
      failed_calls: z.number(),
      refused_calls: z.number(),
    }),
    orders: z
      .object({
        unknown: z.number(),
        ambiguous: z.number(),
        oldest_unknown_seconds: z.nullable(z.number()),
      })
      .check(
        z.meta({
          description:
            "Order intents whose outcome is unknown (being reconciled; the oldest's age) or ambiguous (an operator must look).",
        }),
      ),
  })
  .check(z.meta({ id: "BrokerCallStatus" }));

export const orderSchema = z
  .object({
    key: z.string().check(z.meta({ description: "The Idempotency-Key the order was sent with." })),
    state: z.enum(["in_flight", "accepted", "rejected", "unknown", "not_placed", "ambiguous"]),
    broker_order_no: z.nullable(z.string()),
    answer: z.nullable(
      z.object({
        status: z.number(),
        body: z.unknown().check(z.meta({ description: "The broker's body (JSON when it was)." })),
      }),
    ),
    sent_at: z.nullable(isoTime),
    resolved_at: z.nullable(isoTime),
  })
  .check(z.meta({ id: "Order" }));

export const healthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    database: z.enum(["ok", "unreachable"]),
    time: isoTime,
  })
  .check(z.meta({ id: "Health" }));

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().check(z.int()),
    detail: z.string(),
    instance: z.optional(z.string()),
    code: z
      .string()
      .check(
        z.meta({ description: "What happened, in snake_case; stable, and on every problem." }),
      ),
    errors: z.optional(z.array(z.object({ field: z.string(), message: z.string() }))),
    broker: z.optional(z.string()),
    broker_code: z.optional(z.string()),
    retry_after_seconds: z.optional(z.number()),
    order: z.optional(
      z
        .string()
        .check(
          z.meta({ description: "An order problem's resource: GET it for the order's state." }),
        ),
    ),
    request_id: z
      .string()
      .check(
        z.meta({ description: "The request's id, as in its x-request-id header and log lines." }),
      ),
  })
  .check(
    z.meta({
      id: "Problem",
      description: "RFC 9457 problem details (application/problem+json).",
    }),
  );

export type TokenResponse = z.infer<typeof tokenSchema>;
export type TokenStatusResponse = z.infer<typeof tokenStatusSchema>;
export type ProblemDocument = z.infer<typeof problemSchema>;
