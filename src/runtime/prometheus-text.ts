/** Reading Prometheus text exposition (what `/metrics` serves), for benchmarks and tests. */

/** Sums the samples of metric `name` in `text`, only those whose labels contain `label` when given. */
export function sumSamples(text: string, name: string, label = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (label && !rest.includes(label)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}
