/** This deployment's settings, read once from the stage and the deploying machine's environment. */
import { parseInfraSettings } from "./settings";

export const settings = parseInfraSettings($app.stage, process.env);
