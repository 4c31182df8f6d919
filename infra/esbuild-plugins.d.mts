import type { Plugin } from "esbuild";

export declare const dropUnusedPostgresModules: Plugin;
export declare const collapseSqlTemplates: Plugin;
export declare function collapseSqlIndentation(source: string): string;
declare const plugins: Plugin[];
export default plugins;
