// The streaming bench's bookkeeping (bench/lib): marks matched across any cutting of the text, and the figures read
// by the exact keys scripts use. The latencies themselves are measured by `npm run bench`, never asserted here.
import { deltaLatencies, MarkClock, MarkSequence, marksOf } from '../bench/lib/delta-marks';
import { checkTargets, renderMarkdown, type BenchResults } from '../bench/lib/report';

describe('bench streaming marks', () => {
  it('stamps each mark when its last character arrives, however the deltas cut or join the text', () => {
    const text = new MarkSequence().text(3);
    expect(marksOf(text)).toEqual(['w00000', 'w00001', 'w00002']);
    const clock = new MarkClock();
    clock.add('block 0', text.slice(0, 4), 10);
    clock.add('block 0', text.slice(4, 10), 20);
    clock.add('block 0', text.slice(10), 30);
    expect(clock.receipts()).toEqual([
      ['w00000', 20],
      ['w00001', 30],
      ['w00002', 30],
    ]);
  });

  it('keeps the first sighting of a mark sent again', () => {
    const clock = new MarkClock();
    clock.add('attempt 1', 'w00007 ', 5);
    clock.add('attempt 2', 'w00007 ', 9);
    expect(clock.receipts()).toEqual([['w00007', 5]]);
  });

  it('joins receipts to writes and counts the marks that never arrived', () => {
    const written = new Map([
      ['w00000', 100],
      ['w00001', 115],
      ['w00002', 130],
    ]);
    const joined = deltaLatencies(written, [['w00000', 102], ['w00002', 180]], written.keys());
    expect(joined).toEqual({ latencies: [2, 50], missing: 1 });
  });
});

describe('bench streaming report', () => {
  const results = (streaming: NonNullable<BenchResults['scenarios']['streaming']>): BenchResults => ({
    meta: { quick: true, date: '2026-12-01T00:00:00.000Z', cpus: 2, node: 'v20', model: 'm', runs: 1, unavailable: {}, streaming: { conversations: 1, turns: 1, deltasPerCall: 40, chunkMs: 15 } },
    scenarios: { streaming },
  });

  it('checks the targets from scenarios.streaming.<peer> keys, and only the scenarios that ran', () => {
    const checks = checkTargets(
      results({
        sdk_stream: { delta_latency_ms_p50: 0.6, delta_latency_ms_p95: 1.5 },
        durable_claude: { delta_latency_ms_p50: 60, delta_latency_ms_p95: 90, history_bytes_per_turn_on: 5000, history_bytes_per_turn_off: 4000 },
        temporal_ai_sdk: { delta_latency_ms_p50: 120, delta_latency_ms_p95: 300 },
      }),
    );
    expect(checks.map((check) => [check.target, check.met])).toEqual([
      ['streaming delta latency p50 ≤ 50 ms', false],
      ['streaming delta latency p95 ≤ 150 ms', true],
      ['streaming delta latency ahead of temporal_ai_sdk (p50)', true],
      ['history with streaming ≤ 1.1× without', false],
    ]);
  });

  it('renders the streaming table with the floor first and an undecided target for a missing peer', () => {
    const markdown = renderMarkdown(results({ sdk_stream: { delta_latency_ms_p50: 0.6 }, durable_claude: { delta_latency_ms_p50: 3 } }));
    expect(markdown).toContain('**streaming**');
    expect(markdown.indexOf('| sdk_stream |')).toBeLessThan(markdown.indexOf('| durable_claude |'));
    expect(markdown).toContain('… streaming delta latency ahead of temporal_ai_sdk (p50): a peer is missing');
  });
});
