/**
 * Golden-XML tests: `buildDomainXml` output for each spec in `goldenSpecs`
 * must equal `golden/<name>.xml` byte for byte.
 *
 * To regenerate after an intended change, run with `UPDATE_GOLDEN=1`, then
 * review the diff of `golden/` before committing it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDomainXml } from '../../../src/hypervisor/domainxml/domain.js';
import { goldenSpecs } from './specs.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

describe('buildDomainXml golden files', () => {
  it('has a golden file for every golden spec and vice versa', () => {
    const files = readdirSync(goldenDir).filter((f) => f.endsWith('.xml')).map((f) => f.slice(0, -4));
    expect(files.sort()).toEqual(Object.keys(goldenSpecs).sort());
  });

  for (const [name, spec] of Object.entries(goldenSpecs)) {
    it(`matches golden/${name}.xml`, () => {
      const file = join(goldenDir, `${name}.xml`);
      const actual = buildDomainXml(spec);
      if (update) writeFileSync(file, actual);
      if (!existsSync(file)) {
        throw new Error(`golden file ${file} is missing; run the tests with UPDATE_GOLDEN=1 and review it`);
      }
      expect(actual).toBe(readFileSync(file, 'utf8'));
    });
  }
});
