import { z } from "zod";
import { configSchema } from "./schema.js";

/** JSON Schema of homelab.yaml (the input form, with defaults), for editor completion. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" });
  return { ...schema, $id: "https://homelab.dev/schema/homelab.schema.json", title: "homelab.yaml" };
}
