// Per-call audio-quality charts: MOS, packet loss, jitter and round-trip time over time, one
// line per channel, from the call's AUDIO_STATS (history first, then live).

import {
  CategoryScale, Chart, Filler, LineController, LineElement, LinearScale, PointElement, Tooltip,
} from 'chart.js';
import { clock } from './format.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Filler);

/** The four charts: the point field each plots, and fixed axis bounds where they help. */
const METRICS = [
  { id: 'mos', field: 'mos', label: 'MOS', min: 1, max: 4.5, digits: 2 },
  { id: 'loss', field: 'lossPct', label: 'Packet loss %', min: 0, suggestedMax: 5, digits: 1 },
  { id: 'jitter', field: 'jitter', label: 'Jitter (ms)', min: 0, suggestedMax: 60, digits: 0 },
  { id: 'rtt', field: 'rtt', label: 'RTT (ms)', min: 0, suggestedMax: 300, digits: 0 },
];
const COLORS = { input: '#0b5cad', output: '#e07b00' };
const LABELS = { input: 'received', output: 'sent' };

export class Quality {
  constructor({ canvases, empty, title, store }) {
    this.store = store;
    this.empty = empty;
    this.title = title;
    this.callId = null;
    /** id → Chart instance (read by the browser tests through window.voicetkConsole). */
    this.charts = {};
    for (const m of METRICS) {
      this.charts[m.id] = new Chart(canvases[m.id], {
        type: 'line',
        data: {
          datasets: ['input', 'output'].map((channel) => ({
            label: LABELS[channel],
            data: [],
            borderColor: COLORS[channel],
            backgroundColor: COLORS[channel],
            borderWidth: 1.5,
            // Dashed, so a 'sent' line that equals 'received' still shows.
            borderDash: channel === 'output' ? [5, 3] : [],
            pointRadius: 1.5,
            tension: 0.25,
            spanGaps: true,
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          normalized: true,
          interaction: { mode: 'nearest', axis: 'x', intersect: false },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                title: (items) => (items.length ? clock(items[0].parsed.x) : ''),
                label: (item) => `${item.dataset.label}: ${item.parsed.y.toFixed(m.digits)}`,
              },
            },
          },
          scales: {
            x: {
              type: 'linear',
              ticks: { maxTicksLimit: 5, callback: (v) => clock(v), font: { size: 10 } },
              grid: { color: '#eef1f5' },
            },
            y: {
              min: m.min,
              max: m.max,
              suggestedMax: m.suggestedMax,
              ticks: { maxTicksLimit: 5, font: { size: 10 } },
              // MOS: whole steps only; a 4.5 tick (the ceiling) would crowd out the 4.
              afterBuildTicks: m.id === 'mos'
                ? (axis) => { axis.ticks = [1, 2, 3, 4].map((value) => ({ value })); }
                : undefined,
              grid: { color: '#eef1f5' },
            },
          },
        },
      });
    }
    store.on('audio', (callId) => { if (callId === this.callId) this.refresh(); });
  }

  /** Shows `callId` (null: nothing). */
  show(callId) {
    this.callId = callId || null;
    this.refresh();
  }

  refresh() {
    const series = (this.callId && this.store.audio.get(this.callId)) || { input: [], output: [] };
    for (const m of METRICS) {
      const chart = this.charts[m.id];
      ['input', 'output'].forEach((channel, i) => {
        chart.data.datasets[i].data = series[channel]
          .filter((p) => typeof p[m.field] === 'number')
          .map((p) => ({ x: p.t, y: p[m.field] }));
      });
      chart.update('none');
    }
    this.empty.hidden = series.input.length + series.output.length > 0;
  }
}
