/**
 * The one structured logger: pino JSON to stdout, level from LOG_LEVEL.
 * Secrets never reach the log: fields that carry them are redacted.
 */
import pino, { type Logger } from 'pino';

/** Paths redacted in every log line. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'key',
  '*.key',
  'bootstrapToken',
  '*.bootstrapToken',
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * Creates the root logger of a Drover component. `destination` defaults to
 * stdout; a worker thread passes a synchronous file-descriptor destination
 * (its `process.stdout` is relayed through the main thread's event loop).
 */
export function createLogger(component: string, level = process.env['LOG_LEVEL'] ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { component },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
