/** The steps in run order: the lean harness first, the Node harness's second opinion after it. */
import attach from './attach.mjs';
import attachNode from './attach-node.mjs';
import drain from './drain.mjs';
import echo from './echo.mjs';
import echoNode from './echo-node.mjs';
import flood from './flood.mjs';
import hookSpin from './hook-spin.mjs';
import floodNode from './flood-node.mjs';
import memory from './memory.mjs';
import scale from './scale.mjs';
import slow from './slow.mjs';
import slowlink from './slowlink.mjs';

export const STEPS = [flood, echo, attach, slowlink, hookSpin, floodNode, drain, echoNode, attachNode, memory, slow, scale];

/** A step's metric definitions for these sizes. */
export const metricsOf = (step, sizes) => (typeof step.metrics === 'function' ? step.metrics(sizes) : step.metrics);
