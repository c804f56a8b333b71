/**
 * Reading agents' JSON logs (pino, one object a line) for a benchmark's time
 * breakdown: each request line carries the time the answer went out and how
 * long it took, so every agent call has a start and an end.
 */
import { readFile } from 'node:fs/promises';

/** One agent request, times in ms since the epoch. */
export interface AgentCall {
  method: string;
  path: string;
  status: number;
  start: number;
  end: number;
  ms: number;
}

/** Any log line with its time. */
export interface LogLine {
  time: number;
  msg: string;
  fields: Record<string, unknown>;
}

/** Parses a pino JSON log; lines that are not JSON are skipped. */
export async function readJsonLog(file: string): Promise<LogLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const fields = JSON.parse(line) as Record<string, unknown>;
      const time = Date.parse(String(fields['time'] ?? ''));
      if (Number.isFinite(time)) out.push({ time, msg: String(fields['msg'] ?? ''), fields });
    } catch {
      /* a torn line */
    }
  }
  return out;
}

/** The request lines of an agent log as calls with start and end. */
export function agentCalls(lines: LogLine[]): AgentCall[] {
  return lines
    .filter((l) => l.msg === 'request' && typeof l.fields['path'] === 'string')
    .map((l) => {
      const ms = Number(l.fields['ms'] ?? 0);
      return { method: String(l.fields['method']), path: String(l.fields['path']), status: Number(l.fields['status']), start: l.time - ms, end: l.time, ms };
    });
}
