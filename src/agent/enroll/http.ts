/**
 * One JSON POST to the enrollment server. TLS is not verified here (the
 * server's certificate is self-signed and the agent has no CA yet): the
 * answer's authenticity is checked from its HMAC proof by the caller.
 */
import { request } from 'node:https';

/** Largest answer read (a certificate and a CA are a few KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Status and body of an answer. */
export interface PostAnswer {
  status: number;
  text: string;
}

/** POSTs `body` as JSON to `url`; rejects on network errors and timeouts. */
export function postJson(url: URL, body: unknown, timeoutMs: number): Promise<PostAnswer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        // Confidentiality only; authenticity comes from the token HMACs (and the CA pin).
        rejectUnauthorized: false,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) res.destroy(new Error(`answer exceeds ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
