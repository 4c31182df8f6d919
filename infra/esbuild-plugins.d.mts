import type { Plugin } from "esbuild";

export declare const dropUnusedPostgresModules: Plugin;
export declare const trimTemplateIndentation: Plugin;
declare const plugins: Plugin[];
export default plugins;
