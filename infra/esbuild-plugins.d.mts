import type { Plugin } from "esbuild";

export declare const dropUnusedPostgresModules: Plugin;
declare const plugins: Plugin[];
export default plugins;
