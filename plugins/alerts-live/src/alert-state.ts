import type { Observation } from './rules';

/** What a webhook receives about one alert instance (times are ISO 8601). */
export interface WebhookAlert {
  uid: string;
  title: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  startsAt: string;
  endsAt?: string;
}

export interface AlertEvent {
  status: 'firing' | 'resolved';
  alert: WebhookAlert;
}

/** An alert instance that is breaching now: pending until its "for" duration has held, then firing. */
export interface ActiveAlert {
  key: string;
  uid: string;
  title: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  state: 'pending' | 'firing';
  pendingSince: number;
  /** When it started firing; null while pending. */
  startsAt: number | null;
  forSeconds: number;
}

export interface ResolvedAlert {
  key: string;
  uid: string;
  title: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  startsAt: number;
  endsAt: number;
}

/** instanceKey identifies an alert instance: rule uid plus its sorted labels. */
export function instanceKey(uid: string, labels: Record<string, string>): string {
  return `${uid}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * AlertStateMachine applies Grafana's semantics to each evaluation: a breaching instance is pending
 * until it has breached for forSeconds, then firing (one firing event); when it stops breaching, or
 * is no longer observed at all, a firing instance resolves (one resolved event) and a pending one
 * is dropped silently. Events are therefore deduplicated per instance by construction.
 */
export class AlertStateMachine {
  private readonly active = new Map<string, ActiveAlert>();
  private readonly resolved: ResolvedAlert[] = [];

  constructor(private readonly recentLimit = 500) {}

  update(observations: readonly Observation[], now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    for (const o of observations) {
      const key = instanceKey(o.uid, o.labels);
      if (!o.breaching) continue;
      seen.add(key);
      let a = this.active.get(key);
      if (!a) {
        a = { key, uid: o.uid, title: o.title, labels: o.labels, value: o.value, threshold: o.threshold, state: 'pending', pendingSince: now, startsAt: null, forSeconds: o.forSeconds };
        this.active.set(key, a);
      }
      a.value = o.value;
      a.threshold = o.threshold;
      a.forSeconds = o.forSeconds;
      if (a.state === 'pending' && now - a.pendingSince >= o.forSeconds * 1000) {
        a.state = 'firing';
        a.startsAt = now;
        events.push({ status: 'firing', alert: this.toWebhook(a) });
      }
    }
    for (const [key, a] of this.active) {
      if (seen.has(key)) continue;
      this.active.delete(key);
      if (a.state !== 'firing') continue;
      const r: ResolvedAlert = { key, uid: a.uid, title: a.title, labels: a.labels, value: this.lastValue(observations, key) ?? a.value, threshold: a.threshold, startsAt: a.startsAt!, endsAt: now };
      this.resolved.unshift(r);
      if (this.resolved.length > this.recentLimit) this.resolved.length = this.recentLimit;
      events.push({ status: 'resolved', alert: { ...this.toWebhook({ ...a, value: r.value }), endsAt: iso(now) } });
    }
    return events;
  }

  private lastValue(observations: readonly Observation[], key: string): number | null {
    const o = observations.find((x) => instanceKey(x.uid, x.labels) === key);
    return o ? o.value : null;
  }

  private toWebhook(a: ActiveAlert): WebhookAlert {
    return { uid: a.uid, title: a.title, labels: { ...a.labels }, value: a.value, threshold: a.threshold, startsAt: iso(a.startsAt ?? a.pendingSince) };
  }

  activeAlerts(): ActiveAlert[] {
    return [...this.active.values()].sort((a, b) => (a.state === b.state ? a.key.localeCompare(b.key) : a.state === 'firing' ? -1 : 1));
  }

  recent(limit = this.recentLimit): ResolvedAlert[] {
    return this.resolved.slice(0, limit);
  }
}
