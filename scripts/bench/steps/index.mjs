/** The steps in run order. */
import attach from './attach.mjs';
import drain from './drain.mjs';
import echo from './echo.mjs';
import flood from './flood.mjs';
import memory from './memory.mjs';
import scale from './scale.mjs';
import slow from './slow.mjs';

export const STEPS = [flood, drain, echo, attach, memory, slow, scale];

/** A step's metric definitions for these sizes. */
export const metricsOf = (step, sizes) => (typeof step.metrics === 'function' ? step.metrics(sizes) : step.metrics);
