#!/usr/bin/env node
// A tshpool wrapper with a decision hook: refuse a new session when
// $TSHPOOL_MAX_SESSIONS (default 5) already exist. The user sees
//   tshpool: session 'six' refused: quota: 5 sessions exist already (a b c d e); kill one first
// and the client exits with status 4. Reattaching to existing sessions is never refused.
//
//   TSHPOOL_MAX_SESSIONS=3 ./examples/quota.mjs attach work
import { run } from 'tshpool';

const max = Number(process.env.TSHPOOL_MAX_SESSIONS ?? 5);

process.exitCode = await run(process.argv.slice(2), {
  async onBeforeCreate(name, request, { session }) {
    const existing = await session.list();
    if (existing.length < max) return undefined;
    return { reject: `quota: ${existing.length} sessions exist already (${existing.map((s) => s.name).join(' ')}); kill one first` };
  },
});
