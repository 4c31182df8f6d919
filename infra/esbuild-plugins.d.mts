import type { Plugin } from "esbuild";

export declare const dropUnusedPostgresModules: Plugin;
export declare const dropUnusedHonoModules: Plugin;
export declare const forgetZodMetadata: Plugin;
declare const plugins: Plugin[];
export default plugins;
