/** Every tool the benchmark knows, in report order: the bare pty, tshpool, then the peers. */
import { bare } from './bare.mjs';
import { dtachTool } from './dtach.mjs';
import { screenTool } from './screen.mjs';
import { tmuxTool } from './tmux.mjs';
import { tshpool } from './tshpool.mjs';

export const TOOLS = [bare, tshpool, tmuxTool, screenTool, dtachTool];
export const TOOL_IDS = TOOLS.map((t) => t.id);
