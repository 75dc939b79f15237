/**
 * `cairn/lab`: test tooling for checking distributed systems (the fault lab builds on it).
 * For now: the linearizability checker and its history recorder.
 *
 * @packageDocumentation
 */
export * from './lincheck/index.js';
