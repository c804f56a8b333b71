/** Integration tests drive real processes: allow minutes, not Jest's default 5 s. */
import { jest } from '@jest/globals';

jest.setTimeout(300_000);
