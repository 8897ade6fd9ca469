/**
 * A receiver worker thread: builds the step chain once, then processes the
 * frames it is handed. Frames arrive as views of shared memory (no copy);
 * results go back transferred (no copy) unless they are shared already.
 */
import { parentPort } from 'node:worker_threads';
import type { TypedArray } from '../../protocol/index.js';
import { StepChain } from '../chain.js';
import { registryWith } from '../registry.js';
import type { FromWorker, ToWorker } from './messages.js';

if (!parentPort) throw new Error('receiver worker must run in a worker thread');
const port = parentPort;
let chain: StepChain | null = null;
let rank = -1;
let keepFrames = true;

const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

/** Buffers that can move to the main thread instead of being copied (each once). */
function transferable(values: unknown[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of values) {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.buffer.byteLength === v.byteLength) out.add(v.buffer);
  }
  return [...out];
}

port.on('message', async (message: ToWorker) => {
  try {
    switch (message.type) {
      case 'init': {
        rank = message.rank;
        keepFrames = message.keepFrames !== false;
        const registry = await registryWith(message.plugins);
        const built = StepChain.build(message.specs, message.input, message.env, registry);
        if (!built.chain) {
          const text = built.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
          send({ type: 'error', rank, index: null, message: text, fields: built.errors });
          return;
        }
        chain = built.chain;
        send({
          type: 'ready',
          rank,
          output: chain.output,
          headOutput: chain.headOutput,
          partial: typeof chain.steps[0]?.processPart === 'function',
          streams: chain.streams,
          statics: chain.statics,
        });
        return;
      }
      case 'frame': {
        if (!chain) throw new Error('frame before init');
        const vars = message.mask ? { mask: message.mask, jungfrau_flags: message.mask } : undefined;
        const result = chain.run(message.index, rank, message.data, message.valid, message.from ?? 0, vars);
        // nobody keeps the dense frame: do not move it (the step's buffer stays here for the next frame)
        if (!keepFrames) result.image = null;
        // the input frame may be a shared pool frame: never transfer it
        const outputs = [result.image, ...result.items.map((x) => x.item)].filter((v) => v !== message.data && v !== message.mask);
        send({ type: 'result', ...result }, transferable(outputs));
        return;
      }
      case 'part': {
        if (!chain?.steps[0]?.processPart) throw new Error('the first step cannot process part of a frame');
        chain.steps[0].processPart(message.data, message.out, message.flags, message.part, message.parts);
        send({ type: 'part_done', index: message.index, rank });
        return;
      }
      case 'partials': {
        const partials = chain?.partials(message.final) ?? {};
        const copies = Object.fromEntries(Object.entries(partials).map(([k, v]) => [k, (v as TypedArray).slice() as TypedArray]));
        send({ type: 'partials', id: message.id, partials: copies }, transferable(Object.values(copies)));
        return;
      }
      case 'drain': {
        await chain?.drain((stream, item) => send({ type: 'item', rank, stream, item }, transferable([item])));
        send({ type: 'drained', rank });
        return;
      }
      case 'close':
        port.close();
        return;
    }
  } catch (err) {
    const index = message.type === 'frame' ? message.index : null;
    send({ type: 'error', rank, index, message: (err as Error).stack ?? String(err) });
  }
});
