import type { Logger } from 'pino';
import { ErrorCode, TrellisError } from '../errors';
import { applyMapResponse, MapDeltaMismatch } from '../netmap/delta';
import { FilterPatchMismatch } from '../netmap/filter-patch';
import type { MapResponse, NetworkMapData } from '../netmap/types';
import type { NodeKeyState } from '../wire';
import { Backoff, sleep, type BackoffOptions } from './backoff';
import type { MapCache } from './map-cache';
import { invalidMap } from './map-cache';
import type { SseEvent } from './sse-parser';

/** MapStreamSource is the part of ControllerClient a MapSession needs. */
export interface MapStreamSource {
  streamMap(since: number | null, epoch: string | null, signal: AbortSignal): AsyncIterable<SseEvent>;
}

export interface MapSessionOptions {
  client: MapStreamSource;
  cache: MapCache;
  log: Logger;
  /** Called with every newly applied map, after it was persisted. */
  onMap: (map: NetworkMapData) => void;
  /** Called once when the controller answers NODE_REVOKED, NODE_EXPIRED or IDENTITY_EXPIRED; the session has stopped. */
  onRevoked?: (err: TrellisError) => Promise<void> | void;
  /** Called when the connection state changes. */
  onConnection?: (connected: boolean, lastError: string | null) => void;
  /** Called with the node's NodeKeyState (`event: key`): first on each connection, then on each change. */
  onKeyState?: (state: NodeKeyState) => void;
  backoff?: BackoffOptions;
}

const TERMINAL = new Set<string>([ErrorCode.NODE_REVOKED, ErrorCode.NODE_EXPIRED, ErrorCode.IDENTITY_EXPIRED]);

/**
 * MapSession keeps this node's NetworkMap current: it follows the controller's map stream,
 * applies full maps and deltas, persists each result, and reconnects by itself with backoff.
 * A delta that does not fit the local map triggers a reconnect asking for a full map.
 */
export class MapSession {
  private map: NetworkMapData | null = null;
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private needFull = false;
  private _connected = false;
  private _lastError: string | null = null;
  private _revoked = false;

  constructor(private readonly opts: MapSessionOptions) {
    this.backoff = new Backoff(opts.backoff);
  }

  get current(): NetworkMapData | null {
    return this.map;
  }
  get connected(): boolean {
    return this._connected;
  }
  get lastError(): string | null {
    return this._lastError;
  }
  get revoked(): boolean {
    return this._revoked;
  }

  /** loadCache makes the cached map current (without calling onMap) and returns it. */
  async loadCache(): Promise<NetworkMapData | null> {
    const cached = await this.opts.cache.load((why) => this.opts.log.warn({ file: this.opts.cache.file, why }, 'ignoring unusable map cache'));
    if (cached) this.map = cached;
    return cached;
  }

  /** seed applies a full map obtained out of band (the enrollment answer). */
  async seed(map: NetworkMapData): Promise<void> {
    await this.apply({ kind: 'full', map });
  }

  /** apply applies one response, persists and publishes the result; throws MapDeltaMismatch or on bad data. */
  async apply(res: MapResponse): Promise<NetworkMapData> {
    if (!res || (res.kind !== 'full' && res.kind !== 'delta')) throw new TypeError('map response kind must be "full" or "delta"');
    if (res.kind === 'delta' && (!Array.isArray(res.peersUpserted) || !Array.isArray(res.peersRemoved))) {
      throw new TypeError('map delta must carry peersUpserted and peersRemoved arrays');
    }
    const next = applyMapResponse(this.map, res);
    const why = invalidMap(next);
    if (why) throw new TypeError(`map response gives an unusable map: ${why}`);
    this.map = next;
    try {
      await this.opts.cache.save(next);
    } catch (err) {
      this.opts.log.error({ err, file: this.opts.cache.file }, 'could not write the map cache; the mesh is not affected');
    }
    this.opts.onMap(next);
    return next;
  }

  /** start runs the stream loop in the background until stop() or a revocation. */
  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    this.setConnected(false, this._lastError);
  }

  private setConnected(connected: boolean, lastError: string | null): void {
    if (connected === this._connected && lastError === this._lastError) return;
    this._connected = connected;
    this._lastError = lastError;
    this.opts.onConnection?.(connected, lastError);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let resyncs = 0;
    while (!signal.aborted) {
      const full = this.needFull || !this.map;
      this.needFull = false;
      let resync = false;
      try {
        const stream = this.opts.client.streamMap(full ? null : this.map!.version, full ? null : this.map!.epoch, signal);
        for await (const ev of stream) {
          if (signal.aborted) break;
          this.setConnected(true, null);
          if (ev.event === 'key') {
            this.keyEvent(ev.data);
            continue;
          }
          if (ev.event !== 'map') continue;
          try {
            await this.apply(JSON.parse(ev.data) as MapResponse);
            resyncs = 0;
            this.backoff.reset();
          } catch (err) {
            this.needFull = true;
            resync = true;
            const mismatch = err instanceof MapDeltaMismatch || err instanceof FilterPatchMismatch;
            resyncs++;
            this.opts.log.warn({ err: (err as Error).message }, mismatch ? 'map delta does not fit; asking for a full map' : 'bad map response; asking for a full map');
            break;
          }
        }
        if (signal.aborted) break;
        this.setConnected(false, resync ? this._lastError : 'map stream closed by the controller');
      } catch (err) {
        if (signal.aborted) break;
        const msg = err instanceof Error ? err.message : String(err);
        this.setConnected(false, msg);
        if (err instanceof TrellisError && TERMINAL.has(err.code)) {
          await this.revoke(err);
          return;
        }
        this.opts.log.warn({ code: (err as TrellisError).code, err: msg }, 'map stream failed; retrying');
      }
      // One immediate retry after a failed response; anything else (or repeated failures) backs off.
      if (resync && resyncs <= 1) continue;
      await sleep(this.backoff.next(), signal);
    }
  }

  private keyEvent(data: string): void {
    let state: NodeKeyState;
    try {
      state = JSON.parse(data) as NodeKeyState;
    } catch {
      this.opts.log.warn('the controller sent a key event that is not JSON; ignored');
      return;
    }
    if (typeof state?.wgKey !== 'string' || typeof state.rotationDueAt !== 'number') {
      this.opts.log.warn('the controller sent a key event without wgKey and rotationDueAt; ignored');
      return;
    }
    try {
      this.opts.onKeyState?.(state);
    } catch (err) {
      this.opts.log.error({ err }, 'key state handler failed');
    }
  }

  private async revoke(err: TrellisError): Promise<void> {
    this._revoked = true;
    this.opts.log.error({ code: err.code }, `${err.message}; clearing the cached map and the tunnels`);
    this.map = null;
    await this.opts.cache.clear().catch((e) => this.opts.log.error({ err: e }, 'could not remove the map cache'));
    try {
      await this.opts.onRevoked?.(err);
    } catch (e) {
      this.opts.log.error({ err: e }, 'revocation handler failed');
    }
  }
}
