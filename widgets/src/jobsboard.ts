/**
 * The jobs board shared by the "Jobs" side panel and the SlurmJobs widget: the
 * cluster (or "no cluster configured"), the user's jobs with live states
 * (`jobs.watch` → `jobs.state`), cancel / hold / release, the selected job's
 * stdout or stderr followed live (`jobs.logs` long polls), and a form that
 * submits a template with parameters. Plain DOM; the owner supplies the
 * connection (`attach` / `detach`).
 */
import type { DaqClient } from './client.js';
import type { ClusterInfo, JobInfo, TemplateInfo } from '@daqlab/daq-server/protocol';

const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function labelled(label: string, input: HTMLElement): HTMLLabelElement {
  const l = el('label', 'daqlab-jobs-formrow');
  l.append(el('span', '', label), input);
  return l;
}

export class JobsBoard {
  readonly node = el('div', 'daqlab-jobs-board');
  private clusterBox = el('div', 'daqlab-jobs-cluster');
  private listBox = el('div', 'daqlab-jobs-list');
  private logHead = el('div', 'daqlab-jobs-loghead', 'select a job to see its output');
  private logBox = el('pre', 'daqlab-jobs-log');
  private streamSelect = el('select', 'daqlab-jobs-stream');
  private form = el('form', 'daqlab-jobs-form');
  private message = el('div', 'daqlab-jobs-message');
  private client: DaqClient | null = null;
  private selected: string | null = null;
  private logGeneration = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private templates: TemplateInfo[] = [];

  constructor() {
    for (const s of ['stdout', 'stderr']) this.streamSelect.append(new Option(s, s));
    this.streamSelect.onchange = () => this.follow();
    const logBar = el('div', 'daqlab-jobs-logbar');
    logBar.append(this.logHead, this.streamSelect);
    this.node.append(this.clusterBox, this.listBox, logBar, this.logBox, el('h4', '', 'Submit'), this.form, this.message);
  }

  /** The connection is gone: stop following (the owner reconnects and attaches again). */
  detach(): void {
    this.client = null;
    this.logGeneration++;
  }

