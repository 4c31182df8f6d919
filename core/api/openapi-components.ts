import * as z from "zod/mini";

/**
 * Every body and response schema becomes one entry of components/schemas, named
 * by its zod `id` meta (or, lacking one, after its operation), and every use is a
 * `#/components/schemas/…` reference. zod's per-schema output would instead carry
 * its own `$defs` with `#/$defs/…` refs, which do not resolve once the schema is
 * embedded in an OpenAPI document.
 */
export class SchemaComponents {
  private readonly registry = z.registry<{ id: string }>();

  /** A `$ref` to the schema's component, registering it on first use. */
  ref(schema: z.ZodMiniType, fallbackId: string): { $ref: string } {
    let id = this.registry.get(schema)?.id;
    if (!id) {
      id = (z.globalRegistry.get(schema)?.id as string | undefined) ?? fallbackId;
      this.registry.add(schema, { id });
    }
    return { $ref: `#/components/schemas/${id}` };
  }

  /** The components, sorted by name; nested schemas with an `id` meta are hoisted too. */
  build(): Record<string, unknown> {
    // A nested schema with a global `id` (Account inside AccountList) must be a
    // component of its own, else zod files it under a `__shared` pseudo-schema.
    for (const [id, schema] of z.globalRegistry._idmap) {
      if (!this.registry.has(schema) && !this.registry._idmap.has(id)) {
        this.registry.add(schema, { id });
      }
    }
    const { schemas } = z.toJSONSchema(this.registry, {
      io: "input",
      unrepresentable: "any",
      target: "draft-2020-12",
      uri: (id) => `#/components/schemas/${id}`,
    }) as { schemas: Record<string, Record<string, unknown>> };
    if ("__shared" in schemas) {
      throw new Error("zod produced shared $defs: give the reused schema an id meta");
    }
    const sorted: Record<string, unknown> = {};
    for (const id of Object.keys(schemas).sort()) {
      const { $schema: _ignored, $id: _id, ...rest } = schemas[id] as Record<string, unknown>;
      sorted[id] = rest;
    }
    return sorted;
  }
}
