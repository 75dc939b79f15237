/**
 * The store's errors, named after etcd's (server/etcdserver/api/v3rpc/rpctypes), so the gRPC layer
 * answers with etcd's status code and message and `etcdctl` prints what its users expect.
 */

/** gRPC status codes used by etcd's errors (numeric values of grpc's `Status`). */
export const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** etcd's errors: name → [gRPC code, message]. The message is etcd's, byte for byte. */
export const ETCD_ERRORS = {
  emptyKey: [GRPC.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
  keyNotFound: [GRPC.INVALID_ARGUMENT, 'etcdserver: key not found'],
  valueProvided: [GRPC.INVALID_ARGUMENT, 'etcdserver: value is provided'],
  leaseProvided: [GRPC.INVALID_ARGUMENT, 'etcdserver: lease is provided'],
  tooManyOps: [GRPC.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'],
  duplicateKey: [GRPC.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'],
  compacted: [GRPC.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
  futureRev: [GRPC.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
  noSpace: [GRPC.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
  leaseNotFound: [GRPC.NOT_FOUND, 'etcdserver: requested lease not found'],
  leaseExist: [GRPC.FAILED_PRECONDITION, 'etcdserver: lease already exists'],
  leaseTTLTooLarge: [GRPC.OUT_OF_RANGE, 'etcdserver: too large lease TTL'],
  memberExist: [GRPC.FAILED_PRECONDITION, 'etcdserver: member ID already exist'],
  peerURLExist: [GRPC.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'],
  memberNotEnoughStarted: [
    GRPC.FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ],
  memberBadURLs: [GRPC.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'],
  memberNotFound: [GRPC.NOT_FOUND, 'etcdserver: member not found'],
  memberNotLearner: [GRPC.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'],
  learnerNotReady: [
    GRPC.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ],
  tooManyLearners: [GRPC.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'],
  requestTooLarge: [GRPC.INVALID_ARGUMENT, 'etcdserver: request is too large'],
  tooManyRequests: [GRPC.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'],
  permissionDenied: [GRPC.PERMISSION_DENIED, 'etcdserver: permission denied'],
  invalidAuthToken: [GRPC.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
  userEmpty: [GRPC.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
  authNotEnabled: [GRPC.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'],
  authFailed: [GRPC.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'],
  noLeader: [GRPC.UNAVAILABLE, 'etcdserver: no leader'],
  notLeader: [GRPC.FAILED_PRECONDITION, 'etcdserver: not leader'],
  leaderChanged: [GRPC.UNAVAILABLE, 'etcdserver: leader changed'],
  notCapable: [GRPC.UNAVAILABLE, 'etcdserver: not capable'],
  stopped: [GRPC.UNAVAILABLE, 'etcdserver: server stopped'],
  timeout: [GRPC.UNAVAILABLE, 'etcdserver: request timed out'],
  timeoutDueToLeaderFail: [
    GRPC.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ],
  timeoutDueToConnectionLost: [
    GRPC.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ],
  unhealthy: [GRPC.UNAVAILABLE, 'etcdserver: unhealthy cluster'],
  corrupt: [GRPC.DATA_LOSS, 'etcdserver: corrupt cluster'],
  notSupportedForLearner: [GRPC.UNAVAILABLE, 'etcdserver: rpc not supported for learner'],
  badLeaderTransferee: [GRPC.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'],
  invalidArgument: [GRPC.INVALID_ARGUMENT, 'etcdserver: invalid argument'],
} as const satisfies Record<string, readonly [number, string]>;

/** The name of one of etcd's errors. */
export type EtcdErrorName = keyof typeof ETCD_ERRORS;

/**
 * An error of the store: `etcd` names etcd's error; `message` is etcd's message, with a detail
 * appended after a colon only where etcd itself appends one (for `invalidArgument`).
 */
export class StoreError extends Error {
  /** The gRPC status code etcd answers with. */
  readonly grpcCode: number;

  constructor(
    readonly etcd: EtcdErrorName,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    const [code, message] = ETCD_ERRORS[etcd];
    super(detail === undefined ? message : `${message}: ${detail}`, options);
    this.name = 'StoreError';
    this.grpcCode = code;
  }
}

/** True when `err` is a {@link StoreError} named `name` (any name when omitted). */
export function isStoreError(err: unknown, name?: EtcdErrorName): err is StoreError {
  return err instanceof StoreError && (name === undefined || err.etcd === name);
}
