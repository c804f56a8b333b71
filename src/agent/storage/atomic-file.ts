/**
 * Crash-safe small files: write a temporary file next to the target, fsync
 * it, rename it over the target, fsync the directory. A reader sees the old
 * content or the new one, never a torn write, even across a power loss.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Atomically replaces `file` with `content` (mode applies to new files). */
export async function writeFileAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** Makes the renames in `dir` durable (a rename lives in the directory, not in the file). */
export async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