  /** Show the cluster of a freshly connected client, its jobs, and watch them. */
  async attach(client: DaqClient): Promise<void> {
    this.client = client;
    const info = await client.request<ClusterInfo>('jobs.cluster');
    this.clusterBox.dataset.configured = String(info.configured);
    if (!info.configured) {
      this.clusterBox.textContent = info.message;
      this.listBox.replaceChildren();
      this.form.replaceChildren();
      return;
    }
    const parts = info.partitions.map((p) => `${p.name}${p.default ? '*' : ''}`).join(', ');
    this.clusterBox.textContent = `${info.message} · you are ${info.user}${info.staff ? ' (staff)' : ''} · partitions ${parts}`;
    this.templates = (await client.request<{ templates: TemplateInfo[] }>('jobs.templates')).templates;
    this.buildForm(info);
    client.on('jobs.state', () => this.scheduleRefresh());
    await client.request('jobs.watch');
    await this.refresh();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 200);
  }

  private async refresh(): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    const { jobs } = await client.request<{ jobs: JobInfo[] }>('jobs.list');
    const table = el('table', 'daqlab-jobs-table');
    const head = el('tr');
    for (const h of ['id', 'name', 'state', 'exit', '']) head.append(el('th', '', h));
    table.append(head);
    for (const job of jobs.slice(0, 100)) table.append(this.row(job));
    if (jobs.length === 0) {
      const tr = el('tr');
      const td = el('td', '', 'no jobs yet');
      td.colSpan = 5;
      tr.append(td);
      table.append(tr);
    }
    this.listBox.replaceChildren(table);
  }

  private row(job: JobInfo): HTMLTableRowElement {
    const tr = el('tr', job.id === this.selected ? 'daqlab-jobs-selected' : '');
    tr.dataset.job = job.id;
    const state = el('td', 'daqlab-panel-state', job.held ? `${job.state} (held)` : job.state);
    state.dataset.field = 'state';
    state.dataset.state = job.state;
    state.title = job.reason ?? '';
    const exit = el('td', '', job.exit_code === null ? '' : String(job.exit_code));
    exit.dataset.field = 'exit';
    const actions = el('td', 'daqlab-jobs-actions');
    const button = (op: 'jobs.cancel' | 'jobs.hold' | 'jobs.release', label: string, symbol: string, enabled: boolean) => {
      const b = el('button', `daqlab-jobs-${label}`, symbol);
      b.title = `${label} job ${job.id}`;
      b.disabled = !enabled;
      b.onclick = (ev) => {
        ev.stopPropagation();
        void this.act(op, job.id);
      };
      return b;
    };
    const pending = job.state === 'PENDING';
    actions.append(
      button('jobs.cancel', 'cancel', '✕', !FINAL.has(job.state)),
      button('jobs.hold', 'hold', '❚❚', pending && !job.held),
      button('jobs.release', 'release', '▶', pending && job.held),
    );
    tr.append(el('td', '', job.id), el('td', '', job.name), state, exit, actions);
    tr.onclick = () => {
      this.selected = job.id;
      for (const r of this.listBox.querySelectorAll('tr')) r.classList.toggle('daqlab-jobs-selected', r === tr);
      this.follow();
    };
    return tr;
  }

  private async act(op: 'jobs.cancel' | 'jobs.hold' | 'jobs.release', job: string): Promise<void> {
    try {
      await this.client?.request(op, { job });
      this.say(`${op.slice(5)}: job ${job}`, 'ok');
    } catch (e) {
      this.say((e as Error).message, 'error');
    }
    await this.refresh();
  }

  private say(text: string, state: 'ok' | 'error'): void {
    this.message.textContent = text;
    this.message.dataset.state = state;
  }

  /** Follow the selected job's stream until the job ends or another is selected. */
  private follow(): void {
    const gen = ++this.logGeneration;
    const job = this.selected;
    const stream = this.streamSelect.value;
    if (!job) return;
    this.logHead.textContent = `${stream} of job ${job}`;
    this.logBox.textContent = '';
    void (async () => {
      let offset = 0;
      while (gen === this.logGeneration && this.client?.connected) {
        try {
          const chunk = await this.client.request<{ data: string; offset: number; done: boolean; state: string }>('jobs.logs', {
            job, stream, offset, wait: 10,
          });
          if (gen !== this.logGeneration) return;
          offset = chunk.offset;
          if (chunk.data) this.logBox.textContent += chunk.data;
          this.logHead.textContent = `${stream} of job ${job} · ${chunk.state}`;
          if (chunk.done) return;
        } catch (e) {
          if (gen === this.logGeneration) this.logHead.textContent = `${stream} of job ${job}: ${(e as Error).message}`;
          return;
        }
      }
    })();
  }

  private buildForm(info: ClusterInfo): void {
    const template = el('select', 'daqlab-jobs-template');
    for (const t of this.templates) template.append(new Option(t.name, t.name));
    const partition = el('select', 'daqlab-jobs-partition');
    for (const p of info.partitions) partition.append(new Option(p.name + (p.default ? ' (default)' : ''), p.name, p.default, p.default));
    const time = el('input', 'daqlab-jobs-time');
    time.placeholder = 'time, e.g. 00:10:00';
    const cpus = el('input', 'daqlab-jobs-cpus');
    cpus.type = 'number';
    cpus.min = '1';
    cpus.placeholder = 'cpus';
    const params = el('textarea', 'daqlab-jobs-params');
    params.rows = 4;
    const describe = el('div', 'daqlab-jobs-describe');
    const showTemplate = () => {
      const t = this.templates.find((x) => x.name === template.value);
      if (!t) return;
      describe.textContent = t.description;
      const example: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(t.params)) if (p.required || p.default !== undefined) example[k] = p.default ?? '';
      params.value = JSON.stringify(example, null, 1);
      time.value = t.defaults.time ?? '';
      cpus.value = t.defaults.cpus ? String(t.defaults.cpus) : '';
    };
    template.onchange = showTemplate;
    const submit = el('button', 'daqlab-jobs-submit', 'submit');
    submit.type = 'submit';
    this.form.onsubmit = (ev) => {
      ev.preventDefault();
      void this.submit({ template: template.value, partition: partition.value, time: time.value, cpus: cpus.value, params: params.value });
    };
    this.form.replaceChildren(
      labelled('template', template),
      describe,
      labelled('partition', partition),
      labelled('time', time),
      labelled('cpus', cpus),
      labelled('parameters (JSON)', params),
      submit,
    );
    showTemplate();
  }

  private async submit(f: { template: string; partition: string; time: string; cpus: string; params: string }): Promise<void> {
    let params: unknown;
    try {
      params = f.params.trim() ? JSON.parse(f.params) : {};
    } catch (e) {
      this.say(`parameters: not JSON (${(e as Error).message})`, 'error');
      return;
    }
    const req: Record<string, unknown> = { template: f.template, params };
    if (f.partition) req.partition = f.partition;
    if (f.time.trim()) req.time = f.time.trim();
    if (f.cpus.trim()) req.cpus = Number(f.cpus);
    try {
      const job = await this.client!.request<JobInfo>('jobs.submit', req);
      this.say(`submitted job ${job.id}`, 'ok');
      this.selected = job.id;
      await this.refresh();
      this.follow();
    } catch (e) {
      this.say((e as Error).message, 'error');
    }
  }
}
