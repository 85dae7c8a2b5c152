/**
 * bench:flood's abuser, in a process of its own (so its CPU is not the
 * measuring process's): `start` runs one kind of abuse of kit/flood/abuser.ts
 * against the gateway until `stop`, which answers with what it counted.
 */
import { type AbuseKind, Abuser, type AbuserTarget } from '../../kit/flood/abuser.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

let abuser: Abuser | undefined;

serveParent(async (m) => {
  const msg = m as { type: string; kind?: AbuseKind; target?: AbuserTarget };
  if (msg.type === 'start') {
    abuser = new Abuser(msg.kind!, msg.target!);
    abuser.start();
    toParent({ type: 'started' });
  } else if (msg.type === 'stop') {
    const stats = await abuser!.stop();
    abuser = undefined;
    toParent({ type: 'stats', stats } as { type: string });
  } else if (msg.type === 'exit') {
    process.exit(0);
  }
});
