import type { Plugin } from "esbuild";

export declare const dropUnusedPostgresModules: Plugin;
export declare const dropUnusedHonoModules: Plugin;
export declare const dropPostgresCaseTransforms: Plugin;
export declare const forgetZodMetadata: Plugin;
export declare const trimTemplateIndentation: Plugin;
declare const plugins: Plugin[];
export default plugins;
