import type { PackageDefinition } from '@grpc/proto-loader';

/**
 * A structural scan of protobuf wire bytes against the message types of a package definition.
 *
 * protobufjs (under proto-loader) silently drops fields a message type does not declare, and
 * tolerates some malformed input. etcd's API is a contract: a client sending a field Cairn does
 * not implement must hear so rather than have it ignored (a `prev_kv` or a filter dropped on the
 * floor is a silent wrong answer). So every request is scanned before it is decoded: each tag
 * must name a declared field with a matching wire type, every length must fit, nested messages
 * are scanned recursively (to a bounded depth), and the scan never throws.
 */

/** What a scan found wrong, or `undefined` when the bytes are a well-formed known message. */
export type ScanProblem =
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'unknownField'; readonly reason: string };

interface FieldShape {
  readonly wireTypes: readonly number[];
  /** Full name of the nested message type, for message fields. */
  readonly messageType?: string;
}

/** Field layout of every message type of a package, by full name (`etcdserverpb.RangeRequest`). */
export type MessageSchemas = ReadonlyMap<string, ReadonlyMap<number, FieldShape>>;

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const VARINT_TYPES = new Set([
  'TYPE_INT64',
  'TYPE_UINT64',
  'TYPE_INT32',
  'TYPE_UINT32',
  'TYPE_SINT32',
  'TYPE_SINT64',
  'TYPE_BOOL',
  'TYPE_ENUM',
]);
const FIXED64_TYPES = new Set(['TYPE_FIXED64', 'TYPE_SFIXED64', 'TYPE_DOUBLE']);
const FIXED32_TYPES = new Set(['TYPE_FIXED32', 'TYPE_SFIXED32', 'TYPE_FLOAT']);

interface DescriptorField {
  readonly number: number;
  readonly type: string;
  readonly typeName: string;
  readonly label: string;
}

function fieldShape(f: DescriptorField, pkg: string, known: ReadonlySet<string>): FieldShape {
  const repeated = f.label === 'LABEL_REPEATED';
  let scalar: number;
  if (VARINT_TYPES.has(f.type)) scalar = VARINT;
  else if (FIXED64_TYPES.has(f.type)) scalar = FIXED64;
  else if (FIXED32_TYPES.has(f.type)) scalar = FIXED32;
  else if (f.type === 'TYPE_MESSAGE') {
    const name = f.typeName.replace(/^\./, '');
    const full = known.has(`${pkg}.${name}`) ? `${pkg}.${name}` : name;
    return { wireTypes: [LENGTH_DELIMITED], messageType: full };
  } else return { wireTypes: [LENGTH_DELIMITED] }; // bytes, string
  // A repeated scalar may arrive packed (one length-delimited run) or one tag per value.
  return { wireTypes: repeated ? [scalar, LENGTH_DELIMITED] : [scalar] };
}

/** Builds the field layouts of every message type in `definition`. */
export function messageSchemas(definition: PackageDefinition): MessageSchemas {
  const known = new Set<string>();
  for (const [name, entry] of Object.entries(definition))
    if ('format' in entry && entry.format === 'Protocol Buffer 3 DescriptorProto') known.add(name);
  const out = new Map<string, Map<number, FieldShape>>();
  for (const name of known) {
    const entry = definition[name] as { type: { field: readonly DescriptorField[] } };
    const pkg = name.slice(0, name.lastIndexOf('.'));
    const fields = new Map<number, FieldShape>();
    for (const f of entry.type.field) fields.set(f.number, fieldShape(f, pkg, known));
    out.set(name, fields);
  }
  return out;
}

/** Reads a varint at `pos`; returns [value, next position] or undefined when malformed. */
function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return undefined;
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
  return undefined;
}

class Scanner {
  constructor(
    private readonly schemas: MessageSchemas,
    private readonly maxDepth: number,
  ) {}

  scan(buf: Uint8Array, start: number, end: number, type: string, depth: number): ScanProblem | undefined {
    if (depth > this.maxDepth)
      return { kind: 'malformed', reason: `messages nested deeper than ${this.maxDepth}` };
    const fields = this.schemas.get(type);
    if (fields === undefined) return { kind: 'malformed', reason: `unknown message type ${type}` };
    let pos = start;
    while (pos < end) {
      const tag = readVarint(buf, pos, end);
      if (tag === undefined) return { kind: 'malformed', reason: `truncated tag in ${type}` };
      pos = tag[1];
      const number = Math.floor(tag[0] / 8);
      const wire = tag[0] % 8;
      if (number === 0) return { kind: 'malformed', reason: `field number 0 in ${type}` };
      const shape = fields.get(number);
      if (shape === undefined) return { kind: 'unknownField', reason: `unknown field ${number} in ${type}` };
      if (!shape.wireTypes.includes(wire)) {
        return { kind: 'malformed', reason: `field ${number} of ${type} has wire type ${wire}` };
      }
      const next = this.skip(buf, pos, end, wire);
      if (next === undefined) return { kind: 'malformed', reason: `truncated field ${number} in ${type}` };
      if (shape.messageType !== undefined) {
        const inner = this.scan(buf, next[0], next[1], shape.messageType, depth + 1);
        if (inner !== undefined) return inner;
      }
      pos = next[1];
    }
    return undefined;
  }

  /** The value's [start, end) positions. */
  private skip(buf: Uint8Array, pos: number, end: number, wire: number): [number, number] | undefined {
    switch (wire) {
      case VARINT: {
        const v = readVarint(buf, pos, end);
        return v === undefined ? undefined : [pos, v[1]];
      }
      case FIXED64:
        return pos + 8 <= end ? [pos, pos + 8] : undefined;
      case FIXED32:
        return pos + 4 <= end ? [pos, pos + 4] : undefined;
      case LENGTH_DELIMITED: {
        const len = readVarint(buf, pos, end);
        if (len === undefined || len[0] > end - len[1]) return undefined;
        return [len[1], len[1] + len[0]];
      }
      default:
        return undefined;
    }
  }
}

/**
 * Scans `bytes` as a message of `type`. Never throws.
 *
 * @param maxDepth - how deep nested messages are followed; deeper input is malformed
 * @example
 * ```ts
 * const problem = scanMessage(schemas, 'etcdserverpb.RangeRequest', bytes, 32);
 * if (problem?.kind === 'unknownField') refuse(problem.reason);
 * ```
 */
export function scanMessage(
  schemas: MessageSchemas,
  type: string,
  bytes: Uint8Array,
  maxDepth: number,
): ScanProblem | undefined {
  return new Scanner(schemas, maxDepth).scan(bytes, 0, bytes.length, type, 0);
}
