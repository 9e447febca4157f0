// One duration parser for the workflow, the client, tools and the CLI (no SDK internals in workflow code).
import { parseDurationMs } from '../src/workflows/duration';

test('durations as people write them', () => {
  expect(parseDurationMs(5_000)).toBe(5_000);
  expect(parseDurationMs('250ms')).toBe(250);
  expect(parseDurationMs('30s')).toBe(30_000);
  expect(parseDurationMs('10m')).toBe(600_000);
  expect(parseDurationMs('1.5h')).toBe(5_400_000);
  expect(parseDurationMs('2 days')).toBe(172_800_000);
  expect(parseDurationMs('1 week')).toBe(604_800_000);
  expect(parseDurationMs('1500')).toBe(1_500);
});

test('what is not a positive duration', () => {
  for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '', '0s', '-1m', '10 parsecs', 'soon', '1h30m', null, undefined, {}]) {
    expect(parseDurationMs(bad)).toBeUndefined();
  }
});
