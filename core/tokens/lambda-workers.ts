/**
 * The refresh fan-out's adapter to AWS: a worker is an asynchronous invoke
 * of the worker function with `{ "worker": { "index", "count" } }`.
 */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { StartRefreshWorker } from "./fan-out";

export function lambdaWorkerStarter(
  client: LambdaClient,
  functionName: string,
): StartRefreshWorker {
  return async (worker) => {
    const answer = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: "Event",
        Payload: new TextEncoder().encode(JSON.stringify({ worker })),
      }),
    );
    // An asynchronous invoke is queued when Lambda answers 202.
    if (answer.StatusCode !== 202) {
      throw new Error(
        `Lambda did not queue refresh worker ${worker.index}/${worker.count} (status ${answer.StatusCode}).`,
      );
    }
  };
}
