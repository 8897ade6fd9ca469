import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../src/scanning/plan.js';
import { parseStepScan } from '../../src/scanning/request.js';

/** Where a map view puts point i from the grid alone (the rule PROTOCOL.md states for `grid`). */
function cellOf(grid: NonNullable<ReturnType<typeof buildPlan>['grid']>, i: number): number[] {
  const [fast, slow] = grid.axes;
  const row = Math.floor(i / (fast.intervals + 1));
  let col = i % (fast.intervals + 1);
  if (grid.backnforth && row % 2 === 1) col = fast.intervals - col;
  const at = (a: typeof fast, k: number) => a.start + ((a.stop - a.start) * k) / a.intervals;
  return [at(fast, col), at(slow, row)];
}

test('a mesh plan carries its grid, and the grid places every point where the plan moves', () => {
  for (const backnforth of [false, true]) {
    for (const type of ['amesh', 'dmesh'] as const) {
      const plan = buildPlan(
        parseStepScan({ type, axes: [{ axis: 'samx', start: -1, stop: 1, intervals: 4 }, { axis: 'samy', start: 0, stop: 3, intervals: 3 }], count_time: 0, backnforth }),
        () => 0.5,
      );
      assert.ok(plan.grid, `${type} has a grid`);
      assert.equal(plan.grid.backnforth, backnforth);
      assert.deepEqual(plan.grid.axes.map((a) => a.axis), ['samx', 'samy']);
      for (let i = 0; i < plan.npoints!; i++) {
        const [x, y] = cellOf(plan.grid, i);
        const [px, py] = plan.point(i);
        assert.ok(Math.abs(x - px) < 1e-12 && Math.abs(y - py) < 1e-12, `${type} point ${i}: grid (${x}, ${y}), plan (${px}, ${py})`);
      }
    }
  }
  const line = buildPlan(parseStepScan({ type: 'ascan', axes: [{ axis: 'samy', start: 0, stop: 1 }], intervals: 4, count_time: 0 }), () => 0);
  assert.equal(line.grid, undefined);
});
