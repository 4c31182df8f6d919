/**
 * Reads EMF lines back and checks each against the format's rules
 * (docs.aws.amazon.com, "Embedded metric format specification"): a root `_aws`
 * with a millisecond Timestamp and CloudWatchMetrics directives, every
 * dimension named in a directive present as a string member, every metric as a
 * number member, at most 30 dimensions per set and 100 metrics per directive.
 */
export interface EmfDocument {
  namespace: string;
  dimensions: Record<string, string>;
  metrics: Record<string, { value: number; unit: string }>;
}

export function parseEmf(line: string): EmfDocument {
  const root = JSON.parse(line) as Record<string, unknown>;
  const aws = root._aws as { Timestamp: unknown; CloudWatchMetrics: unknown } | undefined;
  if (!aws || typeof aws.Timestamp !== "number" || !Number.isInteger(aws.Timestamp)) {
    throw new Error(`not EMF (no _aws.Timestamp in ms): ${line}`);
  }
  const directives = aws.CloudWatchMetrics as {
    Namespace: string;
    Dimensions: string[][];
    Metrics: { Name: string; Unit: string }[];
  }[];
  if (!Array.isArray(directives) || directives.length !== 1) {
    throw new Error(`expected one CloudWatchMetrics directive: ${line}`);
  }
  const [directive] = directives as [(typeof directives)[number]];
  if (typeof directive.Namespace !== "string" || !directive.Namespace) {
    throw new Error(`no namespace: ${line}`);
  }
  const dimensions: Record<string, string> = {};
  for (const set of directive.Dimensions) {
    if (set.length > 30) throw new Error(`over 30 dimensions: ${line}`);
    for (const name of set) {
      if (typeof root[name] !== "string")
        throw new Error(`dimension ${name} is not a string member`);
      dimensions[name] = root[name] as string;
    }
  }
  if (directive.Metrics.length > 100) throw new Error(`over 100 metrics: ${line}`);
  const metrics: EmfDocument["metrics"] = {};
  for (const { Name, Unit } of directive.Metrics) {
    if (typeof root[Name] !== "number") throw new Error(`metric ${Name} is not a number member`);
    metrics[Name] = { value: root[Name] as number, unit: Unit };
  }
  return { namespace: directive.Namespace, dimensions, metrics };
}

/** A metrics destination that keeps the documents it is given. */
export function emfBuffer() {
  const lines: string[] = [];
  return {
    destination: { write: (line: string) => lines.push(line) },
    documents: () => lines.map(parseEmf),
    lines,
  };
}

/**
 * Drops the EMF metric lines functions write to standard output (their format
 * is checked in test/unit/metrics.test.ts), so a test run's output stays
 * readable; everything else still reaches the terminal. Returns the undo.
 */
export function dropEmfOutput(): () => void {
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (String(chunk).startsWith('{"_aws"')) return true;
    return write.call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  return () => {
    process.stdout.write = write;
  };
}
