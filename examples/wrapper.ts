// A tshpool wrapper written in TypeScript (an ES module project: "type": "module"
// in package.json), run with tsx (the hook host is started with the same Node
// flags, so tsx compiles it there too):
//
//   npx tsx examples/wrapper.ts attach main
//
// It logs each session's life to the daemon's log (`tshpool logs`) and, when a
// client disconnects, captures the last lines of the screen into the log.
import { run, LoggingHooks, composeHooks, type HookContext, type Hooks, type SessionEvent } from 'tshpool';

const lastScreen: Hooks = {
  async onClientDisconnect(name: string, event: SessionEvent, { session, signal }: HookContext): Promise<void> {
    if (event.reason !== 'detach' && event.reason !== 'hangup') return;
    const text = await session.capture();
    if (signal.aborted) return;
    const tail = text.trimEnd().split('\n').slice(-3).join(' | ');
    console.log(`[wrapper.ts] ${name} left by ${event.reason}; last lines: ${tail}`);
  },
};

process.exitCode = await run(process.argv.slice(2), composeHooks(new LoggingHooks(), lastScreen));
