// Each reliability test writes its figures to test-artifacts/reliability/, and prints them; the README's
// Reliability section reports them.
import fs from 'node:fs';
import path from 'node:path';

export function writeFigures(name: string, figures: Record<string, number | string>): void {
  const dir = path.join(__dirname, '..', '..', 'test-artifacts', 'reliability');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`[reliability] ${name}: ${JSON.stringify(figures)}`);
}
