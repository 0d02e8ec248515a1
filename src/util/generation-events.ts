/**
 * The JSON lines a generation is written as, one vocabulary for every command that streams tokens
 * (`generate --format jsonl` on this machine, `monitor --json` from a board), so that a script
 * written against one reads the other. doc/events.md describes the schema; `v` is its version,
 * raised when a field changes meaning or goes away (new fields may be added within a version).
 */
import { terminalSafeJson } from './printable.js';

export const EVENT_SCHEMA_VERSION = 1;

/** How a generation ended: the steps ran out, the model sampled BOS, the user cancelled, the device reported an error. */
export type EndReason = 'steps' | 'bos' | 'cancelled' | 'error' | 'unknown';

/** One position of the sequence: position 0 is BOS, then the prompt's tokens, then the sampled ones. */
export interface TokenEvent {
  position: number;
  token: number;
  /** False while the token is forced by the prompt. */
  generated: boolean;
  /** The text this token adds (empty for BOS and for bytes that do not yet make a character). */
  text: string;
  /** Microseconds the device spent on this position (monitor only: the board's own timer). */
  us?: number;
  /** ISO time the line was written (with --timestamp). */
  time?: string;
}

/** The last line of a generation. */
export interface SummaryEvent {
  reason: EndReason;
  /** Forward passes after the first (positions after 0). */
  tokens: number;
  /** Of which sampled. */
  generated: number;
  tokensPerSecond: number;
  /** The whole text, prompt included. */
  text: string;
  /** Fields only one source has (the device's timings and identity; the engine's load time). */
  [extra: string]: unknown;
}

/** A token as one JSON line, fields in the documented order. */
export function tokenEventLine(e: TokenEvent): string {
  const line: Record<string, unknown> = {
    v: EVENT_SCHEMA_VERSION,
    type: 'token',
    position: e.position,
    token: e.token,
    generated: e.generated,
    text: e.text,
  };
  if (e.us !== undefined) line.us = e.us;
  if (e.time !== undefined) line.time = e.time;
  return `${terminalSafeJson(line)}\n`;
}

/** The summary as one JSON line; tok/s to three decimals, whoever measured it. */
export function summaryEventLine(e: SummaryEvent): string {
  const { reason, tokens, generated, tokensPerSecond, text, ...extra } = e;
  const rate = Math.round(tokensPerSecond * 1000) / 1000;
  const line = { v: EVENT_SCHEMA_VERSION, type: 'summary', reason, tokens, generated, tokensPerSecond: rate, text, ...extra };
  return `${terminalSafeJson(line)}\n`;
}
