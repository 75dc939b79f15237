/**
 * The store bench's load client: etcd's KV.Put and KV.Range as gRPC unary calls written straight
 * on Node's `http2`, one HTTP/2 connection per client object. grpc-js's client machinery (channel,
 * resolver, load balancer, retry buffer, interceptors, channelz) cost about 200 us of CPU per call
 * on this machine, twice what the server spends; the load threads share the two cores with the
 * members, so that CPU was taken from the system under test. This client sends the same requests
 * (same bytes, same deadline) for about half that, to Cairn and to etcd alike.
 *
 * Contract: a call resolves with the response message's bytes when the server ends it with
 * `grpc-status: 0` and exactly one length-prefixed, uncompressed message; otherwise it rejects
 * with a {@link GrpcCallError} (the server's status and message, or a local one for a broken
 * connection, a malformed answer or the deadline). A closed or failed connection is replaced on
 * the next call.
 */
import http2 from 'node:http2';

/** gRPC status codes this client produces itself. */
const INTERNAL = 13;
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
/** A response larger than this is refused (the bench reads one small key). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A failed call: the gRPC status code and message. */
export class GrpcCallError extends Error {
  constructor(
    readonly code: number,
    details: string,
  ) {
    super(`${code} ${details}`);
    this.name = 'GrpcCallError';
  }
}

/** One HTTP/2 connection to an etcd API endpoint (`host:port` or `http://host:port`). */
export class H2KvClient {
  private readonly authority: string;
  private session: http2.ClientHttp2Session | undefined;

  constructor(endpoint: string) {
    this.authority = `http://${endpoint.replace(/^https?:\/\//, '')}`;
  }

  /** KV.Put with an encoded PutRequest; resolves with the encoded PutResponse. */
  put(request: Buffer, deadlineMs: number): Promise<Buffer> {
    return this.unary('/etcdserverpb.KV/Put', request, deadlineMs);
  }

  /** KV.Range with an encoded RangeRequest; resolves with the encoded RangeResponse. */
  range(request: Buffer, deadlineMs: number): Promise<Buffer> {
    return this.unary('/etcdserverpb.KV/Range', request, deadlineMs);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    const s = this.session;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    const fresh = http2.connect(this.authority);
    // Failures reach the calls through their streams; the session's own error must not throw.
    fresh.on('error', () => {});
    fresh.once('close', () => {
      if (this.session === fresh) this.session = undefined;
    });
    this.session = fresh;
    return fresh;
  }

  private unary(path: string, message: Buffer, deadlineMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.connection().request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(deadlineMs))}m`,
        });
      } catch (err) {
        reject(new GrpcCallError(UNAVAILABLE, err instanceof Error ? err.message : String(err)));
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      let status: string | undefined;
      let details = '';
      let failure: GrpcCallError | undefined;
      const timer = setTimeout(() => {
        failure = new GrpcCallError(DEADLINE_EXCEEDED, 'deadline exceeded');
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, deadlineMs);
      const readStatus = (h: http2.IncomingHttpHeaders): void => {
        const s = h['grpc-status'];
        if (typeof s === 'string') {
          status = s;
          const m = h['grpc-message'];
          details = typeof m === 'string' ? decodeURIComponent(m) : '';
        }
      };
      stream.on('response', readStatus);
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_RESPONSE_BYTES) {
          failure ??= new GrpcCallError(INTERNAL, 'response too large');
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (err: Error) => {
        failure ??= new GrpcCallError(UNAVAILABLE, err.message);
      });
      stream.once('close', () => {
        clearTimeout(timer);
        if (failure !== undefined) return reject(failure);
        if (status === undefined)
          return reject(
            new GrpcCallError(UNAVAILABLE, `stream closed without a status (rst ${stream.rstCode})`),
          );
        if (status !== '0') return reject(new GrpcCallError(Number(status), details));
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
        if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5)
          return reject(new GrpcCallError(INTERNAL, 'malformed response framing'));
        resolve(body.subarray(5));
      });
      stream.end(frame);
    });
  }
}
