/**
 * SseParser turns a byte stream of Server-Sent Events into events. Chunks may split anywhere:
 * inside a line, between CR and LF, or inside a multi-byte UTF-8 character.
 */
export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  /** `data:` lines joined with "\n". */
  data: string;
  id?: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private eventName = '';
  private dataLines: string[] = [];
  private hasData = false;
  private id: string | undefined;

  /** push feeds one chunk and returns the events it completed. */
  push(chunk: Uint8Array | string): SseEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  /** end flushes the decoder; an event without its closing blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    this.buffer += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    const b = this.buffer;
    let start = 0;
    // Line ends found with indexOf (a map event is one long data line): the next LF and next CR.
    let lf = b.indexOf('\n');
    let cr = b.indexOf('\r');
    for (;;) {
      if (lf !== -1 && lf < start) lf = b.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = b.indexOf('\r', start);
      const i = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (i === -1) break;
      if (i === cr && i === b.length - 1 && !final) break; // LF may follow in the next chunk
      const line = b.slice(start, i);
      start = i === cr && i + 1 === lf ? i + 2 : i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer = start === 0 ? b : b.slice(start);
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventName = value;
    else if (field === 'data') {
      this.dataLines.push(value);
      this.hasData = true;
    } else if (field === 'id') this.id = value;
    return null;
  }

  private dispatch(): SseEvent | null {
    const ev: SseEvent | null = this.hasData
      ? { event: this.eventName || 'message', data: this.dataLines.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) }
      : null;
    this.eventName = '';
    this.dataLines = [];
    this.hasData = false;
    return ev;
  }
}
