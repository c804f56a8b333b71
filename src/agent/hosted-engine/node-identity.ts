/**
 * Which node this is and where its hosted-engine storage is, kept by the
 * agent in its state directory (`<state-dir>/hosted-engine.json`), so that
 * `drover hosted-engine set-maintenance --mode local` on a node acts for
 * that node without the Manager and without flags.
 *
 * @packageDocumentation
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { HOST_NAME_PATTERN } from '../heartbeat/record.js';

/** The file name inside the agent's state directory. */
export const IDENTITY_FILE = 'hosted-engine.json';

const identity = z.object({ node: z.string().regex(HOST_NAME_PATTERN), storage: z.string().min(1).max(4096) });

/** This node's hosted-engine identity. */
export type NodeIdentity = z.infer<typeof identity>;

/** Records the identity (the agent, at start). */
export async function writeNodeIdentity(stateDir: string, id: NodeIdentity): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(stateDir, IDENTITY_FILE), `${JSON.stringify(identity.parse(id))}\n`);
}

/** The recorded identity, or undefined when there is none readable. */
export async function readNodeIdentity(stateDir: string): Promise<NodeIdentity | undefined> {
  try {
    const parsed = identity.safeParse(JSON.parse(await readFile(path.join(stateDir, IDENTITY_FILE), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
