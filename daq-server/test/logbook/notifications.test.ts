import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Logbook, SqliteLogbook } from '../../src/logbook/index.js';
import { Notifier } from '../../src/logbook/notifications.js';
import type { ScanSummary } from '../../src/protocol/index.js';
import type { ScanStore } from '../../src/store/types.js';

const summary: ScanSummary = {
  key: 'scan:7',
  seq: 7,
  identity: { name: 'ring', number: 3, session: 's1', proposal: 'mx9', sample: 'lyso', dataset: 'd1', path: '' },
  state: 'CLOSED',
  info: {
    acquisition: { nb_frames: 100 },
    detector: { name: 'sim-eiger-500k' },
    end_reason: 'completed',
    counters: { nb_frames_acquired: 100, nb_frames_saved: 80, nb_frames_dropped: 20 },
    saving: { master: '/data/ring_master.h5', files: ['/data/ring_000.h5'] },
  },
  streams: [],
  created: new Date().toISOString(),
};

test('scan start, end with files, dropped frames, faults and job results become notifications', () => {
  const lb = new Logbook(new SqliteLogbook(':memory:'), { authorOf: () => 'x' });
  const store = { scan: (key: string) => ({ summary: () => ({ ...summary, key }) }) } as unknown as ScanStore;
  const bus = new EventEmitter();
  const n = new Notifier(lb, store);
  n.attach(bus as never);
  bus.emit('event', { event: 'scan.state', key: 'scan:7', state: 'STARTED' });
  bus.emit('event', { event: 'scan.state', key: 'scan:7', state: 'CLOSED' });
  bus.emit('event', { event: 'acq.state', detector: 'sim-eiger-500k', uuid: 'u', state: 'FAULT', reason: 'receiver 1 <crashed>' });
  bus.emit('event', { event: 'scan.state', key: 'scan:7', state: 'PREPARED' }); // not news
  n.jobResult({ job_id: '12', user: 'alice', job_name: 'azint', template: 'azint', master: '/data/azint.h5', source: '/data/ring_master.h5' });
  const all = lb.search({ limit: 10 }).reverse();
  assert.deepEqual(all.map((e) => e.tags.join(',')), ['scan,scan-start', 'scan,scan-end', 'scan,dropped-frames', 'fault', 'job,job-result']);
  assert.ok(all.every((e) => e.type === 'notification' && e.software === 'daqlab' && e.author === 'daqlab'));
  assert.match(all[0].text, /ring #3 started on sim-eiger-500k: 100 frames/);
  assert.match(all[1].text, /100 frames acquired, 80 saved/);
  assert.match(all[1].text, /ring_master\.h5/);
  assert.equal(all[1].dataset, 'scan:7');
  assert.equal(all[1].proposal, 'mx9');
  assert.equal(all[2].category, 'error');
  assert.match(all[2].text, /20 frames dropped \(20\.0 %\)/);
  assert.equal(all[3].category, 'error');
  assert.match(all[3].text, /receiver 1 <crashed>/); // escaped in the HTML, intact in the text
  assert.ok(!all[3].html.includes('<crashed>'));
  assert.match(all[4].text, /Job azint \(12, template azint, user alice\) finished/);
});
