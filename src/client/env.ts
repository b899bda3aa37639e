import { forwardedNames, type Config } from '../config/schema.js';

/** The values of TERM and the forward_env variables in this client's environment. */
export function forwardedEnv(config: Config, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of forwardedNames(config)) {
    const v = env[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
