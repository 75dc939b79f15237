import { createSocket, type Socket } from 'node:dgram';

/** One record the tiny DNS server answers with. */
export type ZoneRecord =
  | { type: 'A'; ip: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string };

/** How the server answers: normally, with SERVFAIL, or with bytes that are not a DNS message. */
export type ServerMode = 'answer' | 'servfail' | 'garbage';

const TYPE_A = 1;
const TYPE_SRV = 33;

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (label.length === 0) continue;
    out.push(label.length);
    for (let i = 0; i < label.length; i++) out.push(label.charCodeAt(i));
  }
  out.push(0);
  return out;
}

/**
 * A DNS server on 127.0.0.1 UDP that knows a few A and SRV records, for tests of DnsDiscovery
 * through Node's real resolver (`Resolver.setServers(['127.0.0.1:PORT'])`). Answers are encoded by
 * hand: header, the question copied back, then one resource record per answer with the name
 * compressed to a pointer at the question (0xC00C).
 */
export class TinyDnsServer {
  /** Records by lower-cased name and type. */
  readonly zone = new Map<string, ZoneRecord[]>();
  mode: ServerMode = 'answer';
  queries = 0;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<TinyDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new TinyDnsServer(socket, socket.address().port);
    socket.on('message', (msg, rinfo) => {
      const reply = server.answer(msg);
      if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
    });
    return server;
  }

  /** `127.0.0.1:PORT`, for `setServers`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, type: 'A' | 'SRV', records: ZoneRecord[]): void {
    this.zone.set(`${name.toLowerCase()}/${type}`, records);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Buffer): Uint8Array | undefined {
    this.queries++;
    if (query.length < 12) return undefined;
    if (this.mode === 'garbage')
      return new Uint8Array([query[0]!, query[1]!, 0x81, 0x80, 0xff, 0xff, 1, 2, 3]);
    const view = new DataView(query.buffer, query.byteOffset, query.byteLength);
    // Question: labels from offset 12 up to the zero byte, then QTYPE and QCLASS.
    let at = 12;
    const labels: string[] = [];
    while (at < query.length && query[at] !== 0) {
      const len = query[at]!;
      labels.push(query.subarray(at + 1, at + 1 + len).toString('latin1'));
      at += 1 + len;
    }
    at += 1;
    if (at + 4 > query.length) return undefined;
    const qtype = view.getUint16(at);
    const questionEnd = at + 4;
    const name = labels.join('.').toLowerCase();
    const typeName = qtype === TYPE_A ? 'A' : qtype === TYPE_SRV ? 'SRV' : '?';
    const records = this.mode === 'servfail' ? [] : (this.zone.get(`${name}/${typeName}`) ?? []);
    const rcode = this.mode === 'servfail' ? 2 : this.zone.has(`${name}/${typeName}`) ? 0 : 3;

    const rrs = records.map((r) => this.encodeRecord(r));
    const size = questionEnd + rrs.reduce((n, rr) => n + rr.length, 0);
    const out = new Uint8Array(size);
    const w = new DataView(out.buffer);
    w.setUint16(0, view.getUint16(0)); // id
    w.setUint16(2, 0x8180 | rcode); // QR, RD, RA
    w.setUint16(4, 1); // QDCOUNT
    w.setUint16(6, rrs.length); // ANCOUNT
    w.setUint16(8, 0);
    w.setUint16(10, 0);
    out.set(query.subarray(12, questionEnd), 12);
    let offset = questionEnd;
    for (const rr of rrs) {
      out.set(rr, offset);
      offset += rr.length;
    }
    return out;
  }

  private encodeRecord(r: ZoneRecord): Uint8Array {
    const rdata: number[] =
      r.type === 'A'
        ? r.ip.split('.').map(Number)
        : [
            r.priority >> 8,
            r.priority & 0xff,
            r.weight >> 8,
            r.weight & 0xff,
            r.port >> 8,
            r.port & 0xff,
            ...encodeName(r.target),
          ];
    const rr = new Uint8Array(12 + rdata.length);
    const w = new DataView(rr.buffer);
    w.setUint16(0, 0xc00c); // pointer to the question's name
    w.setUint16(2, r.type === 'A' ? TYPE_A : TYPE_SRV);
    w.setUint16(4, 1); // IN
    w.setUint32(6, 60); // TTL
    w.setUint16(10, rdata.length);
    rr.set(rdata, 12);
    return rr;
  }
}
